//! What clients ask before anything else: `/version` (kubectl's dispatcher picks its bundled
//! kubectl by the minor version: podlab reports Kubernetes 1.34), the group and resource lists
//! (`/api`, `/api/v1`, `/apis`, `/apis/apps/v1`) with short names, categories and
//! subresources, and a small OpenAPI v3 (`kubectl apply` and `create -f` need one; podlab then
//! validates on the server, `fieldValidation=Strict`).

use crate::kinds::{ALL, Kind};
use serde_json::{Value, json};

/// `GET /version`.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "34",
        "gitVersion": "v1.34.0-podlab",
        "gitCommit": "podlab",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("linux/{}", std::env::consts::ARCH),
    })
}

/// `GET /api`.
pub fn core_versions(server: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}],
    })
}

fn group_entry() -> Value {
    json!({
        "name": "apps",
        "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"},
    })
}

/// `GET /apis`.
pub fn groups() -> Value {
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [group_entry()]})
}

/// `GET /apis/apps`.
pub fn apps_group() -> Value {
    let mut g = group_entry();
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    g
}

fn resource(k: Kind) -> Value {
    json!({
        "name": k.plural(),
        "singularName": k.kind().to_lowercase(),
        "namespaced": k.namespaced(),
        "kind": k.kind(),
        "verbs": k.verbs(),
        "shortNames": k.short_names(),
        "categories": k.categories(),
    })
}

fn subresource(k: Kind, sub: &str, verbs: &[&str]) -> Value {
    let kind = match sub {
        "scale" => "Scale",
        "status" => k.kind(),
        _ => "PodExecOptions",
    };
    let mut r = json!({"name": format!("{}/{sub}", k.plural()), "singularName": "", "namespaced": k.namespaced(),
                       "kind": kind, "verbs": verbs});
    if sub == "scale" {
        r["group"] = json!("autoscaling");
        r["version"] = json!("v1");
    }
    r
}

/// `GET /api/v1` or `GET /apis/apps/v1`.
pub fn resources(group: &str) -> Value {
    let mut list = Vec::new();
    for k in ALL.into_iter().filter(|k| k.group() == group) {
        list.push(resource(k));
        for (sub, verbs) in k.subresources() {
            list.push(subresource(k, sub, verbs));
        }
    }
    let gv = if group.is_empty() {
        "v1".to_string()
    } else {
        format!("{group}/v1")
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list})
}

/// `GET /openapi/v3`: one document per group-version.
pub fn openapi_root() -> Value {
    json!({"paths": {
        "api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=podlab1"},
        "apis/apps/v1": {"serverRelativeURL": "/openapi/v3/apis/apps/v1?hash=podlab1"},
    }})
}

/// `GET /openapi/v3/api/v1` or `/openapi/v3/apis/apps/v1`: one PATCH operation per kind with
/// its group-version-kind and the `fieldValidation` parameter, which is what kubectl needs to
/// leave validation to the server. Schemas are open (podlab validates itself).
pub fn openapi_group(group: &str) -> Value {
    let mut paths = serde_json::Map::new();
    for k in ALL.into_iter().filter(|k| k.group() == group) {
        let prefix = if group.is_empty() {
            "/api/v1".to_string()
        } else {
            format!("/apis/{group}/v1")
        };
        let path = if k.namespaced() {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", k.plural())
        } else {
            format!("{prefix}/{}/{{name}}", k.plural())
        };
        let gvk = json!({"group": group, "version": "v1", "kind": k.kind()});
        let op = json!({
            "x-kubernetes-group-version-kind": gvk,
            "x-kubernetes-action": "patch",
            "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}}],
            "requestBody": {"content": {
                "application/json-patch+json": {"schema": {"type": "object"}},
                "application/merge-patch+json": {"schema": {"type": "object"}},
                "application/strategic-merge-patch+json": {"schema": {"type": "object"}},
                "application/apply-patch+yaml": {"schema": {"type": "object"}},
            }},
            "responses": {"200": {"description": "OK"}},
        });
        paths.insert(path, json!({"patch": op}));
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (podlab)", "version": "v1.34.0"},
        "paths": paths,
        "components": {"schemas": {}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_lists_short_names_and_subresources() {
        let v1 = resources("");
        let names: Vec<&str> = v1["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["name"].as_str())
            .collect();
        assert!(names.contains(&"pods") && names.contains(&"pods/exec") && names.contains(&"pods/log"));
        let apps = resources("apps");
        assert_eq!(apps["groupVersion"], "apps/v1");
        assert!(apps.to_string().contains("\"deploy\""));
        assert_eq!(version()["minor"], "34");
    }
}
