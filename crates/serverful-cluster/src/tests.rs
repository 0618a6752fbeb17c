use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::{acquire, ClusterError, LeaseTiming, Leases, SingleNode};

type Table = Arc<Mutex<HashMap<String, (String, Instant)>>>;

/// Leases in memory shared by "nodes" of one test, with an outage switch per node.
struct MemoryLeases {
    table: Table,
    owner: String,
    cut_off: AtomicBool,
}

impl MemoryLeases {
    fn node(table: &Table, owner: &str) -> Arc<MemoryLeases> {
        Arc::new(MemoryLeases {
            table: table.clone(),
            owner: owner.to_owned(),
            cut_off: AtomicBool::new(false),
        })
    }
}

impl Leases for MemoryLeases {
    fn hold(&self, name: &str, ttl: Duration) -> Result<bool, ClusterError> {
        if self.cut_off.load(Ordering::SeqCst) {
            return Err(ClusterError("unreachable".into()));
        }
        let mut table = self.table.lock().expect("lock");
        let now = Instant::now();
        match table.get(name) {
            Some((owner, expires)) if owner != &self.owner && *expires > now => Ok(false),
            _ => {
                table.insert(name.to_owned(), (self.owner.clone(), now + ttl));
                Ok(true)
            }
        }
    }

    fn release(&self, name: &str) -> Result<(), ClusterError> {
        let mut table = self.table.lock().expect("lock");
        if table
            .get(name)
            .is_some_and(|(owner, _)| owner == &self.owner)
        {
            table.remove(name);
        }
        Ok(())
    }
}

const TIMING: LeaseTiming = LeaseTiming {
    ttl: Duration::from_millis(600),
    renew_every: Duration::from_millis(100),
};

#[tokio::test]
async fn one_node_holds_a_lease_and_another_takes_it_once_the_first_is_cut_off() {
    let table = Table::default();
    let (first, second) = (
        MemoryLeases::node(&table, "a"),
        MemoryLeases::node(&table, "b"),
    );
    let (_stop, mut stopped) = watch::channel(false);
    let mut held = acquire(first.clone(), "shard", TIMING, &mut stopped)
        .await
        .expect("the first node takes it");

    // The second waits while the first renews (well past one lease length).
    let second_try = {
        let second: Arc<dyn Leases> = second.clone();
        let mut stopped = stopped.clone();
        tokio::spawn(async move { acquire(second, "shard", TIMING, &mut stopped).await })
    };
    tokio::time::sleep(TIMING.ttl * 2).await;
    assert!(!second_try.is_finished(), "taken while renewed");

    // Cut off: the first node counts it lost before the lease runs out for the others.
    first.cut_off.store(true, Ordering::SeqCst);
    let cut = Instant::now();
    tokio::time::timeout(TIMING.ttl * 2, held.lost())
        .await
        .expect("lost in time");
    let lost_after = cut.elapsed();
    let taken = tokio::time::timeout(TIMING.ttl * 3, second_try)
        .await
        .expect("taken in time")
        .expect("task")
        .expect("lease");
    let taken_after = cut.elapsed();
    assert!(
        lost_after < taken_after,
        "{lost_after:?} vs {taken_after:?}"
    );
    assert!(lost_after <= TIMING.ttl, "{lost_after:?}");
    drop(taken);
}

#[tokio::test]
async fn dropping_a_lease_gives_it_up_at_once_and_a_stop_ends_the_wait() {
    let table = Table::default();
    let (first, second) = (
        MemoryLeases::node(&table, "a"),
        MemoryLeases::node(&table, "b"),
    );
    let (stop, mut stopped) = watch::channel(false);
    let held = acquire(first, "queue", TIMING, &mut stopped)
        .await
        .expect("held");
    let waiting = {
        let second: Arc<dyn Leases> = second.clone();
        let mut stopped = stopped.clone();
        tokio::spawn(async move { acquire(second, "queue", TIMING, &mut stopped).await })
    };
    tokio::time::sleep(TIMING.renew_every * 2).await;
    let dropped = Instant::now();
    drop(held);
    let taken = tokio::time::timeout(TIMING.ttl, waiting)
        .await
        .expect("taken before the lease would have expired")
        .expect("task");
    assert!(taken.is_some());
    assert!(dropped.elapsed() < TIMING.ttl);

    // A stop ends a wait for a lease held elsewhere.
    let third: Arc<dyn Leases> = MemoryLeases::node(&table, "c");
    let waiting = {
        let mut stopped = stopped.clone();
        tokio::spawn(async move { acquire(third, "queue", TIMING, &mut stopped).await })
    };
    tokio::time::sleep(TIMING.renew_every).await;
    stop.send(true).expect("stop");
    let outcome = tokio::time::timeout(TIMING.ttl, waiting)
        .await
        .expect("ended")
        .expect("task");
    assert!(outcome.is_none());
    drop(taken);
}

#[tokio::test]
async fn a_single_node_holds_every_lease_for_good() {
    let (_stop, mut stopped) = watch::channel(false);
    let mut held = acquire(Arc::new(SingleNode), "anything", TIMING, &mut stopped)
        .await
        .expect("held");
    assert!(
        tokio::time::timeout(TIMING.ttl * 2, held.lost())
            .await
            .is_err(),
        "never lost"
    );
}
