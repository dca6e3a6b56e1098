//! What a cluster costs the machine, counted whole: the memory (PSS) of a process and every
//! process descended from it (podlab, its zygote, every pause and container process), with the
//! processes, threads and descriptors they use, sampled in the background while a benchmark
//! runs so the peak is seen.
//!
//! PSS (`Pss:` of `/proc/<pid>/smaps_rollup`) splits each shared page between the address
//! spaces mapping it, so summing it over address spaces counts each page once. Processes that
//! share one address space (podlab's pause processes are `clone(CLONE_VM)` children of the
//! zygote) each show all of it: it is counted once (`kcmp(2)` tells which share).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One sample of a process tree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Sum of `Pss:` over the tree's address spaces, KiB.
    pub pss_kib: u64,
    /// Processes in the tree (the root included).
    pub processes: usize,
    /// Distinct address spaces among them.
    pub spaces: usize,
    /// Threads (entries of `/proc/<pid>/task`).
    pub threads: usize,
    /// Open descriptors (entries of `/proc/<pid>/fd`).
    pub fds: usize,
}

impl Footprint {
    /// PSS per `per` units (pods, hosts) in KiB.
    pub fn kib_per(&self, per: usize) -> f64 {
        self.pss_kib as f64 / per.max(1) as f64
    }

    /// `"412.3 MiB (42 KiB/pod)"`.
    pub fn memory(&self, per: usize, unit: &str) -> String {
        format!(
            "{:.1} MiB ({:.0} KiB/{unit})",
            self.pss_kib as f64 / 1024.0,
            self.kib_per(per)
        )
    }
}

/// The number in `line` after its label (`"Pss:   123 kB"` -> 123).
fn kib_field(text: &str, label: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(label))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
}

fn entries(path: &str) -> usize {
    std::fs::read_dir(path).map(|d| d.count()).unwrap_or(0)
}

/// `root` and every process descended from it (children of any of its threads included:
/// `/proc/<pid>/stat` names the parent's thread group).
pub fn tree(root: u32) -> Vec<u32> {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The ppid is the second field after the parenthesised command name.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0);
        parent_of.push((pid, ppid));
    }
    parent_of.sort_unstable_by_key(|&(_, ppid)| ppid);
    let mut out = vec![root];
    let mut next = 0;
    while next < out.len() {
        let parent = out[next];
        next += 1;
        let start = parent_of.partition_point(|&(_, pp)| pp < parent);
        out.extend(
            parent_of[start..]
                .iter()
                .take_while(|&&(_, pp)| pp == parent)
                .map(|&(p, _)| p),
        );
    }
    out
}

/// Whether `pid`'s address space is not in `spaces` yet (which is kept sorted in `kcmp`'s
/// order, and gets it). If a comparison fails (a process gone, no `kcmp`), it counts as new.
fn new_space(spaces: &mut Vec<u32>, pid: u32) -> bool {
    let mut failed = false;
    let at = spaces.binary_search_by(|&rep| {
        podlab_node_agent::process::compare_memory(rep, pid).unwrap_or_else(|_| {
            failed = true;
            std::cmp::Ordering::Less
        })
    });
    match at {
        Ok(_) => false,
        Err(_) if failed => true,
        Err(i) => {
            spaces.insert(i, pid);
            true
        }
    }
}

/// One sample of `root`'s tree now. Processes that exit while it is read are skipped.
pub fn measure(root: u32) -> Footprint {
    let mut f = Footprint::default();
    let mut spaces = Vec::new();
    for pid in tree(root) {
        // An address space's rollup is read once: the pause processes all share the zygote's
        // (kcmp says so), and reading it for each walked its page tables 10,000 times.
        if new_space(&mut spaces, pid) {
            let Ok(rollup) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
                continue;
            };
            f.pss_kib += kib_field(&rollup, "Pss:").unwrap_or(0);
            f.spaces += 1;
        } else if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        f.processes += 1;
        f.threads += entries(&format!("/proc/{pid}/task"));
        f.fds += entries(&format!("/proc/{pid}/fd"));
    }
    f
}

/// Samples a process tree on a background thread until [`Sampler::finish`]; keeps the sample
/// with the most memory. It sleeps nine times as long as a sample took (at least 250 ms), so it
/// takes at most a tenth of one core from what it measures.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    worker: Option<std::thread::JoinHandle<Footprint>>,
}

impl Sampler {
    /// Starts sampling the tree of `root`.
    pub fn start(root: u32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let worker = std::thread::Builder::new()
            .name("bench-footprint".into())
            .spawn(move || {
                let mut peak = Footprint::default();
                while !flag.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    peak = peak.max_pss(measure(root));
                    let rest = (t.elapsed() * 9).max(Duration::from_millis(250));
                    let until = Instant::now() + rest;
                    while !flag.load(Ordering::Relaxed) && Instant::now() < until {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
                peak
            })
            .ok();
        Sampler { stop, worker }
    }

    /// Stops the sampler; the peak of its samples and `extra` (samples taken by [`measure`]
    /// at chosen moments, e.g. with every pod Running).
    pub fn finish(mut self, extra: &[Footprint]) -> Footprint {
        self.stop.store(true, Ordering::Relaxed);
        let mut peak = self.worker.take().and_then(|w| w.join().ok()).unwrap_or_default();
        for f in extra {
            peak = peak.max_pss(*f);
        }
        peak
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Footprint {
    /// Whichever of the two has more memory (the other counts go with it).
    fn max_pss(self, other: Footprint) -> Footprint {
        if other.pss_kib > self.pss_kib { other } else { self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_its_own_tree_and_has_memory_threads_and_descriptors() {
        let me = std::process::id();
        let f = measure(me);
        assert!(tree(me).contains(&me));
        assert!(f.processes >= 1 && f.threads >= 1 && f.fds >= 3, "{f:?}");
        // smaps_rollup may be unreadable in a restricted container; then PSS is 0, never a panic.
        let mut child = std::process::Command::new("sleep").arg("5").spawn().expect("sleep");
        let with_child = tree(me);
        let _ = child.kill();
        let _ = child.wait();
        assert!(with_child.contains(&child.id()), "{with_child:?}");
        assert_eq!(kib_field("Rss: 10 kB\nPss:  7 kB\n", "Pss:"), Some(7));
        assert_eq!(f.spaces, 1, "{f:?}");
        // The same address space twice is counted once.
        let mut spaces = Vec::new();
        assert!(new_space(&mut spaces, me));
        assert!(!new_space(&mut spaces, me));
    }
}
