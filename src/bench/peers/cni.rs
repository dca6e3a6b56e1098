//! Pod network setup and teardown per pod: podlab's netplugin against the reference CNI
//! `bridge` + `host-local` plugins driven directly (CNI_COMMAND=ADD/DEL, CNI_NETNS of a pause
//! process, config on stdin), both on one node namespace with pods held by pause processes.
//!
//! podlab tears a pod down the way its cluster does (kill the pause process, release the
//! address; the kernel removes the veth with the namespace), timed until the node's veths are
//! really gone. The CNI side runs DEL (which deletes the veth) and then kills the pause process.

use super::{Row, link_count_in, ms, wait_links_at_most};
use anyhow::{Context, Result, bail};
use podlab_netplugin::{Dataplane, PodRef};
use podlab_node_agent::{Sandbox, SandboxKind, Spawner};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Setup and teardown of `pods` pods, in total.
#[derive(Clone, Debug)]
pub struct NetFigures {
    pub pods: usize,
    pub setup: Duration,
    pub teardown: Duration,
}

impl NetFigures {
    fn setup_ms(&self) -> f64 {
        ms(self.setup) / self.pods.max(1) as f64
    }
    fn teardown_ms(&self) -> f64 {
        ms(self.teardown) / self.pods.max(1) as f64
    }
}

fn pod_sandboxes(spawner: &Spawner, n: usize, prefix: &str) -> Result<Vec<Sandbox>> {
    (0..n)
        .map(|i| Sandbox::create(spawner, SandboxKind::Pod, &format!("{prefix}-{i}")))
        .collect::<std::io::Result<Vec<_>>>()
        .context("creating pod sandboxes")
}

/// podlab: `add_pod` for each pod in turn, then the cluster's teardown.
pub fn podlab_side(pods: usize) -> Result<NetFigures> {
    super::in_fresh_netns("podlab pod network", move |rt| {
        let spawner = Spawner::new();
        let node = Sandbox::create(&spawner, SandboxKind::Node, "net-node").context("node sandbox")?;
        let sbs = pod_sandboxes(&spawner, pods, "net-pod")?;
        let net = crate::bench::network();
        let dp = Dataplane::kernel(net.clone(), rt.handle().clone())?;
        let addr = net.node(1, "worker-1")?;
        rt.block_on(dp.setup_node(&addr, Some(&*node.netns()?)))?;
        let baseline = link_count_in(&*node.netns()?)?;
        let refs: Vec<PodRef> = (0..pods)
            .map(|k| PodRef {
                namespace: "default".into(),
                name: format!("p{k}"),
                uid: format!("uid-{k}"),
            })
            .collect();

        let t = Instant::now();
        rt.block_on(async {
            for (sb, pod) in sbs.iter().zip(&refs) {
                dp.add_pod("worker-1", pod, Some(&*sb.netns()?)).await?;
            }
            Ok::<_, anyhow::Error>(())
        })?;
        let setup = t.elapsed();
        let now = link_count_in(&*node.netns()?)?;
        if now != baseline + pods {
            bail!(
                "podlab: expected {pods} pod veths on the node, found {}",
                now.saturating_sub(baseline)
            );
        }

        let t = Instant::now();
        rt.block_on(async {
            for (sb, pod) in sbs.iter().zip(&refs) {
                sb.kill();
                dp.release_pod("worker-1", pod).await?;
            }
            Ok::<_, podlab_netplugin::NetError>(())
        })?;
        drop(sbs);
        wait_links_at_most(&*node.netns()?, baseline, Duration::from_secs(60))?;
        let teardown = t.elapsed();
        Ok(NetFigures { pods, setup, teardown })
    })
}

