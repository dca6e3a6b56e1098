//! ConfigMaps and Secrets in manifest files: they load like every kind (warnings, file:line:col
//! errors), a Secret's `stringData` is merged into `data` and its type defaults to Opaque, and
//! kube-apiserver's checks (keys, sizes, Secret types, `immutable`) have its words.

use podlab_scenario::{Object, load_manifests, validation};
use std::path::PathBuf;

/// Writes `yaml` to a file of its own and loads it.
fn load(name: &str, yaml: &str) -> Result<(Vec<Object>, Vec<String>), String> {
    let dir = std::env::temp_dir().join(format!("podlab-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file: PathBuf = dir.join(format!("{name}.yaml"));
    std::fs::write(&file, yaml).unwrap();
    let out = load_manifests(&file)
        .map(|(o, w)| (o, w.iter().map(|w| w.to_string()).collect()))
        .map_err(|e| e.to_string());
    let _ = std::fs::remove_file(&file);
    out
}

fn secret(o: &Object) -> &k8s_openapi::api::core::v1::Secret {
    match o {
        Object::Secret(s) => s,
        other => panic!("not a Secret: {other:?}"),
    }
}

#[test]
fn a_config_map_loads_with_warnings_for_unknown_fields() {
    let (objects, warnings) = load(
        "cm",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: game}\ndata:\n  lives: \"3\"\n  game.properties: |\n    a=1\nbinaryData: {logo: iVBORw==}\ndatta: {x: z}\n",
    )
    .unwrap();
    let Object::ConfigMap(cm) = &objects[0] else {
        panic!("{objects:?}")
    };
    assert_eq!(cm.metadata.namespace.as_deref(), Some("default"));
    assert_eq!(cm.data.as_ref().unwrap()["game.properties"], "a=1\n");
    assert_eq!(cm.binary_data.as_ref().unwrap()["logo"].0, b"\x89PNG");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("cm.yaml:9") && warnings[0].contains("unknown field \"datta\""),
        "{warnings:?}"
    );
}

#[test]
fn string_data_is_merged_into_data_and_wins() {
    let (objects, _) = load(
        "secret",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata: {password: b2xk, user: YWRtaW4=}\nstringData: {password: s3cret}\n",
    )
    .unwrap();
    let s = secret(&objects[0]);
    assert_eq!(s.type_.as_deref(), Some("Opaque"));
    assert!(s.string_data.is_none());
    let data = s.data.as_ref().unwrap();
    assert_eq!(data["password"].0, b"s3cret");
    assert_eq!(data["user"].0, b"admin");
    // Stored as kube-apiserver stores it: only base64 `data`.
    let json = objects[0].to_json();
    assert_eq!(json["data"]["password"], "czNjcmV0");
    assert!(json.get("stringData").is_none(), "{json}");
}

#[test]
fn bad_keys_names_and_duplicates_are_refused_where_they_are() {
    let e = load(
        "bad-key",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: game}\ndata:\n  ok: \"1\"\n  \"a b\": \"2\"\n",
    )
    .unwrap_err();
    assert!(e.contains(":6:"), "{e}");
    assert!(
        e.contains("data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.'"),
        "{e}"
    );
    let e = load(
        "dots",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {\"..\": x}\n",
    )
    .unwrap_err();
    assert!(e.contains("data[..]: Invalid value: \"..\": must not be '..'"), "{e}");
    let e = load(
        "dup",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Game}\ndata: {a: x}\nbinaryData: {a: eA==}\n",
    )
    .unwrap_err();
    assert!(
        e.contains("The ConfigMap \"Game\" is invalid: [metadata.name: Invalid value: \"Game\""),
        "{e}"
    );
    assert!(
        e.contains("data[a]: Invalid value: \"a\": duplicate of key present in binaryData"),
        "{e}"
    );
}

#[test]
fn secret_types_need_their_keys() {
    let e = load(
        "tls",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: t}\ntype: kubernetes.io/tls\nstringData: {tls.crt: x}\n",
    )
    .unwrap_err();
    assert!(
        e.contains("The Secret \"t\" is invalid: data[tls.key]: Required value"),
        "{e}"
    );
    let e = load(
        "docker",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: r}\ntype: kubernetes.io/dockerconfigjson\nstringData: {.dockerconfigjson: \"not json\"}\n",
    )
    .unwrap_err();
    assert!(
        e.contains("data[.dockerconfigjson]: Invalid value: \"<secret contents redacted>\""),
        "{e}"
    );
    let ok = load(
        "basic",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: b}\ntype: kubernetes.io/basic-auth\nstringData: {username: u}\n",
    );
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn more_than_one_mebibyte_is_too_long() {
    let big = "x".repeat(podlab_scenario::MAX_DATA_BYTES);
    let e = load(
        "big",
        &format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: big}}\ndata: {{a: {big}, b: z}}\n"),
    )
    .unwrap_err();
    assert!(
        e.contains("[]: Too long: may not be more than 1048576 bytes"),
        "{}",
        &e[..200.min(e.len())]
    );
}

#[test]
fn immutable_data_may_not_change() {
    let (old, _) = load(
        "imm",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nimmutable: true\ndata: {a: \"1\"}\n",
    )
    .unwrap();
    let (same, _) = load(
        "imm2",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nimmutable: true\ndata: {a: \"1\"}\n",
    )
    .unwrap();
    let (changed, _) = load(
        "imm3",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: \"2\"}\n",
    )
    .unwrap();
    assert!(validation::update_errors(&old[0], &same[0]).is_empty());
    assert_eq!(
        validation::update_errors(&old[0], &changed[0]),
        [
            "immutable: Forbidden: field is immutable when `immutable` is set",
            "data: Forbidden: field is immutable when `immutable` is set"
        ]
    );
    let (opaque, _) = load(
        "t1",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {tls.crt: a, tls.key: b}\n",
    )
    .unwrap();
    let (tls, _) = load(
        "t2",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/tls\nstringData: {tls.crt: a, tls.key: b}\n",
    )
    .unwrap();
    assert_eq!(
        validation::update_errors(&opaque[0], &tls[0]),
        ["type: Invalid value: \"kubernetes.io/tls\": field is immutable"]
    );
}
