//! ConfigMaps and Secrets as the kubelet reads them: the keys and bytes of one object of the
//! cluster, looked up by namespace and name, and the kubelet's words when one is missing
//! (`configmap "x" not found`, `couldn't find key k in ConfigMap default/x`).
//!
//! The node agent does not depend on the control plane: the cluster hands each pod an
//! [`ObjectData`] that reads its store.

use std::collections::BTreeMap;
use std::fmt;

/// Which kind of object holds the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// A `v1` ConfigMap (`data` and `binaryData`).
    ConfigMap,
    /// A `v1` Secret (`data`, already decoded).
    Secret,
}

impl DataKind {
    /// The resource name in messages (`configmap`, `secret`).
    pub fn resource(self) -> &'static str {
        match self {
            DataKind::ConfigMap => "configmap",
            DataKind::Secret => "secret",
        }
    }

    /// The kind in messages (`ConfigMap`, `Secret`).
    pub fn kind(self) -> &'static str {
        match self {
            DataKind::ConfigMap => "ConfigMap",
            DataKind::Secret => "Secret",
        }
    }
}

/// The keys of one ConfigMap or Secret with their bytes.
pub type Data = BTreeMap<String, Vec<u8>>;

/// Reads ConfigMaps and Secrets of the cluster.
pub trait ObjectData: Send + Sync {
    /// The data of `kind` `namespace/name`, or `None` if there is no such object.
    fn data(&self, kind: DataKind, namespace: &str, name: &str) -> Option<Data>;
}

/// A cluster without ConfigMaps or Secrets (tests, tools that only inspect pods).
pub struct NoData;

impl ObjectData for NoData {
    fn data(&self, _: DataKind, _: &str, _: &str) -> Option<Data> {
        None
    }
}

/// Why a container's environment or a volume cannot be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataError {
    /// The object does not exist (and the reference is not `optional`).
    NotFound {
        /// ConfigMap or Secret.
        kind: DataKind,
        /// Its name.
        name: String,
    },
    /// The object has no such key (and the reference is not `optional`).
    NoKey {
        /// ConfigMap or Secret.
        kind: DataKind,
        /// `namespace/name`.
        object: String,
        /// The missing key.
        key: String,
    },
    /// A volume's item or path is not allowed.
    Invalid(String),
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::NotFound { kind, name } => write!(f, "{} {name:?} not found", kind.resource()),
            DataError::NoKey { kind, object, key } => {
                write!(f, "couldn't find key {key} in {} {object}", kind.kind())
            }
            DataError::Invalid(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for DataError {}

/// The data of `kind` `namespace/name`: `Ok(None)` when it is missing but `optional`.
pub fn lookup(
    source: &dyn ObjectData,
    kind: DataKind,
    namespace: &str,
    name: &str,
    optional: bool,
) -> Result<Option<Data>, DataError> {
    match source.data(kind, namespace, name) {
        Some(d) => Ok(Some(d)),
        None if optional => Ok(None),
        None => Err(DataError::NotFound {
            kind,
            name: name.to_string(),
        }),
    }
}

/// One key of `kind` `namespace/name` as text: `Ok(None)` when the object or key is missing
/// but the reference is `optional`.
pub fn key(
    source: &dyn ObjectData,
    kind: DataKind,
    namespace: &str,
    name: &str,
    key: &str,
    optional: bool,
) -> Result<Option<String>, DataError> {
    let Some(data) = lookup(source, kind, namespace, name, optional)? else {
        return Ok(None);
    };
    match data.get(key) {
        Some(v) => Ok(Some(String::from_utf8_lossy(v).into_owned())),
        None if optional => Ok(None),
        None => Err(DataError::NoKey {
            kind,
            object: format!("{namespace}/{name}"),
            key: key.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct One;
    impl ObjectData for One {
        fn data(&self, kind: DataKind, ns: &str, name: &str) -> Option<Data> {
            (kind == DataKind::ConfigMap && ns == "default" && name == "game")
                .then(|| Data::from([("lives".to_string(), b"3".to_vec())]))
        }
    }

    #[test]
    fn missing_objects_and_keys_are_named_as_the_kubelet_names_them() {
        let e = key(&One, DataKind::ConfigMap, "default", "other", "lives", false).unwrap_err();
        assert_eq!(e.to_string(), "configmap \"other\" not found");
        let e = key(&One, DataKind::ConfigMap, "default", "game", "x", false).unwrap_err();
        assert_eq!(e.to_string(), "couldn't find key x in ConfigMap default/game");
        assert_eq!(
            key(&One, DataKind::ConfigMap, "default", "game", "lives", false),
            Ok(Some("3".into()))
        );
        assert_eq!(key(&One, DataKind::Secret, "default", "game", "x", true), Ok(None));
    }
}
