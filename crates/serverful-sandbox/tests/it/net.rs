//! Network namespaces as an instance sees them (SPEC §5, issue 5): the platform's listeners
//! are reachable inside and nowhere else; `none` reaches nothing outside; `egress` reaches
//! the outside world through NAT but neither the host nor other instances.
//!
//! These tests need root (they create namespaces and interfaces and load nftables rules).
//! Under `CI=true` they must run; elsewhere they are skipped with a message when not root.
//! The "outside world" is a network namespace each test creates itself, linked to the host
//! by a veth pair: no real network is used.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serverful_sandbox::{NetNs, NetPool, Network};

/// Long enough for a connection to be accepted on this host, short enough that a dropped
/// SYN does not slow the suite down.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);

fn privileged(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: needs root to create network namespaces, and CI=true requires it to run");
    }
    eprintln!("{test}: skipped, needs root to create network namespaces");
    false
}

/// Connects from inside `namespace` to `to`.
fn connect_from(namespace: &NetNs, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = namespace.socket()?;
    socket.connect_timeout(&to.into(), CONNECT_TIMEOUT)?;
    Ok(socket.into())
}

fn accept_blocking(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    listener
        .set_nonblocking(false)
        .expect("make the listener blocking");
    listener.accept().expect("accept a connection")
}

fn run(command: &mut Command) {
    let output = command.output().expect("run ip");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A network namespace standing for the outside world: `10.99.<k>.2/30` behind a veth
/// pair whose host side is `10.99.<k>.1`; deleted on drop.
struct Outside {
    name: String,
    address: Ipv4Addr,
    gateway: Ipv4Addr,
}

impl Outside {
    fn new() -> Outside {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let k = NEXT.fetch_add(1, Ordering::Relaxed) + 10;
        let id = format!("{}{k}", std::process::id() % 100_000);
        let name = format!("sftest-out{id}");
        // The host side must not look like a sandbox's (`sfv*`).
        let host_interface = format!("sft{id}");
        let gateway = Ipv4Addr::new(10, 99, k as u8, 1);
        let address = Ipv4Addr::new(10, 99, k as u8, 2);
        run(Command::new("ip").args(["netns", "add", &name]));
        let outside = Outside {
            name,
            address,
            gateway,
        };
        run(Command::new("ip").args([
            "link",
            "add",
            &host_interface,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            &outside.name,
        ]));
        run(Command::new("ip").args([
            "addr",
            "add",
            &format!("{gateway}/30"),
            "dev",
            &host_interface,
        ]));
        run(Command::new("ip").args(["link", "set", &host_interface, "up"]));
        for command in [
            format!("addr add {address}/30 dev eth0"),
            "link set eth0 up".to_owned(),
            "link set lo up".to_owned(),
        ] {
            run(Command::new("ip")
                .args(["-n", &outside.name])
                .args(command.split(' ')));
        }
        outside
    }

    /// A listener on `port` at the outside address.
    fn listen(&self, port: u16) -> TcpListener {
        let namespace = std::fs::File::open(format!("/run/netns/{}", self.name))
            .expect("open the outside namespace");
        let address = self.address;
        std::thread::spawn(move || {
            nix::sched::setns(&namespace, nix::sched::CloneFlags::CLONE_NEWNET)
                .expect("enter the outside namespace");
            TcpListener::bind((address, port)).expect("listen outside")
        })
        .join()
        .expect("the listening thread does not panic")
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        // Deleting the namespace deletes its veth pair too.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

#[test]
fn listeners_are_reachable_inside_the_namespace_only() {
    if !privileged("listeners_are_reachable_inside_the_namespace_only") {
        return;
    }
    for network in [Network::None, Network::Egress] {
        let (namespace, listeners) = NetNs::create(network, &[0, 0]).expect("create a namespace");
        assert_eq!(listeners.len(), 2);
        assert_eq!(namespace.network(), network);
        let port = listeners[0].local_addr().expect("local address").port();
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));

        let mut inside = connect_from(&namespace, address).expect("connect inside the namespace");
        let (mut accepted, _) = accept_blocking(&listeners[0]);
        inside.write_all(b"ping").expect("write");
        let mut received = [0; 4];
        accepted.read_exact(&mut received).expect("read");
        assert_eq!(&received, b"ping");

        // The same address from the host is the host's own loopback: whatever answers
        // there, it is not the listener inside.
        let _ = TcpStream::connect_timeout(&address, CONNECT_TIMEOUT);
        listeners[0].set_nonblocking(true).expect("non-blocking");
        assert_eq!(
            listeners[0].accept().map(drop).map_err(|e| e.kind()),
            Err(std::io::ErrorKind::WouldBlock),
            "{network:?}: a host connection reached the listener inside"
        );
    }
}

#[test]
fn every_namespace_has_its_own_runtime_api_port() {
    if !privileged("every_namespace_has_its_own_runtime_api_port") {
        return;
    }
    let first = NetNs::create(Network::None, &[9001]).expect("create a namespace");
    let second = NetNs::create(Network::Egress, &[9001]).expect("create another on the same port");
    assert!(first.1[0].set_nonblocking(true).is_ok() && second.1[0].set_nonblocking(true).is_ok());
}

#[test]
fn none_reaches_nothing_outside_and_egress_reaches_it_through_nat() {
    if !privileged("none_reaches_nothing_outside_and_egress_reaches_it_through_nat") {
        return;
    }
    let outside = Outside::new();
    let listener = outside.listen(8080);
    let target = SocketAddr::from((outside.address, 8080));
    // The test itself, on the host, reaches the outside world.
    drop(
        TcpStream::connect_timeout(&target, CONNECT_TIMEOUT).expect("the host reaches the outside"),
    );
    accept_blocking(&listener);

    let (none, _) = NetNs::create(Network::None, &[]).expect("create a none namespace");
    assert!(
        connect_from(&none, target).is_err(),
        "a none namespace reached the outside"
    );

    // Reachable right after creation, every time: a first SYN is not lost to a veth whose
    // carrier is still coming up (it would be retransmitted only after a second).
    for _ in 0..20 {
        let (egress, _) = NetNs::create(Network::Egress, &[]).expect("create an egress namespace");
        drop(connect_from(&egress, target).expect("a new egress namespace reaches the outside"));
        accept_blocking(&listener);
    }
    let (egress, _) = NetNs::create(Network::Egress, &[]).expect("create an egress namespace");
    let mut stream =
        connect_from(&egress, target).expect("an egress namespace reaches the outside");
    let (mut accepted, peer) = accept_blocking(&listener);
    // Masqueraded: the outside world sees the host's address on its link, not 10.213.x.x.
    assert_eq!(peer.ip(), outside.gateway);
    stream.write_all(b"hello").expect("write");
    let mut received = [0; 5];
    accepted.read_exact(&mut received).expect("read");
    assert_eq!(&received, b"hello");
    accepted.write_all(b"back").expect("reply");
    let mut reply = [0; 4];
    stream.read_exact(&mut reply).expect("read the reply");
    assert_eq!(&reply, b"back");
}

/// The host's IPv4 addresses, loopback included.
fn host_addresses() -> Vec<Ipv4Addr> {
    let output = Command::new("ip")
        .args(["-4", "-o", "addr", "show"])
        .output()
        .expect("run ip addr");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            words.find(|&word| word == "inet")?;
            words.next()?.split('/').next()?.parse().ok()
        })
        .collect()
}

