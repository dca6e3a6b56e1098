//! ConfigMaps and Secrets as kube-apiserver treats them on write: a Secret's `stringData` is
//! merged into `data` (stringData wins) and its `type` defaults to `Opaque` ([`normalize_secret`]);
//! validation of keys, sizes and the fields each Secret type needs; and what an update may not
//! change (`immutable`, a Secret's `type`), with kube-apiserver's wording.

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};

use crate::validate::{Errs, meta};

/// kube-apiserver's limit on the data of one ConfigMap or Secret (`core.MaxSecretSize`).
pub const MAX_DATA_BYTES: usize = 1024 * 1024;

/// The Secret type when none is given.
pub const DEFAULT_SECRET_TYPE: &str = "Opaque";

const IMMUTABLE: &str = "field is immutable when `immutable` is set";
const KEY_MSG: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key_name', regex used for validation is '[-._a-zA-Z0-9]+')";

/// What kube-apiserver does to a Secret before it validates and stores it: every
/// `stringData` entry becomes a `data` entry (replacing one of the same key), `stringData`
/// is dropped, and an empty `type` becomes `Opaque`.
pub fn normalize_secret(secret: &mut Secret) {
    if let Some(strings) = secret.string_data.take() {
        let data = secret.data.get_or_insert_with(Default::default);
        for (k, v) in strings {
            data.insert(k, ByteString(v.into_bytes()));
        }
    }
    if secret.type_.as_deref().is_none_or(str::is_empty) {
        secret.type_ = Some(DEFAULT_SECRET_TYPE.into());
    }
}

/// Problems with `key` as a ConfigMap or Secret key (`IsConfigMapKey`).
pub fn config_key(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if key.len() > 253 {
        errs.push("must be no more than 253 characters".to_owned());
    }
    if key.is_empty()
        || !key
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'))
    {
        errs.push(KEY_MSG.to_owned());
    }
    if key == "." {
        errs.push("must not be '.'".to_owned());
    } else if key == ".." {
        errs.push("must not be '..'".to_owned());
    } else if key.starts_with("..") {
        errs.push("must not start with '..'".to_owned());
    }
    errs
}

fn keys<'a>(keys: impl Iterator<Item = &'a String>, path: &str, e: &mut Errs) {
    for k in keys {
        for p in config_key(k) {
            e.invalid(&format!("{path}[{k}]"), k, &p);
        }
    }
}

fn too_long(size: usize, path: &str, e: &mut Errs) {
    if size > MAX_DATA_BYTES {
        e.push(path, format!("Too long: may not be more than {MAX_DATA_BYTES} bytes"));
    }
}

/// kube-apiserver's `ValidateConfigMap`.
pub(crate) fn config_map(cm: &ConfigMap, e: &mut Errs) {
    meta(&cm.metadata, true, e);
    let data = cm.data.iter().flatten();
    let binary = cm.binary_data.iter().flatten();
    keys(data.clone().map(|(k, _)| k), "data", e);
    for (k, _) in data.clone() {
        if cm.binary_data.as_ref().is_some_and(|b| b.contains_key(k)) {
            e.invalid(&format!("data[{k}]"), k, "duplicate of key present in binaryData");
        }
    }
    keys(binary.clone().map(|(k, _)| k), "binaryData", e);
    let size: usize = data.map(|(_, v)| v.len()).sum::<usize>() + binary.map(|(_, v)| v.0.len()).sum::<usize>();
    too_long(size, "[]", e);
}

/// The keys each Secret type must have in `data` (kube-apiserver's `ValidateSecret`).
fn secret_type(s: &Secret, e: &mut Errs) {
    let has = |k: &str| s.data.as_ref().is_some_and(|d| d.contains_key(k));
    let json_key = |k: &str, e: &mut Errs| match s.data.as_ref().and_then(|d| d.get(k)) {
        None => e.required(&format!("data[{k}]")),
        Some(v) => {
            if let Err(err) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&v.0) {
                e.invalid(&format!("data[{k}]"), "<secret contents redacted>", &err.to_string());
            }
        }
    };
    match s.type_.as_deref().unwrap_or(DEFAULT_SECRET_TYPE) {
        "kubernetes.io/service-account-token" => {
            let name = s
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("kubernetes.io/service-account.name"));
            if name.is_none_or(String::is_empty) {
                e.required("metadata.annotations[kubernetes.io/service-account.name]");
            }
        }
        "kubernetes.io/dockercfg" => json_key(".dockercfg", e),
        "kubernetes.io/dockerconfigjson" => json_key(".dockerconfigjson", e),
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            e.required("data[username]");
            e.required("data[password]");
        }
        "kubernetes.io/ssh-auth" => {
            let key = s.data.as_ref().and_then(|d| d.get("ssh-privatekey"));
            if key.is_none_or(|k| k.0.is_empty()) {
                e.required("data[ssh-privatekey]");
            }
        }
        "kubernetes.io/tls" => {
            for k in ["tls.crt", "tls.key"] {
                if !has(k) {
                    e.required(&format!("data[{k}]"));
                }
            }
        }
        _ => {}
    }
}

/// kube-apiserver's `ValidateSecret`, on a Secret [`normalize_secret`] has merged.
pub(crate) fn secret(s: &Secret, e: &mut Errs) {
    meta(&s.metadata, true, e);
    // A Secret not yet normalized: its stringData keys are checked as the data keys they become.
    let data = s.data.iter().flatten().map(|(k, _)| k);
    keys(data.chain(s.string_data.iter().flatten().map(|(k, _)| k)), "data", e);
    let size: usize = s.data.iter().flatten().map(|(_, v)| v.0.len()).sum::<usize>()
        + s.string_data.iter().flatten().map(|(_, v)| v.len()).sum::<usize>();
    too_long(size, "data", e);
    secret_type(s, e);
}

fn immutable_set(old: Option<bool>, new: Option<bool>, e: &mut Errs) -> bool {
    if old != Some(true) {
        return false;
    }
    if new != Some(true) {
        e.forbidden("immutable", IMMUTABLE);
    }
    true
}

/// What an update of a ConfigMap may not change (`ValidateConfigMapUpdate`).
pub(crate) fn config_map_update(old: &ConfigMap, new: &ConfigMap, e: &mut Errs) {
    if immutable_set(old.immutable, new.immutable, e) {
        if new.data != old.data {
            e.forbidden("data", IMMUTABLE);
        }
        if new.binary_data != old.binary_data {
            e.forbidden("binaryData", IMMUTABLE);
        }
    }
}

/// What an update of a Secret may not change (`ValidateSecretUpdate`); both normalized.
pub(crate) fn secret_update(old: &Secret, new: &Secret, e: &mut Errs) {
    let (old_type, new_type) = (
        old.type_.as_deref().unwrap_or(DEFAULT_SECRET_TYPE),
        new.type_.as_deref().unwrap_or(DEFAULT_SECRET_TYPE),
    );
    if old_type != new_type {
        e.invalid("type", new_type, "field is immutable");
    }
    if immutable_set(old.immutable, new.immutable, e) && new.data != old.data {
        e.forbidden("data", IMMUTABLE);
    }
}
