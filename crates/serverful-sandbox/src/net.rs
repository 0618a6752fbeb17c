//! Network namespaces for instances: loopback listeners made inside each namespace, a veth
//! pair with NAT for [`Network::Egress`], and a pool of namespaces created ahead of demand.
//!
//! The server creates each instance's namespace itself, from a short-lived thread that
//! `unshare`s only its own network namespace, so that it can bind the platform's listeners
//! (the Runtime API, the AWS endpoint) on `127.0.0.1` *inside* it and serve them from the
//! host. The instance's init later joins the namespace through the [`NetNs`] file
//! descriptor. Interfaces, addresses and routes are configured over rtnetlink directly:
//! no `ip` process is started per namespace.
//!
//! Egress layout: namespace number `N` gets the `/30` at `10.213.0.0 + 4 * N`, with
//! `sfv<N>` on the host at `.1` and `eth0` inside at `.2` (the default route). The host
//! rules ([`setup_egress`], nftables table `ip serverful`) masquerade the sandboxes'
//! traffic leaving through other interfaces, drop everything a sandbox sends to the host
//! itself (any of its addresses, loopback services included) and drop traffic between
//! sandboxes. IPv6 is disabled inside every namespace, so those IPv4 rules are the whole
//! story.
//!
//! Architecture invariant: nothing here deletes interfaces. A veth pair lives exactly as
//! long as its namespace (the kernel destroys it with the namespace), and an index is
//! reused only once the kernel has removed the old `sfv<N>`, because creating an interface
//! whose name still exists fails with `EEXIST` and the next index is tried.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use nix::sched::CloneFlags;

use crate::{Network, SandboxError};

/// How long a new veth may take to start running.
const LINK_UP_TIMEOUT: Duration = Duration::from_secs(2);
/// The sandboxes' IPv4 range: one `/30` per namespace.
const SUBNET_BASE: Ipv4Addr = Ipv4Addr::new(10, 213, 0, 0);
const SUBNET_PREFIX_LEN: u8 = 16;
/// How many `/30`s fit in the range.
const N_SLOTS: u32 = 1 << (32 - SUBNET_PREFIX_LEN as u32 - 2);
/// Host-side interface names are `sfv<N>`; the nftables rules match `sfv*`.
const HOST_INTERFACE_PREFIX: &str = "sfv";
/// The interface inside the namespace.
const INSTANCE_INTERFACE: &str = "eth0";

/// One instance's network namespace, created by the server.
#[derive(Debug)]
pub struct NetNs {
    fd: OwnedFd,
    network: Network,
    egress: Option<Egress>,
}

/// The veth pair of a [`Network::Egress`] namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Egress {
    /// The host-side interface, `sfv<N>`.
    pub host_interface: String,
    /// The host side's address, the instance's default gateway (unreachable from inside
    /// like every host address).
    pub host_address: Ipv4Addr,
    /// The instance's own address on its `eth0`.
    pub instance_address: Ipv4Addr,
}

impl NetNs {
    /// Creates a namespace with loopback up and a listener on `127.0.0.1:<port>` inside it
    /// for each of `listen` (in that order, non-blocking, ready to hand to tokio);
    /// [`Network::Egress`] adds a veth pair with NAT, setting up the host's rules the first
    /// time ([`setup_egress`]). Blocking (a few milliseconds): call from a blocking thread.
    pub fn create(
        network: Network,
        listen: &[u16],
    ) -> Result<(NetNs, Vec<TcpListener>), SandboxError> {
        if network == Network::Egress && EGRESS_READY.get().is_none() {
            setup_egress()
                .map_err(|reason| SandboxError::setup("set up egress networking", reason))?;
        }
        let listen = listen.to_vec();
        // The namespace is entered by a thread of its own: `unshare(CLONE_NEWNET)` changes
        // only the calling thread, which then exits, leaving the namespace alive through
        // the file descriptor and the listeners' sockets.
        std::thread::Builder::new()
            .name("sandbox-netns".to_owned())
            .spawn(move || create_in_new_thread(network, &listen))
            .map_err(|e| SandboxError::setup("start a thread to create a network namespace", e))?
            .join()
            .unwrap_or_else(|_| {
                Err(SandboxError::setup(
                    "create a network namespace",
                    "the thread creating it panicked",
                ))
            })
    }

