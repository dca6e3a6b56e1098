//! `describe configmap` and `describe secret` as kubectl 1.32 prints them: a ConfigMap's
//! values in full, a Secret's only as sizes (`password:  6 bytes`), never its values.

use super::{events_table, labels_text};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// The annotation kubectl leaves out of `describe` (it repeats the object).
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Name, Namespace, Labels and Annotations, aligned as kubectl's tab writer aligns them.
fn header(m: &ObjectMeta) -> String {
    let shown: BTreeMap<&String, &String> = m
        .annotations
        .iter()
        .flatten()
        .filter(|(k, _)| *k != LAST_APPLIED)
        .collect();
    let annotations = if shown.is_empty() {
        "<none>".to_string()
    } else {
        let lines: Vec<String> = shown.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        lines.join(&format!("\n{:14}", ""))
    };
    format!(
        "Name:         {}\nNamespace:    {}\nLabels:       {}\nAnnotations:  {}\n",
        m.name.clone().unwrap_or_default(),
        m.namespace.clone().unwrap_or_default(),
        labels_text(m.labels.as_ref(), 14),
        annotations,
    )
}

/// `kubectl describe configmap`: every value in full, binary values as sizes, then the
/// events about it.
pub fn describe_config_map(c: &ConfigMap, events: &[Event]) -> String {
    let mut o = header(&c.metadata);
    o += "\nData\n====\n";
    for (k, v) in c.data.iter().flatten() {
        o += &format!("{k}:\n----\n{v}\n\n");
    }
    o += "\nBinaryData\n====\n";
    for (k, v) in c.binary_data.iter().flatten() {
        o += &format!("{k}: {} bytes\n", v.0.len());
    }
    o += "\n";
    let uid = c.metadata.uid.as_deref();
    let mine: Vec<&Event> = events
        .iter()
        .filter(|e| uid.is_some() && e.involved_object.uid.as_deref() == uid)
        .collect();
    o + &events_table(&mine).replacen("Events:            <none>", "Events:  <none>", 1)
}

/// `kubectl describe secret`: the type, then each key with its size in bytes (a
/// service-account token's `token` is shown, as kubectl does).
pub fn describe_secret(s: &Secret) -> String {
    let ty = s.type_.as_deref().unwrap_or("Opaque");
    let mut o = header(&s.metadata);
    o += &format!("\nType:  {ty}\n\nData\n====\n");
    let data: Vec<(&String, String)> = s
        .data
        .iter()
        .flatten()
        .map(|(k, v)| {
            let shown = if k == "token" && ty == "kubernetes.io/service-account-token" {
                String::from_utf8_lossy(&v.0).into_owned()
            } else {
                format!("{} bytes", v.0.len())
            };
            (k, shown)
        })
        .collect();
    let width = data.iter().map(|(k, _)| k.chars().count() + 1).max().unwrap_or(0) + 2;
    for (k, shown) in data {
        o += &format!("{:<width$}{shown}\n", format!("{k}:"));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    #[test]
    fn a_secret_shows_sizes_never_values() {
        let s = Secret {
            metadata: ObjectMeta {
                name: Some("db".into()),
                namespace: Some("default".into()),
                annotations: Some([(LAST_APPLIED.to_string(), "{}".to_string())].into()),
                ..Default::default()
            },
            data: Some(
                [
                    ("password".to_string(), ByteString(b"s3cret".to_vec())),
                    ("user".to_string(), ByteString(b"admin".to_vec())),
                ]
                .into(),
            ),
            type_: Some("Opaque".into()),
            ..Default::default()
        };
        let text = describe_secret(&s);
        assert!(text.contains("Annotations:  <none>\n"), "{text}");
        assert!(
            text.contains("\nType:  Opaque\n\nData\n====\npassword:  6 bytes\nuser:      5 bytes\n"),
            "{text}"
        );
        assert!(!text.contains("s3cret"), "{text}");
    }

    #[test]
    fn a_config_map_shows_its_values() {
        let c = ConfigMap {
            metadata: ObjectMeta {
                name: Some("game".into()),
                namespace: Some("default".into()),
                labels: Some([("a".to_string(), "1".to_string()), ("b".to_string(), "2".to_string())].into()),
                ..Default::default()
            },
            data: Some([("lives".to_string(), "3".to_string())].into()),
            ..Default::default()
        };
        let text = describe_config_map(&c, &[]);
        assert!(
            text.starts_with("Name:         game\nNamespace:    default\nLabels:       a=1\n              b=2\n"),
            "{text}"
        );
        assert!(
            text.ends_with("Data\n====\nlives:\n----\n3\n\n\nBinaryData\n====\n\nEvents:  <none>\n"),
            "{text}"
        );
    }
}
