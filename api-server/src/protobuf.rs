//! Protobuf request bodies of the kinds kubectl's generators create and podlab stores as data:
//! `kubectl create configmap` and `kubectl create secret` send
//! `application/vnd.kubernetes.protobuf` (the `k8s\0` magic, then a `runtime.Unknown` holding
//! the object), and do not fall back to JSON. This reads those two kinds into the JSON the rest
//! of the API works on; every field podlab does not read is refused by number, never dropped.
//! Other kinds keep the `415` that tells what to send instead.

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;
use std::collections::BTreeMap;

/// Why a protobuf body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// Not a Kubernetes protobuf envelope, or cut short.
    #[error("the protobuf body is malformed: {0}")]
    Malformed(&'static str),
    /// A kind podlab reads only as JSON.
    #[error("{0}")]
    Kind(String),
    /// A field podlab does not read (it would otherwise be lost).
    #[error(
        "podlab cannot read field {field} of a protobuf {message}: send the object as JSON (`kubectl create -f FILE`)"
    )]
    Field {
        /// The protobuf message (`ConfigMap`, `ObjectMeta`).
        message: &'static str,
        /// The field number.
        field: u64,
    },
}

/// One field of a protobuf message: its number and its value.
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

/// The fields of one protobuf message, in order.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, ProtoError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self
                .buf
                .split_first()
                .ok_or(ProtoError::Malformed("a number is cut short"))?;
            self.buf = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(ProtoError::Malformed("a number is too long"))
    }

    fn next(&mut self) -> Result<Option<(u64, Wire<'a>)>, ProtoError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let tag = self.varint()?;
        let value = match tag & 7 {
            0 => Wire::Varint(self.varint()?),
            2 => {
                let len =
                    usize::try_from(self.varint()?).map_err(|_| ProtoError::Malformed("a length is too large"))?;
                if len > self.buf.len() {
                    return Err(ProtoError::Malformed("a field is cut short"));
                }
                let (field, rest) = self.buf.split_at(len);
                self.buf = rest;
                Wire::Bytes(field)
            }
            _ => {
                return Err(ProtoError::Malformed(
                    "a field has a wire type Kubernetes objects do not use",
                ));
            }
        };
        Ok(Some((tag >> 3, value)))
    }
}

fn fields(buf: &[u8]) -> Reader<'_> {
    Reader { buf }
}

fn bytes<'a>(w: &Wire<'a>) -> Result<&'a [u8], ProtoError> {
    match w {
        Wire::Bytes(b) => Ok(b),
        Wire::Varint(_) => Err(ProtoError::Malformed("a number where text was expected")),
    }
}

fn text(w: &Wire<'_>) -> Result<String, ProtoError> {
    String::from_utf8(bytes(w)?.to_vec()).map_err(|_| ProtoError::Malformed("text that is not UTF-8"))
}

/// Text, `None` when empty (Go writes empty strings for unset fields).
fn opt_text(w: &Wire<'_>) -> Result<Option<String>, ProtoError> {
    Ok(Some(text(w)?).filter(|s| !s.is_empty()))
}

fn flag(w: &Wire<'_>) -> Result<bool, ProtoError> {
    match w {
        Wire::Varint(v) => Ok(*v != 0),
        Wire::Bytes(_) => Err(ProtoError::Malformed("text where a boolean was expected")),
    }
}

/// A map entry (`key` = 1, `value` = 2).
fn entry<'a>(w: &Wire<'a>) -> Result<(String, &'a [u8]), ProtoError> {
    let (mut key, mut value): (String, &[u8]) = (String::new(), &[]);
    let mut r = fields(bytes(w)?);
    while let Some((n, v)) = r.next()? {
        match n {
            1 => key = text(&v)?,
            2 => value = bytes(&v)?,
            _ => {
                return Err(ProtoError::Malformed(
                    "a map entry with a field other than key and value",
                ));
            }
        }
    }
    Ok((key, value))
}

