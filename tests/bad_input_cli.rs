//! End-to-end: every file of the bad-input corpus makes `podlab run` and `podlab validate`
//! exit non-zero with a message naming the file, never panic, and leave nothing behind.

mod common;
use common::*;

#[test]
fn every_bad_input_file_is_refused_clearly() {
    let dir = repo("scenario/tests/bad-input");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    files.sort();
    assert!(files.len() >= 30, "bad-input corpus is missing: {}", dir.display());
    let before = root_net_snapshot();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        for cmd in ["validate", "run"] {
            let out = podlab().args([cmd, f.to_str().unwrap()]).output().unwrap();
            let t = text(&out);
            assert_eq!(out.status.code(), Some(2), "podlab {cmd} {name} should exit 2:\n{t}");
            assert!(!t.contains("panicked"), "podlab {cmd} {name} panicked:\n{t}");
            assert!(t.contains("error:"), "{cmd} {name}: no error line:\n{t}");
            // Parse errors point into the file (file:line:col); others at least name it.
            let stem = name.split('.').next().unwrap_or_default();
            assert!(
                t.contains(stem) || t.contains(".yaml") || t.contains(".json"),
                "{cmd} {name}: message does not name the file:\n{t}"
            );
        }
    }
    assert_eq!(before, root_net_snapshot());
}

#[test]
fn a_missing_file_is_an_error_not_a_panic() {
    let out = podlab().args(["run", "no/such/file.yaml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let t = text(&out);
    assert!(t.contains("no/such/file.yaml"), "{t}");
}

/// `podlab validate` shows a misspelt required field's unknown-field warning (with the
/// suggestion) before the error, and warns about a field podlab does not honour.
#[test]
fn validate_names_misspelt_and_unimplemented_fields() {
    let out = podlab()
        .args(["validate", repo("tests/kubectl/misspelt.yaml").to_str().unwrap()])
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    let warning = t
        .find("Warning: unknown field \"spec.contianers\" (did you mean \"containers\"?)")
        .unwrap_or_else(|| panic!("{t}"));
    let error = t
        .find("spec.containers: Required value")
        .unwrap_or_else(|| panic!("{t}"));
    assert!(warning < error, "{t}");

    let dir = std::env::temp_dir().join(format!("podlab-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tty.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: t}\nspec:\n  containers:\n  - {name: c, image: busybox, tty: true}\n",
    )
    .unwrap();
    let out = podlab().args(["validate", file.to_str().unwrap()]).output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains(
            "Warning: spec.containers[0].tty: not implemented by podlab, ignored: containers have no stdin or terminal"
        ),
        "{t}"
    );
    assert!(t.contains("tty.yaml:6)"), "{t}");
}
