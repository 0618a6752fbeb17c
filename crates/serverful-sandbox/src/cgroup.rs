//! Per-instance cgroups. PLACEHOLDER signatures; the implementation is being written.
#![allow(dead_code, unused_variables, clippy::todo)]

/// Which cgroup interface limits instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupLayer {
    V2,
    V1,
}

#[derive(Debug)]
pub(crate) struct InstanceCgroup {}

impl InstanceCgroup {
    pub fn oom_killed(&self) -> bool {
        todo!()
    }
    pub fn peak_memory_mb(&self) -> Option<u64> {
        todo!()
    }
}
