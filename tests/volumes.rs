//! Volumes as a Kubernetes user sees them: tests/scenarios/volumes.yaml (emptyDir shared by
//! two containers that keep their own /tmp, ConfigMaps and Secrets as files and env, subPath,
//! readOnly, the downward API, a missing ConfigMap holding a container in
//! CreateContainerConfigError until it is applied), and a volume whose ConfigMap is missing
//! keeping the pod ContainerCreating with the kubelet's FailedMount event until it exists.
//! Nothing of the volumes stays on the machine after the pod is deleted; an emptyDir of
//! `medium: Memory` that is on disk (the runtime directory is not a tmpfs) is warned about.

mod common;
use common::*;

#[test]
fn the_volumes_scenario_passes_with_podlab_run() {
    if !require_root("the_volumes_scenario_passes_with_podlab_run") {
        return;
    }
    let out = podlab().args(["run", "tests/scenarios/volumes.yaml"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn the_book_sidecar_serves_the_emptydir_its_sidecar_fills() {
    if !require_root("the_book_sidecar_serves_the_emptydir_its_sidecar_fills") {
        return;
    }
    let out = podlab().args(["run", "scenarios/sidecar.yaml"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

/// A pod whose configMap volume names a ConfigMap nobody applied yet.
const WAITS_FOR_CONFIG: &str = "apiVersion: v1
kind: Pod
metadata: {name: waits}
spec:
  volumes:
  - name: cfg
    configMap: {name: later}
  containers:
  - name: app
    image: busybox
    command: [sleep, '3600']
    volumeMounts:
    - {name: cfg, mountPath: /etc/app}
";

const LATER: &str = "apiVersion: v1
kind: ConfigMap
metadata: {name: later}
data: {mode: fast}
";

#[test]
fn a_missing_config_map_holds_the_pod_with_failed_mount_until_it_is_applied() {
    if !require_root("a_missing_config_map_holds_the_pod_with_failed_mount_until_it_is_applied") {
        return;
    }
    let cluster = UpCluster::up("tests/scenarios/volumes.yaml", "t-vol");
    // `medium: Memory` is honest: where the pods' scratch directories are not on a tmpfs (a
    // rootless podlab under a /tmp on disk; as root they are on a tmpfs of podlab's own), the
    // pod gets a warning saying the volume is on disk.
    let run_fs = std::process::Command::new("stat")
        .args(["-f", "-L", "-c", "%T"])
        .arg(run_base().join(&cluster.name).join("pods"))
        .output()
        .unwrap();
    let on_tmpfs = text(&run_fs).trim() == "tmpfs";
    let warned = eventually(20, || {
        cluster.run(&["describe", "pod", "vols"]).contains("MemoryVolumeOnDisk")
    });
    assert_eq!(warned, !on_tmpfs, "{}", cluster.run(&["describe", "pod", "vols"]));
    let dir = std::env::temp_dir().join(format!("podlab-vol-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (pod, cm) = (dir.join("pod.yaml"), dir.join("cm.yaml"));
    std::fs::write(&pod, WAITS_FOR_CONFIG).unwrap();
    std::fs::write(&cm, LATER).unwrap();
    let out = cluster.run(&["apply", "-f", pod.to_str().unwrap()]);
    assert!(out.contains("pod/waits created"), "{out}");
    let failed_mount = eventually(20, || {
        let d = cluster.run(&["describe", "pod", "waits"]);
        d.contains("FailedMount")
            && d.contains("MountVolume.SetUp failed for volume \"cfg\" : configmap \"later\" not found")
    });
    assert!(failed_mount, "{}", cluster.run(&["describe", "pod", "waits"]));
    let get = cluster.run(&["get", "pod", "waits"]);
    assert!(get.contains("ContainerCreating"), "{get}");
    let out = cluster.run(&["apply", "-f", cm.to_str().unwrap()]);
    assert!(out.contains("configmap/later created"), "{out}");
    assert!(
        eventually(20, || cluster.run(&["get", "pod", "waits"]).contains("Running")),
        "{}",
        cluster.run(&["describe", "pod", "waits"])
    );
    let out = cluster
        .cmd()
        .args(["exec", "waits", "--", "cat", "/etc/app/mode"])
        .output()
        .unwrap();
    assert_eq!(text(&out).trim(), "fast");
    // The volumes live in the pod's scratch directory and go with it.
    let pods = run_base().join(&cluster.name).join("pods");
    let with_volume = || {
        std::fs::read_dir(&pods)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.path().join("volumes/cfg/mode").exists())
    };
    assert!(with_volume(), "the volume is under {}", pods.display());
    let out = cluster.run(&["delete", "pod", "waits"]);
    assert!(out.contains("deleted"), "{out}");
    assert!(eventually(20, || !with_volume()), "the volume outlived its pod");
    let _ = std::fs::remove_dir_all(&dir);
}
