//! Plain manifests: directories, JSON, `kind: List`, `apply` steps, and what the API
//! server would accept.

use std::path::{Path, PathBuf};

use podlab_scenario::{Action, Object, PodSelector, load, load_manifests};

fn good(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/good-input")
        .join(name)
}

#[test]
fn a_directory_loads_yaml_yml_and_json_in_name_order() {
    let (objects, warnings) = load_manifests(&good("dir")).unwrap();
    let names: Vec<(&str, &str)> = objects.iter().map(|o| (o.kind(), o.name())).collect();
    assert_eq!(names, [("Namespace", "team-a"), ("Pod", "a"), ("Pod", "b")]);
    assert!(objects[2].origin().unwrap().file.ends_with("03-pod.json"));
    assert_eq!(warnings.len(), 1);
    assert_eq!(
        warnings[0].message,
        "unknown field \"spec.containers[0].imagePullPolice\" (did you mean \"imagePullPolicy\"?)"
    );
    assert!(warnings[0].file.ends_with("02-pod.yml"));
}

#[test]
fn load_of_a_directory_is_a_plain_scenario() {
    let l = load(&good("dir")).unwrap();
    assert!(l.scenario.plain_manifest);
    assert_eq!(l.scenario.name, "dir");
    assert_eq!(l.scenario.manifests.len(), 3);
}

#[test]
fn apply_steps_accept_file_single_object_and_list() {
    let s = load(&good("apply-steps.yaml")).unwrap().scenario;
    let applied: Vec<Vec<&str>> = s
        .steps
        .iter()
        .filter_map(|st| match &st.action {
            Action::Apply(objs) => Some(objs.iter().map(Object::name).collect()),
            _ => None,
        })
        .collect();
    assert_eq!(applied, vec![vec!["a"], vec!["single"], vec!["team-a", "listed"]]);
    match &s.steps[4].action {
        Action::Connectivity {
            pods: PodSelector::Labels { namespace, .. },
            port,
            expect_reachable,
            timeout,
        } => {
            assert_eq!(namespace.as_deref(), Some("team-a"));
            assert_eq!(*port, Some(8080));
            assert!(!expect_reachable);
            assert_eq!(timeout.as_secs(), 2);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        s.steps[5].action,
        Action::Delete {
            pods: PodSelector::Names {
                namespace: "team-a".into(),
                names: vec!["a".into()]
            }
        }
    );
    assert!(matches!(
        &s.steps[6].action,
        Action::Wait {
            pods: PodSelector::All,
            ..
        }
    ));
    assert_eq!(s.steps[7].action, Action::Sleep(std::time::Duration::from_millis(1500)));
}

#[test]
fn two_containers_on_one_port_is_not_an_error() {
    let l = load(&good("two-containers-same-port.yaml")).unwrap();
    assert_eq!(l.scenario.manifests.len(), 1);
}