fn string_entry(w: &Wire<'_>, map: &mut Option<BTreeMap<String, String>>) -> Result<(), ProtoError> {
    let (k, v) = entry(w)?;
    let v = String::from_utf8(v.to_vec()).map_err(|_| ProtoError::Malformed("text that is not UTF-8"))?;
    map.get_or_insert_with(BTreeMap::new).insert(k, v);
    Ok(())
}

fn bytes_entry(w: &Wire<'_>, map: &mut Option<BTreeMap<String, ByteString>>) -> Result<(), ProtoError> {
    let (k, v) = entry(w)?;
    map.get_or_insert_with(BTreeMap::new).insert(k, ByteString(v.to_vec()));
    Ok(())
}

/// Whether a field holds nothing (an unset field as Go writes it).
fn empty(w: &Wire<'_>) -> bool {
    match w {
        Wire::Varint(v) => *v == 0,
        Wire::Bytes(b) => b.is_empty(),
    }
}

/// `ObjectMeta`: what a client may set on a new object. What the server sets itself
/// (uid, resourceVersion, creationTimestamp, managedFields) is accepted and replaced, as in JSON.
fn object_meta(buf: &[u8]) -> Result<ObjectMeta, ProtoError> {
    let mut m = ObjectMeta::default();
    let mut r = fields(buf);
    while let Some((n, v)) = r.next()? {
        match n {
            1 => m.name = opt_text(&v)?,
            2 => m.generate_name = opt_text(&v)?,
            3 => m.namespace = opt_text(&v)?,
            5 => m.uid = opt_text(&v)?,
            6 => m.resource_version = opt_text(&v)?,
            11 => string_entry(&v, &mut m.labels)?,
            12 => string_entry(&v, &mut m.annotations)?,
            14 => m.finalizers.get_or_insert_with(Vec::new).push(text(&v)?),
            // selfLink, generation, creationTimestamp, managedFields: the server's own.
            4 | 7 | 8 | 17 => {}
            _ if empty(&v) => {}
            field => {
                return Err(ProtoError::Field {
                    message: "ObjectMeta",
                    field,
                });
            }
        }
    }
    Ok(m)
}

fn config_map(buf: &[u8]) -> Result<ConfigMap, ProtoError> {
    let mut c = ConfigMap::default();
    let mut r = fields(buf);
    while let Some((n, v)) = r.next()? {
        match n {
            1 => c.metadata = object_meta(bytes(&v)?)?,
            2 => string_entry(&v, &mut c.data)?,
            3 => bytes_entry(&v, &mut c.binary_data)?,
            4 => c.immutable = Some(flag(&v)?),
            field => {
                return Err(ProtoError::Field {
                    message: "ConfigMap",
                    field,
                });
            }
        }
    }
    Ok(c)
}

fn secret(buf: &[u8]) -> Result<Secret, ProtoError> {
    let mut s = Secret::default();
    let mut r = fields(buf);
    while let Some((n, v)) = r.next()? {
        match n {
            1 => s.metadata = object_meta(bytes(&v)?)?,
            2 => bytes_entry(&v, &mut s.data)?,
            3 => s.type_ = opt_text(&v)?,
            4 => string_entry(&v, &mut s.string_data)?,
            5 => s.immutable = Some(flag(&v)?),
            field => {
                return Err(ProtoError::Field {
                    message: "Secret",
                    field,
                });
            }
        }
    }
    Ok(s)
}

