//! Network namespace handles (fds of `/proc/<pid>/ns/net`) and running code inside them.
//!
//! `setns` acts on the calling OS thread only, so everything here runs the namespace work
//! on a fresh, short-lived std thread and never touches the caller's (or a tokio worker's)
//! namespace. Netlink sockets, opened for every pod, come from one long-lived thread instead
//! (see [`netlink_in`]).

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use netlink_packet_route::RouteNetlinkMessage;
use nix::sched::{CloneFlags, setns};

/// A rtnetlink connection future: spawn it (or poll it) for its [`rtnetlink::Handle`] to work.
pub type NetlinkConnection = rtnetlink::proto::Connection<RouteNetlinkMessage>;

/// A handle on one network namespace: an open fd of its `ns/net` file.
///
/// Holding a `Netns` keeps the namespace alive; drop it when done.
#[derive(Debug)]
pub struct Netns {
    fd: OwnedFd,
    pid: Option<u32>,
    path: Option<PathBuf>,
}

impl Netns {
    /// The network namespace of process `pid` (`/proc/<pid>/ns/net`).
    pub fn from_pid(pid: u32) -> io::Result<Self> {
        let file = File::open(format!("/proc/{pid}/ns/net"))?;
        Ok(Netns {
            fd: file.into(),
            pid: Some(pid),
            path: None,
        })
    }

    /// The network namespace behind a namespace file (e.g. `/proc/<pid>/task/<tid>/ns/net`).
    pub fn from_path(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let file = File::open(path)?;
        Ok(Netns {
            fd: file.into(),
            pid: None,
            path: Some(path.to_path_buf()),
        })
    }

    /// The network namespace of the calling thread.
    pub fn current() -> io::Result<Self> {
        let file = File::open("/proc/thread-self/ns/net")?;
        Ok(Netns {
            fd: file.into(),
            pid: None,
            path: None,
        })
    }

    /// The namespace fd (valid as long as `self` lives).
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The raw namespace fd (valid as long as `self` lives).
    pub fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The pid this handle was opened from, if it was opened with [`Netns::from_pid`].
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// A second handle on the same namespace (duplicates the fd).
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(Netns {
            fd: self.fd.try_clone()?,
            pid: self.pid,
            path: self.path.clone(),
        })
    }

    /// Where this namespace can be opened again later without holding an fd
    /// (the pid, or the path it was opened from).
    pub(crate) fn locator(&self) -> Option<NetnsLocator> {
        match (self.pid, &self.path) {
            (Some(pid), _) => Some(NetnsLocator::Pid(pid)),
            (None, Some(p)) => Some(NetnsLocator::Path(p.clone())),
            (None, None) => None,
        }
    }

    /// Whether both handles refer to the same namespace (same inode).
    pub fn same_as(&self, other: &Netns) -> io::Result<bool> {
        let a = nix::sys::stat::fstat(self.fd.as_fd()).map_err(io::Error::from)?;
        let b = nix::sys::stat::fstat(other.fd.as_fd()).map_err(io::Error::from)?;
        Ok(a.st_ino == b.st_ino && a.st_dev == b.st_dev)
    }
}

/// How to reopen a namespace later without keeping it alive.
#[derive(Clone, Debug)]
pub enum NetnsLocator {
    /// The namespace of this process.
    Pid(u32),
    /// A bind-mounted namespace file.
    Path(PathBuf),
}

impl NetnsLocator {
    pub(crate) fn open(&self) -> io::Result<Netns> {
        match self {
            NetnsLocator::Pid(pid) => Netns::from_pid(*pid),
            NetnsLocator::Path(p) => Netns::from_path(p),
        }
    }
}

fn enter(ns: BorrowedFd<'_>) -> io::Result<()> {
    setns(ns, CloneFlags::CLONE_NEWNET).map_err(io::Error::from)
}

/// Runs `f` on a fresh std thread that has `setns`'d into `ns`, and returns its result.
///
/// Sockets created by `f` stay bound to `ns`. Blocks the calling thread until `f` returns:
/// from async code prefer [`run_in_async`]. A panic in `f` is propagated.
pub fn run_in<R: Send>(ns: &Netns, f: impl FnOnce() -> R + Send) -> io::Result<R> {
    let fd = ns.as_fd();
    std::thread::scope(|s| {
        let worker =
            std::thread::Builder::new()
                .name("podlab-netns".into())
                .spawn_scoped(s, move || -> io::Result<R> {
                    enter(fd)?;
                    Ok(f())
                })?;
        match worker.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Like [`run_in`], but awaits the thread instead of blocking (safe on a tokio worker).
pub async fn run_in_async<R: Send + 'static>(ns: &Netns, f: impl FnOnce() -> R + Send + 'static) -> io::Result<R> {
    let fd = ns.fd.try_clone()?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new().name("podlab-netns".into()).spawn(move || {
        let r = enter(fd.as_fd()).map(|()| f());
        drop(fd);
        let _ = tx.send(r);
    })?;
    rx.await
        .map_err(|_| io::Error::other("namespace worker thread panicked"))?
}

/// What the socket opener hands back once it has left the target namespace.
type Delivery = Box<dyn FnOnce() + Send>;
/// A job for the socket opener: told whether entering the target namespace worked, it does its
/// work there and returns the delivery of its result (made after the opener has gone home, so
/// a caller never sees the opener still inside its namespace).
type OpenerJob = (OwnedFd, Box<dyn FnOnce(io::Result<()>) -> Delivery + Send>);

/// The socket opener: one long-lived thread that enters a namespace, runs a short job there
/// (opening a socket), and goes back to a private, empty namespace of its own, so it never
/// keeps a pod's namespace alive. A fresh thread per pod cost ~0.1 ms of CPU at scale. None
/// if it cannot be made (no CAP_SYS_ADMIN for its own namespace): callers use a fresh thread.
fn opener() -> Option<&'static std::sync::mpsc::Sender<OpenerJob>> {
    static OPENER: std::sync::OnceLock<Option<std::sync::mpsc::Sender<OpenerJob>>> = std::sync::OnceLock::new();
    OPENER
        .get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel::<OpenerJob>();
            let (ready_tx, ready_rx) = std::sync::mpsc::channel::<bool>();
            let spawned = std::thread::Builder::new()
                .name("podlab-nsopener".into())
                .spawn(move || {
                    let home = nix::sched::unshare(CloneFlags::CLONE_NEWNET)
                        .map_err(io::Error::from)
                        .and_then(|()| File::open("/proc/thread-self/ns/net"));
                    let _ = ready_tx.send(home.is_ok());
                    let Ok(home) = home else { return };
                    for (target, job) in rx {
                        let deliver = job(enter(target.as_fd()));
                        drop(target);
                        let home_again = enter(home.as_fd()).is_ok();
                        deliver();
                        if !home_again {
                            return; // stuck elsewhere: stop taking jobs (callers fall back)
                        }
                    }
                });
            (spawned.is_ok() && ready_rx.recv().unwrap_or(false)).then_some(tx)
        })
        .as_ref()
}