    /// An unconnected IPv4 TCP socket that lives in this namespace (to reach an HTTP-mode
    /// instance's own port from the server).
    pub fn socket(&self) -> io::Result<socket2::Socket> {
        let fd = self.fd.try_clone()?;
        std::thread::Builder::new()
            .name("sandbox-netns-socket".to_owned())
            .spawn(move || {
                nix::sched::setns(&fd, CloneFlags::CLONE_NEWNET)?;
                socket2::Socket::new(
                    socket2::Domain::IPV4,
                    socket2::Type::STREAM,
                    Some(socket2::Protocol::TCP),
                )
            })?
            .join()
            .unwrap_or_else(|_| {
                Err(io::Error::other(
                    "the thread entering the network namespace panicked",
                ))
            })
    }

    pub fn network(&self) -> Network {
        self.network
    }

    /// The veth pair, for [`Network::Egress`].
    pub fn egress(&self) -> Option<&Egress> {
        self.egress.as_ref()
    }
}

impl AsFd for NetNs {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn create_in_new_thread(
    network: Network,
    listen: &[u16],
) -> Result<(NetNs, Vec<TcpListener>), SandboxError> {
    // Opened before `unshare`, this socket keeps talking to the host's namespace.
    let mut host = match network {
        Network::Egress => Some(
            Netlink::open().map_err(|e| SandboxError::setup("open a host rtnetlink socket", e))?,
        ),
        Network::None => None,
    };
    nix::sched::unshare(CloneFlags::CLONE_NEWNET)
        .map_err(|e| SandboxError::setup("create a network namespace (unshare CLONE_NEWNET)", e))?;
    // `/proc/sys/net` shows the namespace of the thread that opens it, so these reach the
    // new namespace. `default` covers `eth0`, which arrives later.
    for which in ["all", "default"] {
        let path = format!("/proc/sys/net/ipv6/conf/{which}/disable_ipv6");
        match std::fs::write(&path, "1") {
            Ok(()) => {}
            // A kernel without IPv6 has nothing to disable.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(SandboxError::setup(format!("disable IPv6 ({path})"), e)),
        }
    }
    let fd: OwnedFd = std::fs::File::open("/proc/thread-self/ns/net")
        .map_err(|e| SandboxError::setup("open /proc/thread-self/ns/net", e))?
        .into();
    let mut inside =
        Netlink::open().map_err(|e| SandboxError::setup("open an rtnetlink socket inside", e))?;
    inside
        .set_up_by_name("lo")
        .map_err(|e| SandboxError::setup("bring lo up", e))?;
    let egress = match host.as_mut() {
        Some(host) => Some(add_veth(host, &mut inside, &fd)?),
        None => None,
    };
    let listeners = listen
        .iter()
        .map(|&port| {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).map_err(|e| {
                SandboxError::setup(
                    format!("listen on 127.0.0.1:{port} inside the namespace"),
                    e,
                )
            })?;
            listener
                .set_nonblocking(true)
                .map_err(|e| SandboxError::setup("make a listener non-blocking", e))?;
            Ok(listener)
        })
        .collect::<Result<Vec<_>, SandboxError>>()?;
    Ok((
        NetNs {
            fd,
            network,
            egress,
        },
        listeners,
    ))
}

/// The next index to try; indices rotate through the whole range so that a name is reused
/// as late as possible.
static NEXT_SLOT: AtomicU32 = AtomicU32::new(0);

