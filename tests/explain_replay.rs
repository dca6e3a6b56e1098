//! End-to-end: what `podlab run --explain` prints is a recipe a learner can follow by hand.
//! The printed iproute2 commands are replayed with `ip -batch` inside a fresh, private
//! mount+network namespace (so the replay touches nothing of the machine), and the rebuilt
//! topology carries real traffic between the two pods across the two nodes.

mod common;
use common::*;
use std::process::Command;

#[test]
fn explain_output_rebuilds_a_working_cluster_by_hand() {
    if !require_root("explain_output_rebuilds_a_working_cluster_by_hand") {
        return;
    }
    let out = podlab()
        .args(["run", "--explain", "scenarios/hello.yaml"])
        .output()
        .unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    // Before any `ip` line: the scratch shell, so a replay pasted by hand never reaches the
    // machine's own network.
    let first_ip = t.find("$ ip ").unwrap_or(0);
    let scratch = t
        .find("$ unshare --user --map-root-user --net --mount")
        .expect("the scratch-namespace preamble");
    assert!(
        scratch < first_ip,
        "the preamble must come before the first ip command:\n{t}"
    );
    let cmds: Vec<String> = t
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("$ ip "))
        .map(|c| match c.strip_prefix("-n ") {
            // `ip -batch` takes no global options per line: `ip -n NS cmd` = `netns exec NS ip cmd`.
            Some(rest) => {
                let (ns, cmd) = rest.split_once(' ').unwrap();
                format!("netns exec {ns} ip {cmd}")
            }
            None => c.to_string(),
        })
        .collect();
    for want in [
        "netns add worker-1",
        "link add podlab0 type bridge",
        "route add 10.244.2.0/24 via 172.18.0.3",
        "route add default via 10.244.1.1",
    ] {
        assert!(
            cmds.iter().any(|c| c.contains(want)),
            "--explain lacks {want:?}:\n{}",
            cmds.join("\n")
        );
    }
    let dir = std::env::temp_dir().join(format!("podlab-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let batch = dir.join("explain.batch");
    std::fs::write(&batch, cmds.join("\n") + "\n").unwrap();
    let nginx_ip = t
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("$ ip -n nginx addr add "))
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_string();
    let script = format!(
        r#"set -e
mount -t tmpfs podlab-replay /run
mkdir -p /run/netns
ip -batch {batch}
ip netns exec nginx env POD_NAME=nginx {exe} __image nginx >/dev/null 2>&1 &
trap 'kill %1 2>/dev/null' EXIT
for i in $(seq 50); do ip netns exec nginx ss -ltn | grep -q ':80 ' && break; sleep 0.1; done
ip netns exec client curl -s -m 3 http://{nginx_ip}:80/
"#,
        batch = batch.display(),
        exe = env!("CARGO_BIN_EXE_podlab"),
    );
    let before = root_net_snapshot();
    let out = Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "--net",
            "--propagation",
            "private",
            "bash",
            "-c",
            &script,
        ])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let r = text(&out);
    assert!(out.status.success(), "replay failed:\n{r}");
    assert!(r.contains("Welcome to nginx!"), "{r}");
    assert_eq!(
        before,
        root_net_snapshot(),
        "the replay must not touch the machine's network"
    );
}
