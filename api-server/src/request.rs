//! One request as the resource handlers see it: the resource path (group, kind, namespace,
//! name, subresource) and the query parameters kube-apiserver understands.

use crate::kinds::Kind;
use podlab_control_plane::ApiError;

/// Where a resource request points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The resource type.
    pub kind: Kind,
    /// The namespace in the URL (namespaced kinds; `None` lists across namespaces).
    pub namespace: Option<String>,
    /// The object's name (`None`: the collection).
    pub name: Option<String>,
    /// A subresource (`log`, `exec`, `scale`, `status`, ...).
    pub sub: Option<String>,
}

/// Parses `/api/v1/...` and `/apis/apps/v1/...`; `Ok(None)` for paths that are not resources.
pub fn parse_path(path: &str) -> Result<Option<Target>, ApiError> {
    let (group, rest) = if let Some(r) = path.strip_prefix("/api/v1/") {
        ("", r)
    } else if let Some(r) = path.strip_prefix("/apis/apps/v1/") {
        ("apps", r)
    } else {
        return Ok(None);
    };
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let unknown = |p: &str| ApiError::NotFound {
        resource: "resource".into(),
        name: p.into(),
        hint: Some("the server could not find the requested resource".into()),
    };
    let kind_of = |plural: &str| Kind::from_plural(group, plural).ok_or_else(|| unknown(plural));
    let own = |s: &&str| s.to_string();
    if segs.len() > 5 || (segs.first() != Some(&"namespaces") && segs.len() > 3) {
        return Err(unknown(path));
    }
    let t = match segs.as_slice() {
        ["namespaces", ns, sub @ ("status" | "finalize")] if group.is_empty() => Target {
            kind: Kind::Namespace,
            namespace: None,
            name: Some(ns.to_string()),
            sub: Some(sub.to_string()),
        },
        ["namespaces", ns, plural, rest @ ..] => {
            let kind = kind_of(plural)?;
            if !kind.namespaced() {
                return Err(unknown(plural));
            }
            Target {
                kind,
                namespace: Some(ns.to_string()),
                name: rest.first().map(own),
                sub: rest.get(1).map(own),
            }
        }
        [plural, rest @ ..] => {
            let kind = kind_of(plural)?;
            if kind.namespaced() && !rest.is_empty() {
                return Err(unknown(path));
            }
            Target {
                kind,
                namespace: None,
                name: rest.first().map(own),
                sub: rest.get(1).map(own),
            }
        }
        [] => return Ok(None),
    };
    Ok(Some(t))
}

/// The query parameters of one request.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// From the raw pairs.
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Query { pairs }
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of `key` (`command=a&command=b`).
    pub fn all(&self, key: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// `key=true` (or `1`).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }

    /// A number, or `BadRequest`.
    pub fn number(&self, key: &str) -> Result<Option<u64>, ApiError> {
        self.get(key)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| ApiError::BadRequest(format!("invalid value for {key}: {v:?}")))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_paths_parse_as_kube_apiserver_routes_them() {
        let t = parse_path("/api/v1/namespaces/default/pods/web/log").unwrap().unwrap();
        assert_eq!(
            (t.kind, t.namespace.as_deref(), t.name.as_deref(), t.sub.as_deref()),
            (Kind::Pod, Some("default"), Some("web"), Some("log"))
        );
        let t = parse_path("/api/v1/namespaces/dev").unwrap().unwrap();
        assert_eq!((t.kind, t.name.as_deref()), (Kind::Namespace, Some("dev")));
        let t = parse_path("/api/v1/pods").unwrap().unwrap();
        assert_eq!((t.kind, t.namespace, t.name), (Kind::Pod, None, None));
        let t = parse_path("/apis/apps/v1/namespaces/x/deployments/d/scale")
            .unwrap()
            .unwrap();
        assert_eq!((t.kind, t.sub.as_deref()), (Kind::Deployment, Some("scale")));
        let t = parse_path("/api/v1/nodes/worker-1").unwrap().unwrap();
        assert_eq!((t.kind, t.name.as_deref()), (Kind::Node, Some("worker-1")));
        assert!(parse_path("/api/v1/services").is_err());
        assert!(parse_path("/apis/apps/v1/namespaces/x/pods").is_err());
        assert_eq!(parse_path("/version").unwrap(), None);
    }
}