/// Creates `sfv<N>` on the host and `eth0` in the namespace `namespace`, addresses them and
/// routes the namespace's traffic through the host.
fn add_veth(
    host: &mut Netlink,
    inside: &mut Netlink,
    namespace: &OwnedFd,
) -> Result<Egress, SandboxError> {
    let mut n_tries = 0;
    let (slot, host_interface) = loop {
        let slot = NEXT_SLOT.fetch_add(1, Ordering::Relaxed) % N_SLOTS;
        let name = format!("{HOST_INTERFACE_PREFIX}{slot}");
        match host.add_veth(&name, INSTANCE_INTERFACE, namespace) {
            Ok(()) => break (slot, name),
            // Still in use: by a live namespace, one the kernel has not finished
            // destroying, or another server on this host.
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) && n_tries < N_SLOTS => n_tries += 1,
            Err(e) => {
                return Err(SandboxError::setup(
                    format!("create the veth pair {name}/{INSTANCE_INTERFACE}"),
                    e,
                ));
            }
        }
    };
    let base = u32::from(SUBNET_BASE) + 4 * slot;
    let egress = Egress {
        host_interface,
        host_address: Ipv4Addr::from(base + 1),
        instance_address: Ipv4Addr::from(base + 2),
    };
    let step = |what: &str| format!("{what} ({})", egress.host_interface);
    let host_index = host
        .index_of(&egress.host_interface)
        .map_err(|e| SandboxError::setup(step("find the host-side veth"), e))?;
    // No IPv6 link-local address on the host side: the instance has no IPv6 at all.
    host.disable_ipv6_addresses(host_index).map_err(|e| {
        SandboxError::setup(step("turn off IPv6 addresses on the host-side veth"), e)
    })?;
    host.add_address(host_index, egress.host_address, 30)
        .map_err(|e| SandboxError::setup(step("address the host-side veth"), e))?;
    host.set_up(host_index)
        .map_err(|e| SandboxError::setup(step("bring the host-side veth up"), e))?;
    let inside_index = inside
        .index_of(INSTANCE_INTERFACE)
        .map_err(|e| SandboxError::setup(step("find eth0 inside"), e))?;
    inside
        .add_address(inside_index, egress.instance_address, 30)
        .map_err(|e| SandboxError::setup(step("address eth0 inside"), e))?;
    inside
        .set_up(inside_index)
        .map_err(|e| SandboxError::setup(step("bring eth0 up inside"), e))?;
    inside
        .add_default_route(inside_index, egress.host_address)
        .map_err(|e| SandboxError::setup(step("add the default route inside"), e))?;
    // The kernel turns the carrier on asynchronously (linkwatch); until it has, packets are
    // dropped and a first connection would wait for the SYN to be retransmitted, a second
    // later. Waiting here keeps that out of the instance's cold start.
    inside
        .wait_until_running(inside_index)
        .map_err(|e| SandboxError::setup(step("wait for eth0 to run"), e))?;
    host.wait_until_running(host_index)
        .map_err(|e| SandboxError::setup(step("wait for the host-side veth to run"), e))?;
    Ok(egress)
}

/// Set once the host's egress rules are loaded by this process.
static EGRESS_READY: OnceLock<()> = OnceLock::new();

/// The host's rules for [`Network::Egress`], replaced as a whole on each load: declaring
/// the table, deleting it and declaring it again is one atomic nftables transaction that
/// works whether or not the table existed.
fn nftables_rules() -> String {
    let subnet = format!("{SUBNET_BASE}/{SUBNET_PREFIX_LEN}");
    let sandboxes = format!("\"{HOST_INTERFACE_PREFIX}*\"");
    format!(
        "table ip serverful
delete table ip serverful
table ip serverful {{
  # Sandboxes reach the outside world through the host's address.
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr {subnet} oifname != {sandboxes} masquerade
  }}
  # Nothing a sandbox sends is for the host itself: not its loopback services, not the
  # veth's host-side address, not any other address of the host.
  chain input {{
    type filter hook input priority filter; policy accept;
    iifname {sandboxes} drop
  }}
  # Sandboxes cannot reach each other.
  chain forward {{
    type filter hook forward priority filter; policy accept;
    iifname {sandboxes} oifname {sandboxes} drop
  }}
}}
"
    )
}

/// One-time host set-up for [`Network::Egress`]: IPv4 forwarding and the NAT and filter
/// rules (nftables table `ip serverful`); an error says what is missing (e.g. the `nft`
/// command). Idempotent; call from a thread in the host's network namespace.
pub(crate) fn setup_egress() -> Result<(), String> {
    std::fs::write("/proc/sys/net/ipv4/ip_forward", "1").map_err(|e| {
        format!("enabling IPv4 forwarding (/proc/sys/net/ipv4/ip_forward) failed: {e}")
    })?;
    let mut child = std::process::Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => {
                "the nft command is missing (Debian package nftables)".to_owned()
            }
            _ => format!("running nft failed: {e}"),
        })?;
    let written = child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(nftables_rules().as_bytes());
    let output = child
        .wait_with_output()
        .map_err(|e| format!("running nft failed: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "loading the nftables rules failed ({}): {}",
            output.status,
            stderr.trim()
        ));
    }
    written.map_err(|e| format!("writing the nftables rules to nft failed: {e}"))?;
    let _ = EGRESS_READY.set(());
    Ok(())
}

