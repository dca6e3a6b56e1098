//! kube-apiserver's checks of a pod's `volumes` and of each container's `volumeMounts`
//! (names, one source per volume, relative item paths and subPaths, unique mount paths).

use super::Errs;
use crate::names;
use k8s_openapi::api::core::v1::{Container, KeyToPath, Volume};
use std::collections::BTreeSet;

/// A relative path without `..` (an item `path` or a `subPath`), as apiserver checks it.
fn relative_path(path: &str, at: &str, e: &mut Errs) {
    if path.starts_with('/') {
        e.invalid(at, path, "must be a relative path");
    }
    if path.split('/').any(|p| p == "..") {
        e.invalid(at, path, "must not contain '..'");
    }
}

fn items(items: Option<&[KeyToPath]>, at: &str, e: &mut Errs) {
    for (i, it) in items.unwrap_or_default().iter().enumerate() {
        if it.key.is_empty() {
            e.required(&format!("{at}.items[{i}].key"));
        }
        if it.path.is_empty() {
            e.required(&format!("{at}.items[{i}].path"));
        }
        relative_path(&it.path, &format!("{at}.items[{i}].path"), e);
    }
}

/// Checks `spec.volumes`; returns the names of the volumes.
pub(super) fn volumes(volumes: &[Volume], path: &str, e: &mut Errs) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for (i, v) in volumes.iter().enumerate() {
        let at = format!("{path}.volumes[{i}]");
        if v.name.is_empty() {
            e.required(&format!("{at}.name"));
        } else {
            for p in names::dns1123_label(&v.name) {
                e.invalid(&format!("{at}.name"), &v.name, &p);
            }
            if !seen.insert(v.name.clone()) {
                e.duplicate(&format!("{at}.name"), &v.name);
            }
        }
        // Every key but the name is a volume source.
        let sources: Vec<String> = match serde_json::to_value(v) {
            Ok(serde_json::Value::Object(m)) => m.into_iter().map(|(k, _)| k).filter(|k| k != "name").collect(),
            _ => vec![],
        };
        match sources.as_slice() {
            [] => e.required_why(&at, "must specify a volume type"),
            [_] => {}
            [_, rest @ ..] => {
                for s in rest {
                    e.forbidden(&format!("{at}.{s}"), "may not specify more than 1 volume type");
                }
            }
        }
        if let Some(c) = &v.config_map {
            if c.name.is_empty() {
                e.required(&format!("{at}.configMap.name"));
            }
            items(c.items.as_deref(), &format!("{at}.configMap"), e);
        }
        if let Some(s) = &v.secret {
            if s.secret_name.as_deref().is_none_or(str::is_empty) {
                e.required(&format!("{at}.secret.secretName"));
            }
            items(s.items.as_deref(), &format!("{at}.secret"), e);
        }
        if let Some(d) = &v.downward_api {
            for (j, it) in d.items.iter().flatten().enumerate() {
                relative_path(&it.path, &format!("{at}.downwardAPI.items[{j}].path"), e);
                if it.resource_field_ref.is_some() {
                    e.forbidden(
                        &format!("{at}.downwardAPI.items[{j}].resourceFieldRef"),
                        "podlab does not implement it yet: use a fieldRef",
                    );
                }
            }
        }
    }
    seen
}

/// Checks one container's `volumeMounts` against the pod's volume names.
pub(super) fn mounts(c: &Container, volumes: &BTreeSet<String>, path: &str, e: &mut Errs) {
    let mut paths = BTreeSet::new();
    for (i, m) in c.volume_mounts.iter().flatten().enumerate() {
        let at = format!("{path}.volumeMounts[{i}]");
        if m.name.is_empty() {
            e.required(&format!("{at}.name"));
        } else if !volumes.contains(&m.name) {
            e.push(&format!("{at}.name"), format!("Not found: {:?}", m.name));
        }
        if m.mount_path.is_empty() {
            e.required(&format!("{at}.mountPath"));
        } else if !paths.insert(m.mount_path.trim_end_matches('/').to_string()) {
            e.invalid(&format!("{at}.mountPath"), &m.mount_path, "must be unique");
        }
        if !m.mount_path.is_empty() && !m.mount_path.starts_with('/') {
            e.invalid(&format!("{at}.mountPath"), &m.mount_path, "must be an absolute path");
        }
        let sub = m.sub_path.as_deref().filter(|s| !s.is_empty());
        let expr = m.sub_path_expr.as_deref().filter(|s| !s.is_empty());
        if let Some(s) = sub {
            relative_path(s, &format!("{at}.subPath"), e);
        }
        if let Some(x) = expr {
            if sub.is_some() {
                e.invalid(
                    &format!("{at}.subPathExpr"),
                    x,
                    "subPathExpr and subPath are mutually exclusive",
                );
            }
            relative_path(x, &format!("{at}.subPathExpr"), e);
        }
    }
}
