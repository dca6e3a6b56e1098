//! What one more container's `/sys` costs the kernel now: each container mounts a fresh
//! read-only sysfs (its pod's interfaces under `/sys/class/net`), and making a sysfs
//! superblock walks every sysfs superblock on the machine (one per network namespace with
//! sysfs mounted: one per pod) under the kernel's global `sb_lock`. So the cost per pod grows
//! with the pods already up. Measured in a throw-away thread's own network namespace with
//! [`podlab_node_agent::rootfs::make_and_drop_sysfs`] (the same `get_tree` as a container's
//! mount; nothing attached to any mount table).

use nix::sched::{CloneFlags, unshare};
use std::time::{Duration, Instant};

/// Fresh sysfs superblocks made per measurement.
const ROUNDS: u32 = 50;

/// The mean time to make one fresh sysfs superblock now, or why it cannot be measured here
/// (e.g. rootless: `fsopen` needs CAP_SYS_ADMIN over the mount namespace).
pub fn one_more() -> Result<Duration, String> {
    std::thread::spawn(|| {
        // This thread's own network namespace; it goes with the thread.
        unshare(CloneFlags::CLONE_NEWNET).map_err(|e| format!("unshare(CLONE_NEWNET): {e}"))?;
        let t0 = Instant::now();
        for _ in 0..ROUNDS {
            podlab_node_agent::rootfs::make_and_drop_sysfs()
                .map_err(|e| format!("a fresh sysfs (fsopen, fsconfig): {e}"))?;
        }
        Ok(t0.elapsed() / ROUNDS)
    })
    .join()
    .unwrap_or_else(|_| Err("the sysfs probe panicked".into()))
}
