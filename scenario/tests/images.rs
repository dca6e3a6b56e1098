//! Images in scenarios: a node's preloaded images end up in the Node's `status.images` (so the
//! scheduler's ImageLocality sees them), locally built ones say what they run, and
//! `cluster.registry` lists what the simulated registry serves besides the catalog.

use std::io::Write;

use podlab_scenario::{IMAGE_RUNS_ANNOTATION, ImageSpec};

fn load_text(text: &str) -> podlab_scenario::Loaded {
    let dir = std::env::temp_dir().join(format!("podlab-images-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("s{}.yaml", text.len()));
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let loaded = podlab_scenario::load(&path);
    let _ = std::fs::remove_file(&path);
    loaded.unwrap_or_else(|e| panic!("{e}"))
}

const SCENARIO: &str = r#"
apiVersion: podlab.dev/v1alpha1
kind: Scenario
metadata: {name: images}
cluster:
  nodes:
    - name: worker-1
      images: [{name: kubia, runs: luksa/kubia}, "nginx:1.25"]
    - name: worker-2
  registry:
    - {name: "mycorp/app:2", runs: podlab/echo}
"#;

#[test]
fn preloaded_images_are_in_the_nodes_status_with_normalized_names() {
    let s = load_text(SCENARIO).scenario;
    let w1 = &s.cluster.nodes[0];
    let images = w1.status.as_ref().unwrap().images.as_ref().unwrap();
    let names: Vec<&str> = images.iter().map(|i| i.names.as_ref().unwrap()[0].as_str()).collect();
    assert_eq!(names, ["kubia:latest", "nginx:1.25"]);
    assert!(images.iter().all(|i| i.size_bytes.unwrap_or(0) > 0));
    // What the locally built image runs travels with the node.
    let ann = w1.metadata.annotations.as_ref().unwrap();
    assert_eq!(ann[IMAGE_RUNS_ANNOTATION], "kubia:latest=luksa/kubia");
    // A node without `images:` has none.
    assert!(s.cluster.nodes[1].status.as_ref().unwrap().images.is_none());
}

#[test]
fn the_registry_lists_extra_images() {
    let s = load_text(SCENARIO).scenario;
    assert_eq!(
        s.cluster.registry,
        [ImageSpec {
            name: "mycorp/app:2".into(),
            runs: "podlab/echo".into()
        }]
    );
    assert!(podlab_scenario::ClusterSpec::default().registry.is_empty());
}

#[test]
fn generator_nodes_all_get_the_images() {
    let s = load_text(
        "apiVersion: podlab.dev/v1alpha1\nkind: Scenario\nmetadata: {name: g}\ncluster:\n  nodes: {count: 3, images: [busybox]}\n",
    )
    .scenario;
    for n in &s.cluster.nodes {
        let images = n.status.as_ref().unwrap().images.as_ref().unwrap();
        assert_eq!(images[0].names.as_ref().unwrap()[0], "busybox:latest");
    }
}

#[test]
fn a_typo_in_an_image_entry_is_a_warning() {
    let loaded = load_text(
        "apiVersion: podlab.dev/v1alpha1\nkind: Scenario\nmetadata: {name: g}\ncluster:\n  registry: [{name: \"a:1\", runs: nginx, run: x}]\n",
    );
    assert!(
        loaded.warnings.iter().any(|w| w.message.contains("run")),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn the_bundled_image_pull_policy_scenario_loads() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/image-pull-policy.yaml");
    let loaded = podlab_scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    for n in &loaded.scenario.cluster.nodes {
        let images = n.status.as_ref().unwrap().images.as_ref().unwrap();
        assert!(images.iter().any(|i| i.names.as_ref().unwrap()[0] == "kubia:latest"));
    }
}
