//! Every field of the list of fields podlab does not honour warns when a manifest sets it (with
//! its concrete path and reason), its default value does not, and a misspelt field is named
//! with a suggestion even when the object then fails to load.

use podlab_scenario::unimplemented::UNIMPLEMENTED;
use serde_json::{Value, json};

fn base(kind: &str) -> Value {
    let pod_spec = json!({"containers": [{"name": "c", "image": "busybox"}],
                          "initContainers": [{"name": "i", "image": "busybox"}]});
    match kind {
        "Pod" => json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": pod_spec}),
        _ => json!({"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "w"},
                    "spec": {"selector": {"matchLabels": {"app": "w"}},
                             "template": {"metadata": {"labels": {"app": "w"}}, "spec": pod_spec}}}),
    }
}

/// Sets `sample` at `pattern` (`[]` is element 0, created when missing; for a path ending in
/// `*` the sample is the whole map). Returns the concrete path that should warn.
fn set(obj: &mut Value, pattern: &str, sample: Value) -> String {
    let segs: Vec<&str> = pattern.split('.').collect();
    let (last, parents) = segs.split_last().unwrap();
    let mut node = obj;
    let mut path = Vec::new();
    for seg in parents {
        let (name, each) = seg.strip_suffix("[]").map_or((*seg, false), |n| (n, true));
        let child = &mut node[name];
        if each {
            if !child.is_array() {
                let first = match name {
                    "volumes" => json!({"name": "v"}),
                    "env" => json!({"name": "E"}),
                    "ports" => json!({"containerPort": 80}),
                    "volumeMounts" => json!({"name": "v", "mountPath": "/v"}),
                    _ => json!({}),
                };
                *child = json!([first]);
            }
            node = &mut child[0];
            path.push(format!("{name}[0]"));
        } else {
            if child.is_null() {
                *child = json!({});
            }
            node = child;
            path.push(name.to_string());
        }
    }
    if *last == "*" {
        let key = sample.as_object().unwrap().keys().next().unwrap().clone();
        *node = sample;
        path.push(key);
    } else {
        node[*last] = sample;
        path.push(last.to_string());
    }
    path.join(".")
}

/// A container's volumeMount names volume `v`: the pod gets it (an emptyDir) if it has none.
fn with_mounted_volume(obj: &mut Value) {
    let spec = if obj["spec"]["template"]["spec"].is_object() {
        &mut obj["spec"]["template"]["spec"]
    } else {
        &mut obj["spec"]
    };
    if spec["containers"][0]["volumeMounts"].is_array() && spec["volumes"].is_null() {
        spec["volumes"] = json!([{"name": "v", "emptyDir": {}}]);
    }
}

fn warnings_of(obj: &Value) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("podlab-unimpl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // One file per call: the tests of this file run in parallel in one process.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = dir.join(format!("m{n}.json"));
    std::fs::write(&file, serde_json::to_string_pretty(obj).unwrap()).unwrap();
    let (_, warnings) = podlab_scenario::load_manifests(&file).unwrap_or_else(|e| panic!("{e}\n{obj:#}"));
    warnings.into_iter().map(|w| w.message).collect()
}

#[test]
fn every_unimplemented_field_warns_with_its_path_and_reason() {
    assert!(UNIMPLEMENTED.len() > 40);
    for u in UNIMPLEMENTED {
        let mut obj = base(u.kind);
        let sample: Value = serde_json::from_str(u.sample).unwrap_or_else(|e| panic!("{}: {e}", u.path));
        let path = set(&mut obj, u.path, sample);
        with_mounted_volume(&mut obj);
        let got = warnings_of(&obj);
        let want = format!("{path}: not implemented by podlab, ignored: {}", u.reason);
        assert!(got.contains(&want), "{}: want {want:?}, got {got:?}", u.path);
        assert_eq!(got.len(), 1, "{}: {got:?}", u.path);
        for value in u.except {
            let mut quiet = base(u.kind);
            let v = value
                .parse::<Value>()
                .unwrap_or_else(|_| Value::String(value.to_string()));
            set(&mut quiet, u.path, v);
            with_mounted_volume(&mut quiet);
            assert_eq!(warnings_of(&quiet), Vec::<String>::new(), "{} = {value}", u.path);
        }
    }
}

#[test]
fn pod_fields_warn_in_templates_and_init_containers_too() {
    let mut d = base("Deployment");
    d["spec"]["template"]["spec"]["containers"][0]["tty"] = json!(true);
    d["spec"]["template"]["spec"]["initContainers"][0]["stdin"] = json!(true);
    let got = warnings_of(&d);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[0].starts_with("spec.template.spec.containers[0].tty: not implemented by podlab"),
        "{got:?}"
    );
    assert!(
        got[1].starts_with("spec.template.spec.initContainers[0].stdin: not implemented by podlab"),
        "{got:?}"
    );
}

#[test]
fn a_misspelt_required_field_gives_the_error_and_the_suggestion() {
    let dir = std::env::temp_dir().join(format!("podlab-misspelt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("pod.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  contianers:\n  - name: c\n    image: busybox\n",
    )
    .unwrap();
    let mut warnings = Vec::new();
    let err = podlab_scenario::load_collecting(&file, &mut warnings).unwrap_err();
    assert!(err.to_string().contains("spec.containers: Required value"), "{err}");
    let shown: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [format!(
            "Warning: unknown field \"spec.contianers\" (did you mean \"containers\"?) ({}:6)",
            file.display()
        )]
    );
}