#[test]
fn egress_cannot_reach_the_host() {
    if !privileged("egress_cannot_reach_the_host") {
        return;
    }
    let service = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("listen on the host");
    let port = service.local_addr().expect("local address").port();
    drop(
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("the host reaches its own service"),
    );

    let (namespace, _) = NetNs::create(Network::Egress, &[]).expect("create an egress namespace");
    let egress = namespace
        .egress()
        .expect("an egress namespace has a veth pair")
        .clone();
    let mut targets = host_addresses();
    assert!(targets.contains(&egress.host_address), "{targets:?}");
    targets.push(Ipv4Addr::LOCALHOST);
    for address in targets {
        let started = Instant::now();
        let result = connect_from(&namespace, SocketAddr::from((address, port)));
        assert!(
            result.is_err(),
            "the namespace reached the host's service at {address}:{port}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    service.set_nonblocking(true).expect("non-blocking");
    assert!(
        service.accept().is_ok(),
        "the host's own connection is queued"
    );
    assert_eq!(
        service.accept().map(drop).map_err(|e| e.kind()),
        Err(std::io::ErrorKind::WouldBlock),
        "a connection from the namespace reached the host's service"
    );
}

#[test]
fn ipv6_is_off_inside() {
    if !privileged("ipv6_is_off_inside") {
        return;
    }
    for network in [Network::None, Network::Egress] {
        let (namespace, _) = NetNs::create(network, &[]).expect("create a namespace");
        let namespace = namespace
            .as_fd()
            .try_clone_to_owned()
            .expect("duplicate the fd");
        let (bound, eth0_disabled) = std::thread::spawn(move || {
            nix::sched::setns(&namespace, nix::sched::CloneFlags::CLONE_NEWNET)
                .expect("enter the namespace");
            let eth0 = std::fs::read_to_string("/proc/sys/net/ipv6/conf/eth0/disable_ipv6");
            (TcpListener::bind("[::1]:0").is_ok(), eth0.ok())
        })
        .join()
        .expect("the thread inside does not panic");
        assert!(!bound, "{network:?}: ::1 exists inside");
        match network {
            Network::None => assert_eq!(eth0_disabled, None),
            Network::Egress => assert_eq!(eth0_disabled.as_deref(), Some("1\n")),
        }
    }
}

#[test]
fn egress_namespaces_cannot_reach_each_other() {
    if !privileged("egress_namespaces_cannot_reach_each_other") {
        return;
    }
    let (first, _) = NetNs::create(Network::Egress, &[]).expect("create a namespace");
    let (second, _) = NetNs::create(Network::Egress, &[]).expect("create another");
    let second_address = second.egress().expect("veth").instance_address;
    let server = second.socket().expect("a socket in the second namespace");
    server.set_reuse_address(true).expect("SO_REUSEADDR");
    server
        .bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, 7000)).into())
        .expect("bind in the second namespace");
    server.listen(8).expect("listen in the second namespace");
    let target = SocketAddr::from((second_address, 7000));
    // Reachable at that address from within the second namespace itself...
    connect_from(&second, target).expect("the second namespace reaches its own address");
    // ...but not from the first.
    assert!(
        connect_from(&first, target).is_err(),
        "one namespace reached another"
    );
    let first_address = first.egress().expect("veth").instance_address;
    assert_ne!(first_address, second_address);
}

