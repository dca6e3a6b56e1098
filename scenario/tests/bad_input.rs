//! Every file under tests/bad-input/ must fail to load with a message a user can act on:
//! it names the file, the line and column where there is one, and the expected words.

use std::path::{Path, PathBuf};

/// (file, expected position prefix after the file name, expected message fragment)
const CASES: &[(&str, &str, &str)] = &[
    (
        "image-runs-unknown.yaml",
        ":7:41: ",
        "cluster.nodes[0].images[0].runs: Unsupported value: \"node:7\": runs must name a built-in catalog image",
    ),
    (
        "image-not-in-catalog.yaml",
        ":9:11: ",
        "cluster.nodes[0].images[1]: \"mycorp/app:v1\" is not a built-in catalog image; for a locally built image say what it runs",
    ),
    (
        "registry-bare-name.yaml",
        ":6:7: ",
        "cluster.registry[0]: expected {name, runs}",
    ),
    (
        "registry-missing-runs.yaml",
        ":6:7: ",
        "cluster.registry[0].runs: Required value: the catalog image this image runs",
    ),
    ("malformed.yaml", ":6:15: ", "unclosed bracket"),
    (
        "tabs.yaml",
        ":4:1: ",
        "YAML does not allow tab characters for indentation; use spaces",
    ),
    (
        "spec-list.yaml",
        ":6:3: ",
        "spec: expected a map (mapping), found a list",
    ),
    (
        "port-eighty.yaml",
        ":10:22: ",
        "spec.containers[0].ports[0].containerPort: expected a whole number, found the string \"eighty\"",
    ),
    (
        "huge-port.yaml",
        ":10:22: ",
        "spec.containers[0].ports[0].containerPort: the number 100000000000000000000 does not fit",
    ),
    (
        "host-network.yaml",
        ":6:",
        "spec.hostNetwork: Forbidden: podlab refuses it: it would reach the machine's own network namespace",
    ),
    (
        "mount-unknown-volume.yaml",
        ":",
        "spec.containers[0].volumeMounts[0].name: Not found: \"html\"",
    ),
    (
        "host-path.yaml",
        ":",
        "spec.volumes[0].hostPath: Forbidden: podlab refuses it: it would reach the machine's own files",
    ),
    (
        "no-containers.yaml",
        ":6:3: ",
        "The Pod \"x\" is invalid: spec.containers: Required value",
    ),
    (
        "bad-name.yaml",
        ":4:9: ",
        r#"The Pod "Foo_bar" is invalid: metadata.name: Invalid value: "Foo_bar": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#,
    ),
    (
        "bad-container-name.yaml",
        ":7:11: ",
        "spec.containers[0].name: Invalid value: \"Web_Server\": a lowercase RFC 1123 label must consist of",
    ),
    (
        "duplicate-container.yaml",
        ":9:11: ",
        "spec.containers[1].name: Duplicate value: \"web\"",
    ),
    (
        "bad-namespace.yaml",
        ":4:9: ",
        "The Namespace \"My.Team\" is invalid: metadata.name: Invalid value: \"My.Team\": a lowercase RFC 1123 label",
    ),
    (
        "duplicate-object.yaml",
        ":10: ",
        "Pod \"web\" in namespace \"default\" is defined twice: first at",
    ),
    (
        "service.yaml",
        ":2:7: ",
        "kind \"Service\" is not supported by podlab yet (supported: Pod, Namespace, Deployment, ReplicaSet, ConfigMap, Secret)",
    ),
    (
        "wrong-api-version.yaml",
        ":1:13: ",
        "no matches for kind \"Deployment\" in version \"v1\"",
    ),
    (
        "missing-file.yaml",
        ":5:11: ",
        "manifest file \"manifests/nope.yaml\" not found",
    ),
    (
        "escaping-path.yaml",
        ":5:11: ",
        "points outside the scenario's directory",
    ),
    ("absolute-path.yaml", ":5:11: ", "is an absolute path"),
    (
        "bad-node-name.yaml",
        ":6:13: ",
        "node name \"Worker_1\" is invalid: a lowercase RFC 1123 subdomain",
    ),
    (
        "duplicate-node.yaml",
        ":8:13: ",
        "node \"worker-1\" is defined twice (first on line 6)",
    ),
    (
        "bad-cidr.yaml",
        ":5:12: ",
        "cluster.podCIDR: \"10.244.0.0/33\" is not an IPv4 range",
    ),
    (
        "scenario-name-path.yaml",
        ":3:",
        "metadata.name: Invalid value: \"../../etc/evil\": a lowercase RFC 1123 label",
    ),
    (
        "small-pod-range.yaml",
        ":6:12: ",
        "podCIDR 10.244.0.0/22 has room for 3 /24 node ranges, but the cluster has 5 nodes",
    ),
    (
        "overlapping-ranges.yaml",
        ":6:15: ",
        "the pod range 10.0.0.0/8 and the fabric range 10.1.0.0/16 overlap",
    ),
    ("empty.yaml", ": ", "the file is empty"),
    ("only-comments.yaml", ": ", "holds only comments"),
    ("not-kubernetes.yaml", ":1:1: ", "neither a podlab scenario"),
    (
        "bad-quantity.yaml",
        ":11:14: ",
        "spec.containers[0].resources.requests[cpu]: Invalid value: \"2 cores\"",
    ),
    (
        "bad-node-capacity.yaml",
        ":7:26: ",
        "cluster.nodes[0].capacity.memory: \"4GB of RAM\" is not a valid quantity",
    ),
    (
        "step-two-actions.yaml",
        ":6:5: ",
        "the step on line 6 has 2 actions (wait, sleep)",
    ),
    ("step-no-action.yaml", ":5:5: ", "the step on line 5 has no action"),
    ("bad-duration.yaml", ":5:12: ", "\"5 minutes\" is not a duration"),
    ("bad-selector.yaml", ":5:29: ", "invalid label selector \"app in (web\""),
    ("duplicate-key.yaml", ":5:3: ", "mapping key \"name\" already defined"),
    ("no-kind.yaml", ":1:1: ", "this object has no \"kind\""),
    (
        "selector-mismatch.yaml",
        ":11:15: ",
        "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"frontend\"}: `selector` does not match template `labels`",
    ),
    (
        "bad-port-range.yaml",
        ":10:22: ",
        "containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
    ),
    ("bad-scoring.yaml", ":5:24: ", "Unsupported value: \"Random\""),
    ("two-scenarios.yaml", ":5:1: ", "only one Scenario document"),
    ("bad-json.json", ":1:", "bad-json.json:1:"),
    (
        "alias-bomb.yaml",
        ":6:10: ",
        "the aliases (*name) in this file expand to more than 10000 YAML values",
    ),
    (
        "bad-link-rate.yaml",
        ":5:31: ",
        "cluster.links.rate: \"100mbps\" is not a rate: write a positive number with a unit in bits per second, like 500kbit, 100mbit or 1gbit",
    ),
    (
        "bad-link-jitter.yaml",
        ":7:13: ",
        "cluster.links.jitter: jitter 5ms is larger than the latency 1ms",
    ),
    (
        "bad-uplink-latency.yaml",
        ":8:25: ",
        "cluster.nodes[1].uplink.latency: \"-3ms\" is not a duration",
    ),
    (
        "bad-traffic-endpoint.yaml",
        ":5:19: ",
        "compare.traffic.from: Invalid value: \"Web/frontend\": write POD or POD/CONTAINER; the pod name is invalid",
    ),
    (
        "traffic-missing-to.yaml",
        ":6:5: ",
        "compare.traffic.to: Required value: the pod (POD or POD/CONTAINER) the requests go to",
    ),
    (
        "traffic-zero-requests.yaml",
        ":5:51: ",
        "compare.traffic.requests: Invalid value: 0: must be between 1 and 100000",
    ),
];

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-input")
}

