//! Before building anything, podlab checks a scenario against the machine's limits and refuses
//! one that does not fit, naming the limit, the figure needed and the figure available, and
//! leaving nothing behind. A scenario can pin `cluster.dataplane: model`.

mod common;
use common::*;

fn podlab_dirs() -> Vec<String> {
    std::fs::read_dir(run_base())
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_scenario_too_big_for_its_pod_range_is_refused_before_anything_is_built() {
    if !require_root("a_scenario_too_big_for_its_pod_range_is_refused_before_anything_is_built") {
        return;
    }
    let before_net = root_net_snapshot();
    for verb in ["run", "up"] {
        let mut cmd = podlab();
        cmd.args([verb, "tests/scenarios/too-big.yaml"]);
        if verb == "up" {
            cmd.args(["--name", &format!("too-big-{}", std::process::id())]);
        }
        let out = cmd.output().unwrap();
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{t}");
        assert!(t.contains("nothing was built"), "{t}");
        assert!(
            t.contains("cluster.nodeCIDRPrefix /28: this scenario needs 20 pod addresses on the busiest node but the machine allows 13"),
            "{t}"
        );
        assert!(t.contains("--dataplane model"), "{t}");
        assert!(!t.contains("Creating cluster"), "built something:\n{t}");
    }
    assert!(
        !podlab_dirs().iter().any(|d| d.starts_with("too-big")),
        "{:?}",
        podlab_dirs()
    );
    assert_eq!(before_net, root_net_snapshot(), "the root namespace changed");
}

#[test]
fn a_scenario_needing_more_processes_than_pid_max_is_refused() {
    let pid_max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(u64::MAX);
    if pid_max > 200_000 {
        eprintln!("\n*** SKIPPED pid_max check: kernel.pid_max is {pid_max}, too large to exceed cheaply ***\n");
        return;
    }
    let replicas = pid_max; // a pause process and a container each: twice pid_max processes
    let nodes = replicas.div_ceil(200);
    let dir = std::env::temp_dir().join(format!("podlab-preflight-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("huge.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: podlab.dev/v1alpha1\nkind: Scenario\nmetadata: {{name: huge}}\ncluster:\n  podCIDR: 10.0.0.0/8\n  nodes: {{count: {nodes}, namePrefix: n-, capacity: {{pods: 250}}}}\nmanifests:\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {{name: web}}\n  spec:\n    replicas: {replicas}\n    selector: {{matchLabels: {{app: web}}}}\n    template:\n      metadata: {{labels: {{app: web}}}}\n      spec:\n        containers: [{{name: c, image: podlab/echo}}]\n"
        ),
    )
    .unwrap();
    let out = podlab().arg("run").arg(&file).output().unwrap();
    let t = text(&out);
    let _ = std::fs::remove_dir_all(&dir);
    if !require_root("a_scenario_needing_more_processes_than_pid_max_is_refused") && !t.contains("kernel.pid_max") {
        return;
    }
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("kernel.pid_max: this scenario needs"), "{t}");
    assert!(t.contains(&format!("but the machine allows {pid_max}")), "{t}");
}

#[test]
fn a_scenario_pinned_to_the_model_runs_there_without_root_or_flag() {
    let out = podlab()
        .args(["run", "scenarios/scale/deployment-500-nodes.yaml"])
        .output()
        .unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("model dataplane"), "{t}");
}

/// A scenario whose links need netem on a kernel without it is refused before anything is
/// built, naming the kernel option; on a kernel with netem it runs.
#[test]
fn a_link_setting_the_kernel_cannot_shape_is_refused_before_building() {
    if !require_root("a_link_setting_the_kernel_cannot_shape_is_refused_before_building") {
        return;
    }
    let before = root_net_snapshot();
    let out = podlab()
        .args(["run", "scenarios/frontend-backend/split-slow-link.yaml"])
        .output()
        .unwrap();
    let t = text(&out);
    if t.contains("has no netem qdisc") {
        assert!(!out.status.success(), "{t}");
        assert!(
            t.contains("nothing was built") && t.contains("CONFIG_NET_SCH_NETEM"),
            "{t}"
        );
        assert!(!t.contains("Fabric bridge"), "something was built first:\n{t}");
        assert_eq!(before, root_net_snapshot(), "the root network namespace changed");
    } else {
        assert!(
            out.status.success(),
            "this kernel has netem, the scenario must run:\n{t}"
        );
    }
}
