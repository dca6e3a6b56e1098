//! Warnings: unknown fields (kubectl wording, with the closest known name) in objects and in the scenario part, and
//! steps that name pods no manifest defines.

use std::path::Path;

#[test]
fn unknown_fields_and_dangling_references_are_warnings() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/good-input/warnings.yaml");
    let loaded = podlab_scenario::load(&path).unwrap();
    let got: Vec<(usize, &str)> = loaded.warnings.iter().map(|w| (w.line, w.message.as_str())).collect();
    assert_eq!(
        got,
        [
            (
                3,
                "unknown field \"metadata.descripton\" (did you mean \"description\"?)"
            ),
            (7, "unknown field \"cluster.nodes[0].cpus\""),
            (
                16,
                "unknown field \"spec.containers[0].imagePullPolice\" (did you mean \"imagePullPolicy\"?)"
            ),
            (
                19,
                "unknown field \"spec.containers[0].ports[0].protcol\" (did you mean \"protocol\"?)"
            ),
            (
                20,
                "unknown field \"spec.nodeSelecter\" (did you mean \"nodeSelector\"?)"
            ),
            (23, "unknown field \"steps[0].wait.timout\" (did you mean \"timeout\"?)"),
            (
                24,
                "step refers to pod \"ghost\" in namespace \"default\", but no manifest defines it"
            ),
            (
                25,
                "step selects pods with \"app=db\", but no manifest defines a pod with matching labels"
            ),
            (
                26,
                "step refers to pod \"web-abc\" in namespace \"default\", but no manifest defines it"
            ),
        ]
    );
    let shown = loaded.warnings[2].to_string();
    assert_eq!(
        shown,
        format!(
            "Warning: unknown field \"spec.containers[0].imagePullPolice\" (did you mean \"imagePullPolicy\"?) ({}:16)",
            path.display()
        )
    );
}