/// Namespaces created ahead of demand, so that a cold start does not wait for one.
///
/// A background thread keeps `ready` namespaces created and refills after each
/// [`NetPool::take`]; it stops when the pool is dropped.
#[derive(Debug)]
pub struct NetPool {
    shared: Arc<PoolShared>,
    filler: Option<std::thread::JoinHandle<()>>,
}

#[derive(Debug)]
struct PoolShared {
    network: Network,
    listen: Vec<u16>,
    ready: usize,
    state: Mutex<PoolState>,
    /// Signalled when a namespace is taken or added, or the pool is dropped.
    changed: Condvar,
}

#[derive(Debug, Default)]
struct PoolState {
    namespaces: VecDeque<(NetNs, Vec<TcpListener>)>,
    stopping: bool,
}

/// How long the filler waits after a failed creation before trying again.
const POOL_RETRY_DELAY: Duration = Duration::from_secs(1);

impl NetPool {
    /// A pool keeping `ready` namespaces of `network` with `listen` listeners each.
    pub fn new(network: Network, listen: Vec<u16>, ready: usize) -> NetPool {
        let shared = Arc::new(PoolShared {
            network,
            listen,
            ready,
            state: Mutex::new(PoolState::default()),
            changed: Condvar::new(),
        });
        let filler = (ready > 0)
            .then(|| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name("sandbox-netns-pool".to_owned())
                    .spawn(move || shared.fill())
                    .inspect_err(|e| {
                        tracing::warn!("failed to start the network namespace pool's thread: {e}")
                    })
                    .ok()
            })
            .flatten();
        NetPool { shared, filler }
    }

    /// A ready namespace (or a new one when none is ready); blocking.
    pub fn take(&self) -> Result<(NetNs, Vec<TcpListener>), SandboxError> {
        let taken = self.shared.lock().namespaces.pop_front();
        self.shared.changed.notify_all();
        match taken {
            Some(namespace) => Ok(namespace),
            None => NetNs::create(self.shared.network, &self.shared.listen),
        }
    }

    /// How many namespaces are ready now.
    pub fn n_ready(&self) -> usize {
        self.shared.lock().namespaces.len()
    }

    /// Waits until the pool holds its `ready` namespaces, or `limit` has passed; returns
    /// whether it does. Blocking.
    pub fn wait_filled(&self, limit: Duration) -> bool {
        let state = self.shared.lock();
        let (state, _timeout) = self
            .shared
            .changed
            .wait_timeout_while(state, limit, |state| {
                !state.stopping && state.namespaces.len() < self.shared.ready
            })
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.namespaces.len() >= self.shared.ready
    }
}

impl PoolShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        // The state stays consistent even if a holder panicked: it is a queue and a flag.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn fill(&self) {
        let mut state = self.lock();
        loop {
            if state.stopping {
                return;
            }
            if state.namespaces.len() >= self.ready {
                state = self
                    .changed
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                continue;
            }
            drop(state);
            let created = NetNs::create(self.network, &self.listen);
            state = self.lock();
            match created {
                Ok(namespace) => {
                    state.namespaces.push_back(namespace);
                    // For `wait_filled`.
                    self.changed.notify_all();
                }
                Err(e) => {
                    tracing::warn!("failed to pre-create a network namespace: {e}");
                    state = self
                        .changed
                        .wait_timeout_while(state, POOL_RETRY_DELAY, |state| !state.stopping)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0;
                }
            }
        }
    }
}

impl Drop for NetPool {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.changed.notify_all();
        if let Some(filler) = self.filler.take() {
            let _ = filler.join();
        }
    }
}

