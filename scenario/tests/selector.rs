//! kubectl label selector syntax and matching.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use podlab_scenario::{LabelSelector, Operator};

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn m(sel: &str, l: &[(&str, &str)]) -> bool {
    LabelSelector::parse(sel)
        .unwrap_or_else(|e| panic!("{e}"))
        .matches(&labels(l))
}

#[test]
fn equality() {
    assert!(m("app=web", &[("app", "web")]));
    assert!(m("app==web", &[("app", "web"), ("x", "y")]));
    assert!(!m("app=web", &[("app", "db")]));
    assert!(!m("app=web", &[]));
    assert!(m("tier!=db", &[("tier", "web")]));
    assert!(
        m("tier!=db", &[]),
        "!= matches objects without the key, as in Kubernetes"
    );
    assert!(!m("tier!=db", &[("tier", "db")]));
}

#[test]
fn sets_and_existence() {
    assert!(m("env in (a,b)", &[("env", "b")]));
    assert!(m("env in ( a , b )", &[("env", "a")]));
    assert!(!m("env in (a,b)", &[("env", "c")]));
    assert!(m("env notin (a)", &[("env", "b")]));
    assert!(m("env notin (a)", &[]));
    assert!(!m("env notin (a)", &[("env", "a")]));
    assert!(m("canary", &[("canary", "")]));
    assert!(!m("canary", &[]));
    assert!(m("!canary", &[]));
    assert!(!m("!canary", &[("canary", "true")]));
}

#[test]
fn comma_is_and() {
    let sel = "app=web,env in (prod,staging),!canary";
    assert!(m(sel, &[("app", "web"), ("env", "prod")]));
    assert!(!m(sel, &[("app", "web"), ("env", "prod"), ("canary", "1")]));
    assert!(!m(sel, &[("app", "web"), ("env", "dev")]));
    let parsed = LabelSelector::parse(sel).unwrap();
    assert_eq!(parsed.requirements.len(), 3);
    assert_eq!(parsed.requirements[1].operator, Operator::In);
    assert_eq!(parsed.to_string(), sel);
}

#[test]
fn empty_selector_matches_everything() {
    assert!(m("", &[]));
    assert!(m("", &[("a", "b")]));
}

#[test]
fn prefixed_keys() {
    assert!(m("app.kubernetes.io/name=web", &[("app.kubernetes.io/name", "web")]));
}

#[test]
fn bad_selectors_are_errors() {
    for bad in [
        "app in (web",
        "app=web,",
        "a b",
        "app in ()",
        "Bad Key=1",
        "app=we b",
        "app=-x",
        "app nope (x)",
    ] {
        assert!(LabelSelector::parse(bad).is_err(), "{bad:?} should be rejected");
    }
}

#[test]
fn from_kubernetes_label_selector() {
    let sel = metav1::LabelSelector {
        match_labels: Some(labels(&[("app", "web")])),
        match_expressions: Some(vec![metav1::LabelSelectorRequirement {
            key: "tier".into(),
            operator: "NotIn".into(),
            values: Some(vec!["db".into()]),
        }]),
    };
    let s = LabelSelector::from_k8s(&sel).unwrap();
    assert!(s.matches(&labels(&[("app", "web"), ("tier", "front")])));
    assert!(!s.matches(&labels(&[("app", "web"), ("tier", "db")])));
    let bad = metav1::LabelSelector {
        match_expressions: Some(vec![metav1::LabelSelectorRequirement {
            key: "tier".into(),
            operator: "Gt".into(),
            values: None,
        }]),
        ..Default::default()
    };
    assert!(LabelSelector::from_k8s(&bad).is_err());
}