#[test]
fn every_bad_input_fails_with_its_message() {
    let mut failures = Vec::new();
    for (file, pos, fragment) in CASES {
        let path = dir().join(file);
        match podlab_scenario::load(&path) {
            Ok(_) => failures.push(format!("{file}: loaded without error")),
            Err(e) => {
                let text = e.to_string();
                let prefix = format!("{}{pos}", path.display());
                if !text.starts_with(&prefix) || !text.contains(fragment) {
                    failures.push(format!(
                        "{file}:\n  got:      {text}\n  expected: {prefix}...{fragment}..."
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_bad_input_file_has_a_case() {
    let listed: Vec<&str> = CASES.iter().map(|c| c.0).collect();
    for entry in std::fs::read_dir(dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            listed.contains(&name.as_str()),
            "{name} has no expected message in CASES"
        );
    }
}

#[test]
fn load_manifests_rejects_a_scenario() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/split.yaml");
    let err = podlab_scenario::load_manifests(&path).unwrap_err();
    assert!(err.to_string().contains("this is a podlab scenario"), "{err}");
}

#[test]
fn errors_expose_their_position() {
    let err = podlab_scenario::load(&dir().join("port-eighty.yaml")).unwrap_err();
    let pos = err.position().expect("a position");
    assert_eq!((pos.line, pos.column), (10, 22));
    match err {
        podlab_scenario::LoadError::Type { field, .. } => {
            assert_eq!(field, "spec.containers[0].ports[0].containerPort")
        }
        other => panic!("expected a Type error, got {other:?}"),
    }
}