/// The JSON of the object in a Kubernetes protobuf body (`k8s\0` + `runtime.Unknown`), for the
/// kinds podlab reads that way (ConfigMap, Secret).
pub fn to_json(body: &[u8]) -> Result<Value, ProtoError> {
    let envelope = body
        .strip_prefix(b"k8s\0")
        .ok_or(ProtoError::Malformed("it does not start with the k8s\\0 magic"))?;
    let (mut kind, mut raw) = (String::new(), None);
    let mut r = fields(envelope);
    while let Some((n, v)) = r.next()? {
        match n {
            1 => {
                let mut tm = fields(bytes(&v)?);
                while let Some((n, v)) = tm.next()? {
                    if n == 2 {
                        kind = text(&v)?;
                    }
                }
            }
            2 => raw = Some(bytes(&v)?),
            // contentEncoding and contentType: empty for a plain object.
            3 | 4 if empty(&v) => {}
            _ => {
                return Err(ProtoError::Malformed(
                    "the envelope has an encoding podlab does not read",
                ));
            }
        }
    }
    let raw = raw.unwrap_or_default();
    let json = match kind.as_str() {
        "ConfigMap" => serde_json::to_value(config_map(raw)?),
        "Secret" => serde_json::to_value(secret(raw)?),
        other => {
            return Err(ProtoError::Kind(format!(
                "podlab's Kubernetes API reads protobuf only for ConfigMaps and Secrets, not for {other:?}: kubectl's generators (`kubectl create deployment|namespace|...`) send protobuf. Write a manifest and use `kubectl create -f FILE` or `kubectl apply -f FILE`, or pipe a generator through JSON: `kubectl create deployment NAME --image=IMAGE --dry-run=client -o json | kubectl create -f -`"
            )));
        }
    };
    json.map_err(|_| ProtoError::Malformed("the object cannot be turned into JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `kubectl create secret generic db --from-literal=password=s3cret` (1.32) sends.
    const SECRET: &[u8] = b"k8s\0\x0a\x0c\x0a\x02v1\x12\x06Secret\x12\x2a\x0a\x12\x0a\x02db\x12\x00\x1a\x00\x22\x00\x2a\x002\x008\x00B\x00\x12\x12\x0a\x08password\x12\x06s3cret\x1a\x00\x1a\x00\x22\x00";

    /// What `kubectl create configmap game --from-literal=lives=3 --from-file=game.properties` sends.
    const CONFIG_MAP: &[u8] = b"k8s\0\x0a\x0f\x0a\x02v1\x12\x09ConfigMap\x12\x3c\x0a\x14\x0a\x04game\x12\x00\x1a\x00\x22\x00\x2a\x002\x008\x00B\x00\x12\x18\x0a\x0fgame.properties\x12\x05a: 1\n\x12\x0a\x0a\x05lives\x12\x013\x1a\x00\x22\x00";

    #[test]
    fn kubectls_generated_secret_reads_as_json() {
        let v = to_json(SECRET).unwrap();
        assert_eq!(v["kind"], "Secret");
        assert_eq!(v["metadata"]["name"], "db");
        assert_eq!(v["data"]["password"], "czNjcmV0");
        assert!(v.get("type").is_none_or(Value::is_null), "{v}");
    }

    #[test]
    fn kubectls_generated_config_map_reads_as_json() {
        let v = to_json(CONFIG_MAP).unwrap();
        assert_eq!(v["kind"], "ConfigMap");
        assert_eq!(v["metadata"]["name"], "game");
        assert_eq!(v["data"]["lives"], "3");
        assert_eq!(v["data"]["game.properties"], "a: 1\n");
    }

    #[test]
    fn unknown_fields_and_other_kinds_are_refused() {
        let mut cm = CONFIG_MAP.to_vec();
        cm[0x16] += 2; // the raw object is two bytes longer: field 9 = 1
        let at = 0x17 + 0x3c;
        cm.splice(at..at, [0x48, 0x01]);
        let e = to_json(&cm).unwrap_err();
        assert!(e.to_string().contains("field 9 of a protobuf ConfigMap"), "{e}");
        let ns = b"k8s\0\x0a\x0f\x0a\x02v1\x12\x09Namespace\x12\x00";
        assert!(matches!(to_json(ns), Err(ProtoError::Kind(_))));
        assert!(to_json(b"not protobuf").is_err());
    }
}
