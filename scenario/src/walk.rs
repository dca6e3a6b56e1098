//! Helpers for reading the scenario part of a file by hand from the located YAML tree:
//! typed getters that report `file:line:col: field: expected ..., found ...`, and
//! warnings for keys nobody reads.

use std::time::Duration;

use crate::de::join;
use crate::duration::parse_duration;
use crate::error::LoadError;
use crate::objects::Ctx;
use crate::yaml::{Node, Value};

/// A mapping being read: remembers its path for messages.
pub(crate) struct Map<'n> {
    pub node: &'n Node,
    pub path: String,
}

impl<'n> Map<'n> {
    /// Views `node` as a map; `what` names the thing for the message.
    pub fn new(node: &'n Node, path: &str, ctx: &Ctx<'_>) -> Result<Self, LoadError> {
        match node.value {
            Value::Map(_) => Ok(Map {
                node,
                path: path.to_owned(),
            }),
            _ => Err(mismatch(node, path, "a map (mapping)", ctx)),
        }
    }

    /// Warns about keys not in `known` (kubectl-style "unknown field").
    pub fn warn_unknown(&self, known: &[&str], ctx: &mut Ctx<'_>) {
        for (k, _) in self.node.entries().unwrap_or_default() {
            if !known.contains(&k.name.as_str()) {
                let unknown = crate::fields::UnknownField {
                    path: join(&self.path, &k.name),
                    line: k.line,
                    suggestion: crate::fields::suggest(&k.name, known).map(str::to_owned),
                };
                ctx.warn(k.line, unknown.to_string());
            }
        }
    }

    /// The value under `key`, treating an explicit null as absent.
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.node.get(key).filter(|n| n.value != Value::Null)
    }

    /// Path of a child field.
    pub fn child(&self, key: &str) -> String {
        join(&self.path, key)
    }

    pub fn string(&self, key: &str, ctx: &Ctx<'_>) -> Result<Option<String>, LoadError> {
        self.get(key).map(|n| string(n, &self.child(key), ctx)).transpose()
    }

    /// Like [`Map::string`], but numbers and booleans are taken as their text.
    pub fn text(&self, key: &str, ctx: &Ctx<'_>) -> Result<Option<String>, LoadError> {
        self.get(key)
            .map(|n| {
                n.scalar_text()
                    .ok_or_else(|| mismatch(n, &self.child(key), "a single value", ctx))
            })
            .transpose()
    }

    pub fn bool(&self, key: &str, ctx: &Ctx<'_>) -> Result<Option<bool>, LoadError> {
        self.get(key)
            .map(|n| match n.value {
                Value::Bool(b) => Ok(b),
                _ => Err(mismatch(n, &self.child(key), "true or false", ctx)),
            })
            .transpose()
    }

    pub fn uint(&self, key: &str, max: u64, ctx: &Ctx<'_>) -> Result<Option<u64>, LoadError> {
        self.get(key).map(|n| uint(n, &self.child(key), max, ctx)).transpose()
    }

    pub fn float(&self, key: &str, ctx: &Ctx<'_>) -> Result<Option<f64>, LoadError> {
        self.get(key)
            .map(|n| match n.value {
                Value::Int(i) => Ok(i as f64),
                Value::UInt(u) => Ok(u as f64),
                Value::Float(f) => Ok(f),
                _ => Err(mismatch(n, &self.child(key), "a number", ctx)),
            })
            .transpose()
    }

    pub fn duration(&self, key: &str, ctx: &Ctx<'_>) -> Result<Option<Duration>, LoadError> {
        self.get(key).map(|n| duration(n, &self.child(key), ctx)).transpose()
    }
}

/// A scenario-part error at `node`.
pub(crate) fn error(node: &Node, path: &str, message: &str, ctx: &Ctx<'_>) -> LoadError {
    LoadError::Scenario {
        at: ctx.pos(node),
        message: if path.is_empty() {
            message.to_owned()
        } else {
            format!("{path}: {message}")
        },
    }
}

pub(crate) fn mismatch(node: &Node, path: &str, expected: &str, ctx: &Ctx<'_>) -> LoadError {
    error(
        node,
        path,
        &format!("expected {expected}, found {}", node.value.describe()),
        ctx,
    )
}

pub(crate) fn string(node: &Node, path: &str, ctx: &Ctx<'_>) -> Result<String, LoadError> {
    node.as_str()
        .map(str::to_owned)
        .ok_or_else(|| mismatch(node, path, "a string", ctx))
}

pub(crate) fn uint(node: &Node, path: &str, max: u64, ctx: &Ctx<'_>) -> Result<u64, LoadError> {
    let v = match node.value {
        Value::UInt(u) => u,
        Value::Int(i) if i >= 0 => i as u64,
        Value::Int(_) | Value::BigInt(_) | Value::Float(_) => {
            return Err(error(
                node,
                path,
                &format!(
                    "{} is out of range: expected a whole number from 0 to {max}",
                    node.scalar_text().unwrap_or_default()
                ),
                ctx,
            ));
        }
        _ => return Err(mismatch(node, path, "a whole number", ctx)),
    };
    if v > max {
        return Err(error(node, path, &format!("{v} is too large (at most {max})"), ctx));
    }
    Ok(v)
}

pub(crate) fn duration(node: &Node, path: &str, ctx: &Ctx<'_>) -> Result<Duration, LoadError> {
    let text = node
        .scalar_text()
        .ok_or_else(|| mismatch(node, path, "a duration like 30s", ctx))?;
    parse_duration(&text).map_err(|e| error(node, path, &e.to_string(), ctx))
}

pub(crate) fn string_list(node: &Node, path: &str, ctx: &Ctx<'_>) -> Result<Vec<String>, LoadError> {
    match &node.value {
        Value::Seq(items) => items
            .iter()
            .enumerate()
            .map(|(i, n)| {
                n.scalar_text()
                    .ok_or_else(|| mismatch(n, &format!("{path}[{i}]"), "a string", ctx))
            })
            .collect(),
        _ => Err(mismatch(node, path, "a list of strings", ctx)),
    }
}