#[test]
fn the_pool_keeps_namespaces_ready_and_stops_when_dropped() {
    if !privileged("the_pool_keeps_namespaces_ready_and_stops_when_dropped") {
        return;
    }
    let pool = NetPool::new(Network::None, vec![9001], 2);
    let wait_for_ready = |pool: &NetPool| {
        let started = Instant::now();
        while pool.n_ready() < 2 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the pool did not fill"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    wait_for_ready(&pool);
    let taken: Vec<_> = std::thread::scope(|scope| {
        let takers: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| pool.take().expect("take a namespace")))
            .collect();
        takers
            .into_iter()
            .map(|taker| taker.join().expect("take"))
            .collect()
    });
    for (namespace, listeners) in &taken {
        assert_eq!(namespace.network(), Network::None);
        assert_eq!(listeners[0].local_addr().expect("address").port(), 9001);
    }
    wait_for_ready(&pool);
    let started = Instant::now();
    drop(pool);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "dropping the pool waits for its thread"
    );
}

fn median(mut durations: Vec<Duration>) -> Duration {
    durations.sort();
    durations[durations.len() / 2]
}

/// Also a stress test: 50 namespaces of each kind in a row, the previous ones being
/// destroyed by the kernel meanwhile. Prints the costs (`--nocapture`).
#[test]
fn creation_cost() {
    if !privileged("creation_cost") {
        return;
    }
    let n_rounds = 50;
    for network in [Network::None, Network::Egress] {
        let mut durations = Vec::new();
        for _ in 0..n_rounds {
            let started = Instant::now();
            let created = NetNs::create(network, &[9001, 9002]).expect("create a namespace");
            durations.push(started.elapsed());
            drop(created);
        }
        println!(
            "NetNs::create({network:?}): median {:?} of {n_rounds}",
            median(durations)
        );
    }
    let (namespace, _) = NetNs::create(Network::Egress, &[]).expect("create a namespace");
    let durations = (0..n_rounds)
        .map(|_| {
            let started = Instant::now();
            drop(namespace.socket().expect("a socket inside"));
            started.elapsed()
        })
        .collect();
    println!(
        "NetNs::socket: median {:?} of {n_rounds}",
        median(durations)
    );
    let pool = NetPool::new(Network::Egress, vec![9001, 9002], 2);
    let mut durations = Vec::new();
    for _ in 0..n_rounds {
        let started = Instant::now();
        while pool.n_ready() == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the pool did not refill"
            );
            std::thread::sleep(Duration::from_micros(200));
        }
        let started = Instant::now();
        let taken = pool.take().expect("take a namespace");
        durations.push(started.elapsed());
        drop(taken);
    }
    println!(
        "NetPool::take(Egress) with one ready: median {:?} of {n_rounds}",
        median(durations)
    );
}