/// Opens a rtnetlink socket inside `ns`, registered with runtime `rt` (on the socket opener
/// thread, or a fresh thread if there is none).
///
/// Spawn or poll the returned connection; the socket closes once every handle clone is
/// dropped and the connection future has been polled again.
pub async fn netlink_in(ns: &Netns, rt: &tokio::runtime::Handle) -> io::Result<(NetlinkConnection, rtnetlink::Handle)> {
    let open = {
        let rt = rt.clone();
        move || -> io::Result<(NetlinkConnection, rtnetlink::Handle)> {
            let _guard = rt.enter();
            let (conn, handle, _unsolicited) = rtnetlink::new_connection()?;
            Ok((conn, handle))
        }
    };
    if let Some(jobs) = opener() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let there = open.clone();
        let job: Box<dyn FnOnce(io::Result<()>) -> Delivery + Send> = Box::new(move |entered| {
            let result = entered.and_then(|()| there());
            Box::new(move || {
                let _ = tx.send(result);
            })
        });
        if jobs.send((ns.fd.try_clone()?, job)).is_ok() {
            return rx
                .await
                .map_err(|_| io::Error::other("podlab's namespace socket opener has stopped"))?;
        }
    }
    run_in_async(ns, open).await?
}

/// Opens a rtnetlink socket in the calling thread's namespace, registered with runtime `rt`.
pub fn netlink_here(rt: &tokio::runtime::Handle) -> io::Result<(NetlinkConnection, rtnetlink::Handle)> {
    let _guard = rt.enter();
    let (conn, handle, _unsolicited) = rtnetlink::new_connection()?;
    Ok((conn, handle))
}

/// Makes interfaces created from now on in the calling thread's namespace IPv4-only (the
/// cluster network is IPv4 single-stack; see the sandbox zygote in the node agent). Best
/// effort: a kernel without IPv6 has nothing to turn off.
pub fn ipv4_only_here() {
    let _ = std::fs::write("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
}

/// The per-namespace switches that send bridged frames through iptables, ip6tables and
/// arptables (present when the kernel has `br_netfilter`; on by default in every namespace).
pub const BRIDGE_NETFILTER_SWITCHES: [&str; 3] = [
    "/proc/sys/net/bridge/bridge-nf-call-iptables",
    "/proc/sys/net/bridge/bridge-nf-call-ip6tables",
    "/proc/sys/net/bridge/bridge-nf-call-arptables",
];

/// Lets the bridges of the calling thread's namespace forward frames without passing them
/// through iptables (`net.bridge.bridge-nf-call-*=0`, this namespace only). podlab puts no
/// firewall rules in its namespaces (there is no kube-proxy), so the hooks only cost time:
/// about a tenth of the cross-node TCP throughput. A kernel without `br_netfilter` has no
/// such switch, which is not an error.
pub fn bridges_skip_netfilter_here() -> io::Result<()> {
    for path in BRIDGE_NETFILTER_SWITCHES {
        match std::fs::write(path, "0") {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Settings for a network namespace podlab has just made for a cluster's fabric: interfaces
/// IPv4-only ([`ipv4_only_here`]) and bridges that skip netfilter
/// ([`bridges_skip_netfilter_here`]). Call it on the thread that made the namespace, right
/// after `unshare(CLONE_NEWNET)`, and nowhere else: in any other namespace (the machine's own
/// above all) these writes would change settings podlab does not own.
pub fn configure_new_fabric_here() -> io::Result<()> {
    ipv4_only_here();
    bridges_skip_netfilter_here()
}

/// [`bridges_skip_netfilter_here`] inside `ns`.
pub async fn bridges_skip_netfilter_in(ns: &Netns) -> io::Result<()> {
    run_in_async(ns, bridges_skip_netfilter_here).await?
}

/// Writes `value` to a `/proc/sys/...` file as seen from inside `ns` (sysctls are per-netns).
pub async fn write_sysctl_in(ns: &Netns, path: &'static str, value: &'static str) -> io::Result<()> {
    run_in_async(ns, move || std::fs::write(path, value)).await?
}
