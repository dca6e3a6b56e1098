//! The Mininet peer: runs `bench/mininet_bringup.py` (embedded in the binary, written to the
//! scratch directory) under `unshare --net --mount --pid --fork --mount-proc --kill-child`, so
//! Mininet's switches, links and host shells live in private namespaces and all its processes
//! die with the private pid namespace's init, on success, error or timeout.

use anyhow::{Context, Result, bail};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The driver script (Mininet's API is Python).
const SCRIPT: &str = include_str!("../../../bench/mininet_bringup.py");

/// What Mininet reported for one build.
#[derive(Clone, Debug)]
pub struct MininetFigures {
    pub hosts: usize,
    /// `Mininet(...).build()` + `start()`: hosts, switches, links, addresses, bridges up.
    pub bringup: Duration,
    /// `net.stop()`.
    pub stop: Duration,
    /// RSS of Mininet's Python process before and after the build, in KiB.
    pub rss_kib_before: u64,
    pub rss_kib_after: u64,
    /// With every host up: PSS of every process of Mininet's private pid namespace (its
    /// Python process and each host's shell), KiB, and how many processes that is.
    pub pss_kib_total: u64,
    pub processes: usize,
    /// A TCP connection from the first host to the last succeeded.
    pub connect_ok: bool,
}

impl MininetFigures {
    /// Growth of Mininet's Python process per host, in KiB.
    pub fn rss_kib_per_host(&self) -> f64 {
        self.rss_kib_after.saturating_sub(self.rss_kib_before) as f64 / self.hosts.max(1) as f64
    }

    /// The whole process tree's PSS per host, in KiB.
    pub fn pss_kib_per_host(&self) -> f64 {
        self.pss_kib_total as f64 / self.hosts.max(1) as f64
    }
}

fn spawn_reader(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        s
    })
}

/// Parses the script's `MININET_RESULT {json}` line.
pub fn parse(stdout: &str) -> Result<MininetFigures> {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("MININET_RESULT "))
        .context("the Mininet driver printed no result")?;
    let v: serde_json::Value = serde_json::from_str(line).context("reading the Mininet driver's result")?;
    let f = |k: &str| v.get(k).and_then(serde_json::Value::as_f64).unwrap_or(0.0);
    Ok(MininetFigures {
        hosts: f("hosts") as usize,
        bringup: Duration::from_secs_f64(f("bringup_s").max(0.0)),
        stop: Duration::from_secs_f64(f("stop_s").max(0.0)),
        rss_kib_before: f("rss_kib_before") as u64,
        rss_kib_after: f("rss_kib_after") as u64,
        pss_kib_total: f("pss_kib_total") as u64,
        processes: f("processes") as usize,
        connect_ok: v
            .get("connect_ok")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false),
    })
}

/// Builds `hosts` Mininet hosts on `switches` edge switches (plus a core switch if more than
/// one), bounded in time; kills what it started if the bound is hit.
pub fn bringup(hosts: usize, switches: usize, scratch: &Path) -> Result<MininetFigures> {
    let script = scratch.join("mininet_bringup.py");
    std::fs::write(&script, SCRIPT).context("writing the Mininet driver")?;
    let mut child = Command::new("unshare")
        .args([
            "--net",
            "--mount",
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            "/usr/bin/python3",
        ])
        .arg(&script)
        .args(["--hosts", &hosts.to_string(), "--switches", &switches.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting Mininet under unshare")?;
    let out = spawn_reader(child.stdout.take().context("Mininet's stdout")?);
    let err = spawn_reader(child.stderr.take().context("Mininet's stderr")?);
    let limit = Duration::from_secs(120 + hosts as u64);
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break Some(s);
        }
        if Instant::now() >= deadline {
            // The unshare process we started; --kill-child takes Mininet's whole pid namespace.
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let Some(status) = status else {
        bail!("Mininet did not finish {hosts} hosts within {limit:?} (stopped)");
    };
    if let Some(m) = stdout.lines().find_map(|l| l.strip_prefix("MININET_MISSING ")) {
        bail!("Mininet is not installed ({m}); apt-get install -y mininet bridge-utils");
    }
    if !status.success() {
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        bail!(
            "Mininet exited with {status}: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        );
    }
    parse(&stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_driver_result_line() {
        let out = "noise\nMININET_RESULT {\"hosts\": 10, \"bringup_s\": 0.5, \"stop_s\": 0.25, \
                   \"rss_kib_before\": 1000, \"rss_kib_after\": 2000, \"pss_kib_total\": 5000, \
                   \"processes\": 11, \"connect_ok\": true}\n";
        let m = parse(out).unwrap();
        assert_eq!(m.hosts, 10);
        assert_eq!(m.bringup, Duration::from_millis(500));
        assert_eq!(m.rss_kib_per_host(), 100.0);
        assert_eq!(m.pss_kib_per_host(), 500.0);
        assert_eq!(m.processes, 11);
        assert!(m.connect_ok);
        assert!(parse("nothing").is_err());
    }
}