// rtnetlink, the little of it used here; the numbers are the kernel's uapi
// (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/veth.h, linux/if_addr.h).
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLA_F_NESTED: u16 = 0x8000;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;
const IFLA_IFNAME: u16 = 3;
const IFLA_LINKINFO: u16 = 18;
const IFLA_AF_SPEC: u16 = 26;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_OPERSTATE: u16 = 16;
const IF_OPER_UP: u8 = 6;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFLA_INET6_ADDR_GEN_MODE: u16 = 8;
const IN6_ADDR_GEN_MODE_NONE: u8 = 1;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RTN_UNICAST: u8 = 1;
const NLMSG_HEADER_LEN: usize = 16;
const IFINFOMSG_LEN: usize = 16;

/// The attributes (type without flags, data) in `bytes`.
fn attributes(mut bytes: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let len = usize::from(u16::from_ne_bytes(bytes.get(0..2)?.try_into().ok()?));
        let kind = u16::from_ne_bytes(bytes.get(2..4)?.try_into().ok()?);
        let data = bytes.get(4..len)?;
        bytes = bytes.get((len + 3) & !3..).unwrap_or_default();
        Some((kind & !NLA_F_NESTED, data))
    })
}

/// A netlink message being built: the header, a fixed family header, then attributes.
struct Message {
    bytes: Vec<u8>,
}

impl Message {
    fn new(kind: u16, flags: u16) -> Message {
        let mut bytes = vec![0; NLMSG_HEADER_LEN];
        bytes[4..6].copy_from_slice(&kind.to_ne_bytes());
        bytes[6..8].copy_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        Message { bytes }
    }

