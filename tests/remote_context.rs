//! End-to-end: `podlab run --context` runs bundled scenarios' Kubernetes steps against
//! podlab's own API (a `podlab up` cluster with no manifests, shaped like the scenario's), and
//! the `kube` crate lists, watches, execs and port-forwards against that API directly.
//! KUBECONFIG is always set explicitly: ~/.kube/config is never read or written.

mod common;
use common::*;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, ListParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn kubeconfig(c: &UpCluster) -> String {
    format!("{}/{}/kubeconfig", run_base().display(), c.name)
}

/// `podlab run --context podlab-NAME FILE` against `c`; (exit code, output).
fn run_remote(c: &UpCluster, file: &str) -> (i32, String) {
    let out = podlab()
        .args(["run", "--context", &format!("podlab-{}", c.name), file])
        .env("KUBECONFIG", kubeconfig(c))
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), text(&out))
}

#[test]
fn bundled_scenarios_pass_through_context() {
    if !require_root("bundled_scenarios_pass_through_context") {
        return;
    }
    let two = UpCluster::up("tests/scenarios/remote-two-nodes.yaml", "t-remote2");
    for file in ["scenarios/hello.yaml", "scenarios/sidecar.yaml"] {
        let (code, out) = run_remote(&two, file);
        assert_eq!(code, 0, "{file}:\n{out}");
        assert!(
            out.contains("\nPASS: ") && !out.contains(" ✗ ") && !out.contains("skipped"),
            "{file}:\n{out}"
        );
    }
    // The lesson's `exec` in a node's namespaces needs podlab's own cluster: skipped, with why.
    let (code, out) = run_remote(&two, "scenarios/lessons/04-cross-node-routing.yaml");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("PASS: 3 passed, 0 failed, 2 skipped"), "{out}");
    assert!(
        out.contains("skipped (needs podlab's own cluster: --context runs only the Kubernetes steps)"),
        "{out}"
    );

    let split = UpCluster::up("tests/scenarios/remote-split.yaml", "t-remote-split");
    let (code, out) = run_remote(&split, "scenarios/frontend-backend/split.yaml");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("PASS: 4 passed, 0 failed"), "{out}");
    assert!(
        out.contains("the receiver saw the sender's own pod IP (no NAT)"),
        "{out}"
    );

    // A failing expectation fails the run (exit 1) with the runner's wording.
    let (code, out) = run_remote(&two, "tests/scenarios/remote-failing.yaml");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(" ✗ [2] expect pod lonely, count 2") && out.contains("expected 2 pod(s), found 1"),
        "{out}"
    );
    assert!(out.contains("FAIL: 1 passed, 1 failed"), "{out}");
}

async fn client(c: &UpCluster) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig(c)).unwrap();
    let opts = kube::config::KubeConfigOptions {
        context: Some(format!("podlab-{}", c.name)),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kc, &opts).await.unwrap();
    kube::Client::try_from(config).unwrap()
}

fn pod(name: &str, image: &str, command: Option<Vec<String>>) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"test": "kube"}},
        "spec": {"containers": [{"name": "main", "image": image, "command": command,
                                  "ports": [{"containerPort": 80}]}]}
    }))
    .unwrap()
}

/// The first watch event showing pod `name` Running.
async fn seen_running(pods: Api<Pod>, name: &str) -> Pod {
    let cfg = watcher::Config::default().labels("test=kube");
    let mut stream = watcher(pods, cfg).applied_objects().boxed();
    while let Some(p) = stream.try_next().await.unwrap() {
        let running = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
        if p.metadata.name.as_deref() == Some(name) && running {
            return p;
        }
    }
    panic!("the watch ended before {name} was Running");
}

#[test]
fn kube_client_lists_watches_execs_and_port_forwards() {
    if !require_root("kube_client_lists_watches_execs_and_port_forwards") {
        return;
    }
    let c = UpCluster::up("tests/scenarios/remote-two-nodes.yaml", "t-remote-kube");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = client(&c).await;
        let pods: Api<Pod> = Api::default_namespaced(client.clone());
        assert!(pods.list(&ListParams::default()).await.unwrap().items.is_empty());

        // A watch started before the pod exists sees it come and run.
        let watch = tokio::spawn(seen_running(pods.clone(), "web"));
        tokio::time::sleep(Duration::from_millis(300)).await;
        pods.create(&PostParams::default(), &pod("web", "nginx", None))
            .await
            .unwrap();
        let web = tokio::time::timeout(Duration::from_secs(30), watch)
            .await
            .unwrap()
            .unwrap();
        assert!(
            web.status
                .and_then(|s| s.pod_ip)
                .is_some_and(|ip| ip.starts_with("10.244."))
        );
        let listed = pods.list(&ListParams::default().labels("test=kube")).await.unwrap();
        assert_eq!(listed.items.len(), 1);

        // exec: stdout, stderr and the exit status.
        let ap = AttachParams::default().stdin(false).stdout(true).stderr(true);
        let mut proc = pods
            .exec("web", ["sh", "-c", "echo out; echo err >&2; exit 3"], &ap)
            .await
            .unwrap();
        let (mut out, mut err) = (String::new(), String::new());
        proc.stdout().unwrap().read_to_string(&mut out).await.unwrap();
        proc.stderr().unwrap().read_to_string(&mut err).await.unwrap();
        let status = proc.take_status().unwrap().await.unwrap();
        assert_eq!((out.as_str(), err.as_str()), ("out\n", "err\n"));
        assert_eq!(status.status.as_deref(), Some("Failure"), "{status:?}");
        let causes = status.details.and_then(|d| d.causes).unwrap_or_default();
        assert!(
            causes
                .iter()
                .any(|c| c.reason.as_deref() == Some("ExitCode") && c.message.as_deref() == Some("3"))
        );

        // port-forward to nginx's :80: an HTTP answer through the tunnel.
        let mut pf = pods.portforward("web", &[80]).await.unwrap();
        let mut stream = pf.take_stream(80).unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer)).await;
        assert!(read.is_ok(), "no answer through the port-forward; so far: {answer}");
        assert!(
            answer.starts_with("HTTP/1.") && answer.contains("Welcome to nginx!"),
            "{answer}"
        );
        drop(stream);
        pf.abort();
    });
}