/// One plugin call, run from the calling thread (which is in the node's namespace).
fn cni_call(dir: &Path, command: &str, pod: usize, netns_pid: i32, config: &str) -> Result<String> {
    let mut child = Command::new(dir.join("bridge"))
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", format!("podlab-bench-{pod}"))
        .env("CNI_NETNS", format!("/proc/{netns_pid}/ns/net"))
        .env("CNI_IFNAME", "eth0")
        .env("CNI_PATH", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", dir.join("bridge").display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(config.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "CNI {command} for pod {pod} failed ({}): {}{}",
            out.status,
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(stdout)
}

/// The reference plugins: ADD for each pod in turn, then DEL for each and the pause kill.
pub fn cni_side(pods: usize, dir: &Path, scratch: &Path) -> Result<NetFigures> {
    let dir = dir.to_path_buf();
    let data_dir = scratch.join("host-local");
    std::fs::create_dir_all(&data_dir)?;
    let config = serde_json::json!({
        "cniVersion": "1.0.0",
        "name": "podlab-bench",
        "type": "bridge",
        "bridge": "cni0",
        "isGateway": true,
        "ipMasq": false,
        "ipam": {
            "type": "host-local",
            "subnet": "10.244.1.0/24",
            "routes": [{"dst": "0.0.0.0/0"}],
            "dataDir": data_dir,
        }
    })
    .to_string();
    super::in_fresh_netns("CNI bridge plugin", move |_rt| {
        let spawner = Spawner::new();
        let node = Sandbox::create(&spawner, SandboxKind::Node, "cni-node").context("node sandbox")?;
        // Pod 0 warms up: its ADD creates the bridge `cni0` (podlab's node already has it).
        let sbs = pod_sandboxes(&spawner, pods + 1, "cni-pod")?;
        let node_ns = node.netns()?.into_owned()?;
        let pids: Vec<i32> = sbs.iter().map(Sandbox::pid).collect();
        let (setup, del, first) = podlab_netplugin::ns::run_in(&node_ns, || -> Result<_> {
            cni_call(&dir, "ADD", 0, pids[0], &config)?;
            let t = Instant::now();
            let mut first = String::new();
            for (k, pid) in pids.iter().enumerate().skip(1) {
                let out = cni_call(&dir, "ADD", k, *pid, &config)?;
                if k == 1 {
                    first = out;
                }
            }
            let setup = t.elapsed();
            let t = Instant::now();
            for (k, pid) in pids.iter().enumerate().skip(1) {
                cni_call(&dir, "DEL", k, *pid, &config)?;
            }
            Ok((setup, t.elapsed(), first))
        })??;
        if !first.contains("10.244.1.") {
            bail!("the CNI bridge plugin's ADD returned no address in 10.244.1.0/24: {first}");
        }
        let baseline = link_count_in(&*node.netns()?)?;
        let mut sbs = sbs;
        let warm = sbs.remove(0);
        let t = Instant::now();
        for sb in &sbs {
            sb.kill();
        }
        drop(sbs);
        wait_links_at_most(&*node.netns()?, baseline, Duration::from_secs(60))?;
        let teardown = del + t.elapsed();
        drop(warm);
        Ok(NetFigures { pods, setup, teardown })
    })
}

/// Table rows: per-pod setup and teardown, with the targets (5x and 20x faster).
pub fn rows(p: &NetFigures, cni: Option<&NetFigures>) -> Vec<Row> {
    let mut setup = Row::new("pod network setup, per pod", format!("{:.2} ms", p.setup_ms()));
    let mut teardown = Row::new("pod network teardown, per pod", format!("{:.2} ms", p.teardown_ms()));
    match cni {
        Some(c) => {
            let rs = c.setup_ms() / p.setup_ms().max(1e-9);
            let rt = c.teardown_ms() / p.teardown_ms().max(1e-9);
            setup = setup
                .peer("CNI bridge+host-local", format!("{:.2} ms", c.setup_ms()))
                .ratio(rs, " faster", ">= 5x faster", Some(rs >= 5.0));
            teardown = teardown
                .peer("CNI bridge+host-local", format!("{:.2} ms", c.teardown_ms()))
                .ratio(rt, " faster", ">= 20x faster", Some(rt >= 20.0));
        }
        None => {
            setup = setup.peer("CNI bridge+host-local", "not run");
            teardown = teardown.peer("CNI bridge+host-local", "not run");
        }
    }
    vec![setup, teardown]
}
