//! Network namespaces for instances. PLACEHOLDER: the signatures the rest of the workspace
//! builds against; the implementation is being written.
#![allow(dead_code, unused_variables, clippy::todo)]

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::{Network, SandboxError};

/// One instance's network namespace, created by the server.
#[derive(Debug)]
pub struct NetNs {
    fd: OwnedFd,
    network: Network,
}

impl NetNs {
    /// Creates a namespace with loopback up and a listener on `127.0.0.1:<port>` inside it
    /// for each of `listen` (in that order); [`Network::Egress`] adds a veth pair with NAT.
    /// Blocking (a few milliseconds): call from a blocking thread.
    pub fn create(
        network: Network,
        listen: &[u16],
    ) -> Result<(NetNs, Vec<std::net::TcpListener>), SandboxError> {
        todo!()
    }

    /// An unconnected IPv4 TCP socket that lives in this namespace (to reach an HTTP-mode
    /// instance's own port from the server).
    pub fn socket(&self) -> std::io::Result<socket2::Socket> {
        todo!()
    }

    pub fn network(&self) -> Network {
        self.network
    }
}

impl AsFd for NetNs {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Namespaces created ahead of demand, so that a cold start does not wait for one.
#[derive(Debug)]
pub struct NetPool {}

impl NetPool {
    /// A pool keeping `ready` namespaces of `network` with `listen` listeners each.
    pub fn new(network: Network, listen: Vec<u16>, ready: usize) -> NetPool {
        todo!()
    }

    /// A ready namespace (or a new one when none is ready); blocking.
    pub fn take(&self) -> Result<(NetNs, Vec<std::net::TcpListener>), SandboxError> {
        todo!()
    }
}

/// One-time host set-up for [`Network::Egress`]: IPv4 forwarding and the NAT and filter
/// rules; an error says what is missing (e.g. the `nft` command).
pub(crate) fn setup_egress() -> Result<(), String> {
    todo!()
}