    /// `struct ifinfomsg`: family, type, index, flags, change mask.
    fn ifinfomsg(&mut self, index: i32, flags: u32, change: u32) -> &mut Message {
        self.bytes
            .extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, 0]);
        self.bytes.extend_from_slice(&index.to_ne_bytes());
        self.bytes.extend_from_slice(&flags.to_ne_bytes());
        self.bytes.extend_from_slice(&change.to_ne_bytes());
        self
    }

    fn attribute(&mut self, kind: u16, data: &[u8]) -> &mut Message {
        let len = u16::try_from(4 + data.len()).expect("netlink attributes here are small");
        self.bytes.extend_from_slice(&len.to_ne_bytes());
        self.bytes.extend_from_slice(&kind.to_ne_bytes());
        self.bytes.extend_from_slice(data);
        self.pad();
        self
    }

    fn name(&mut self, kind: u16, name: &str) -> &mut Message {
        let mut data = name.as_bytes().to_vec();
        data.push(0);
        self.attribute(kind, &data)
    }

    /// Starts a nested attribute; returns where it starts, for [`Message::end`].
    fn begin(&mut self, kind: u16) -> usize {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(&[0, 0]);
        self.bytes
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        start
    }

    fn end(&mut self, start: usize) -> &mut Message {
        let len =
            u16::try_from(self.bytes.len() - start).expect("netlink attributes here are small");
        self.bytes[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    fn pad(&mut self) {
        while !self.bytes.len().is_multiple_of(4) {
            self.bytes.push(0);
        }
    }
}

/// A `NETLINK_ROUTE` socket, in the network namespace of the thread that opened it.
struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

impl Netlink {
    fn open() -> io::Result<Netlink> {
        use nix::sys::socket::{AddressFamily, SockFlag, SockProtocol, SockType};
        let fd = nix::sys::socket::socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )?;
        Ok(Netlink { fd, seq: 0 })
    }

    /// Sends `message` and waits for the kernel's acknowledgement; returns the payload
    /// (after the netlink header) of the reply that came before it, if any.
    fn request(&mut self, message: &mut Message) -> io::Result<Option<Vec<u8>>> {
        self.seq += 1;
        let len = u32::try_from(message.bytes.len()).expect("netlink messages here are small");
        message.bytes[0..4].copy_from_slice(&len.to_ne_bytes());
        message.bytes[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        let sent = nix::sys::socket::send(
            std::os::fd::AsRawFd::as_raw_fd(&self.fd),
            &message.bytes,
            nix::sys::socket::MsgFlags::empty(),
        )?;
        if sent != message.bytes.len() {
            return Err(io::Error::other("short write to the netlink socket"));
        }
        let mut reply = None;
        let mut buffer = vec![0u8; 32 * 1024];
        loop {
            let received = nix::sys::socket::recv(
                std::os::fd::AsRawFd::as_raw_fd(&self.fd),
                &mut buffer,
                nix::sys::socket::MsgFlags::empty(),
            )?;
            let mut rest = &buffer[..received];
            while rest.len() >= NLMSG_HEADER_LEN {
                let len = u32::from_ne_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
                let kind = u16::from_ne_bytes(rest[4..6].try_into().expect("2 bytes"));
                let seq = u32::from_ne_bytes(rest[8..12].try_into().expect("4 bytes"));
                if len < NLMSG_HEADER_LEN || len > rest.len() {
                    return Err(io::Error::other("malformed netlink reply"));
                }
                if seq == self.seq {
                    match kind {
                        NLMSG_ERROR => {
                            let code = rest
                                .get(16..20)
                                .map(|code| i32::from_ne_bytes(code.try_into().expect("4 bytes")))
                                .ok_or_else(|| io::Error::other("truncated netlink error"))?;
                            return match code {
                                0 => Ok(reply),
                                _ => Err(io::Error::from_raw_os_error(-code)),
                            };
                        }
                        NLMSG_DONE => return Ok(reply),
                        _ => reply = Some(rest[NLMSG_HEADER_LEN..len].to_vec()),
                    }
                }
                rest = &rest[(len + 3) & !3..];
            }
        }
    }

    /// Creates the veth pair `name` (here) and `peer_name` (in `peer_namespace`).
    fn add_veth(
        &mut self,
        name: &str,
        peer_name: &str,
        peer_namespace: &OwnedFd,
    ) -> io::Result<()> {
        let peer_fd = u32::try_from(std::os::fd::AsRawFd::as_raw_fd(peer_namespace))
            .expect("file descriptors are positive");
        let mut message = Message::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        message.ifinfomsg(0, 0, 0).name(IFLA_IFNAME, name);
        let link_info = message.begin(IFLA_LINKINFO);
        message.attribute(IFLA_INFO_KIND, b"veth");
        let info_data = message.begin(IFLA_INFO_DATA);
        let peer = message.begin(VETH_INFO_PEER);
        message
            .ifinfomsg(0, 0, 0)
            .name(IFLA_IFNAME, peer_name)
            .attribute(IFLA_NET_NS_FD, &peer_fd.to_ne_bytes())
            .end(peer)
            .end(info_data)
            .end(link_info);
        self.request(&mut message).map(drop)
    }

    /// The index of the interface `name`.
    fn index_of(&mut self, name: &str) -> io::Result<i32> {
        let mut message = Message::new(RTM_GETLINK, 0);
        message.ifinfomsg(0, 0, 0).name(IFLA_IFNAME, name);
        let reply = self
            .request(&mut message)?
            .ok_or_else(|| io::Error::other(format!("no reply describing {name}")))?;
        // `struct ifinfomsg` starts the reply; its index is at offset 4.
        reply
            .get(4..8)
            .filter(|_| reply.len() >= IFINFOMSG_LEN)
            .map(|index| i32::from_ne_bytes(index.try_into().expect("4 bytes")))
            .ok_or_else(|| io::Error::other("truncated link reply"))
    }

    /// Waits until the interface's operational state is up (its carrier on and its queue
    /// running).
    fn wait_until_running(&mut self, index: i32) -> io::Result<()> {
        let started = std::time::Instant::now();
        loop {
            let mut message = Message::new(RTM_GETLINK, 0);
            message.ifinfomsg(index, 0, 0);
            let reply = self
                .request(&mut message)?
                .ok_or_else(|| io::Error::other("no reply describing the interface"))?;
            let operstate = attributes(reply.get(IFINFOMSG_LEN..).unwrap_or_default())
                .find(|&(kind, _)| kind == IFLA_OPERSTATE)
                .and_then(|(_, data)| data.first().copied());
            if operstate == Some(IF_OPER_UP) {
                return Ok(());
            }
            if started.elapsed() > LINK_UP_TIMEOUT {
                return Err(io::Error::other(format!(
                    "still not running after {LINK_UP_TIMEOUT:?} (operational state {operstate:?})"
                )));
            }
            std::thread::sleep(Duration::from_micros(50));
        }
    }

    fn set_up(&mut self, index: i32) -> io::Result<()> {
        let up = libc::IFF_UP as u32;
        let mut message = Message::new(RTM_NEWLINK, 0);
        message.ifinfomsg(index, up, up);
        self.request(&mut message).map(drop)
    }

    fn set_up_by_name(&mut self, name: &str) -> io::Result<()> {
        let up = libc::IFF_UP as u32;
        let mut message = Message::new(RTM_NEWLINK, 0);
        message.ifinfomsg(0, up, up).name(IFLA_IFNAME, name);
        self.request(&mut message).map(drop)
    }

    /// No IPv6 addresses, link-local included (`ip link set … addrgenmode none`); set while
    /// the interface is down.
    fn disable_ipv6_addresses(&mut self, index: i32) -> io::Result<()> {
        let mut message = Message::new(RTM_NEWLINK, 0);
        message.ifinfomsg(index, 0, 0);
        let af_spec = message.begin(IFLA_AF_SPEC);
        let inet6 = message.begin(libc::AF_INET6 as u16);
        message
            .attribute(IFLA_INET6_ADDR_GEN_MODE, &[IN6_ADDR_GEN_MODE_NONE])
            .end(inet6)
            .end(af_spec);
        self.request(&mut message).map(drop)
    }

    fn add_address(&mut self, index: i32, address: Ipv4Addr, prefix_len: u8) -> io::Result<()> {
        let mut message = Message::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
        // `struct ifaddrmsg`: family, prefix length, flags, scope, index.
        message
            .bytes
            .extend_from_slice(&[libc::AF_INET as u8, prefix_len, 0, RT_SCOPE_UNIVERSE]);
        message.bytes.extend_from_slice(&index.to_ne_bytes());
        message
            .attribute(IFA_LOCAL, &address.octets())
            .attribute(IFA_ADDRESS, &address.octets());
        self.request(&mut message).map(drop)
    }

    fn add_default_route(&mut self, index: i32, gateway: Ipv4Addr) -> io::Result<()> {
        let mut message = Message::new(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
        // `struct rtmsg`: family, destination and source prefix lengths, TOS, table,
        // protocol, scope, type, flags.
        message.bytes.extend_from_slice(&[
            libc::AF_INET as u8,
            0,
            0,
            0,
            RT_TABLE_MAIN,
            RTPROT_BOOT,
            RT_SCOPE_UNIVERSE,
            RTN_UNICAST,
        ]);
        message.bytes.extend_from_slice(&0u32.to_ne_bytes());
        message
            .attribute(RTA_GATEWAY, &gateway.octets())
            .attribute(RTA_OIF, &index.to_ne_bytes());
        self.request(&mut message).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_attributes_carry_their_length() {
        let mut message = Message::new(RTM_NEWLINK, 0);
        message.ifinfomsg(0, 0, 0);
        let outer = message.begin(IFLA_LINKINFO);
        message.attribute(IFLA_INFO_KIND, b"veth").end(outer);
        let attribute = &message.bytes[NLMSG_HEADER_LEN + IFINFOMSG_LEN..];
        // 4 (outer header) + 4 (inner header) + 4 ("veth").
        assert_eq!(u16::from_ne_bytes([attribute[0], attribute[1]]), 12);
        assert_eq!(
            u16::from_ne_bytes([attribute[2], attribute[3]]),
            IFLA_LINKINFO | NLA_F_NESTED
        );
        assert_eq!(&attribute[8..12], b"veth");
    }

    #[test]
    fn the_pool_is_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<NetPool>();
        shareable::<NetNs>();
    }

    #[test]
    fn the_rules_cover_the_sandbox_range_and_interfaces() {
        let rules = nftables_rules();
        assert!(rules.contains("ip saddr 10.213.0.0/16 oifname != \"sfv*\" masquerade"));
        assert!(rules.contains("iifname \"sfv*\" drop"));
        assert!(rules.contains("iifname \"sfv*\" oifname \"sfv*\" drop"));
        assert_eq!(N_SLOTS, 16384);
    }
}
