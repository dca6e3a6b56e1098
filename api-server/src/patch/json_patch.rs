//! JSON patch (RFC 6902): `add`, `remove`, `replace`, `move`, `copy` and `test` with JSON
//! Pointers (RFC 6901). The patch applies as a whole or not at all. Error details are worded
//! like evanphx/json-patch's, the library kube-apiserver uses.

use serde_json::Value;

use super::PatchError;

/// kube-apiserver's limit on the operations of one JSON patch.
pub const MAX_OPERATIONS: usize = 10_000;

/// The most bytes `copy` operations may add to the document in one patch, so that a short patch
/// cannot double the object until memory runs out.
pub const MAX_COPY_BYTES: usize = 3 * 1024 * 1024;

/// Applies the JSON patch `patch` (an array of operations) to a copy of `doc`.
pub fn apply(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    let Value::Array(ops) = patch else {
        return Err(PatchError::BadRequest(format!(
            "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
            go_kind(patch)
        )));
    };
    if ops.len() > MAX_OPERATIONS {
        return Err(PatchError::TooLarge(format!(
            "The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {}",
            ops.len()
        )));
    }
    let mut doc = doc.clone();
    let mut copied = 0usize;
    for op in ops {
        apply_op(&mut doc, op, &mut copied).map_err(|cause| PatchError::Rejected { cause })?;
    }
    Ok(doc)
}

/// How Go's encoding/json names the JSON type of `v` in an unmarshal error.
pub(crate) fn go_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn apply_op(doc: &mut Value, op: &Value, copied: &mut usize) -> Result<(), String> {
    let kind = op.get("op").and_then(Value::as_str).unwrap_or("unknown");
    let path = |field: &str| -> Result<Vec<String>, String> {
        let raw = op
            .get(field)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{kind} operation failed to decode {field}: missing value"))?;
        parse_pointer(raw)
    };
    let value = || {
        op.get("value")
            .cloned()
            .ok_or_else(|| format!("{kind} operation has no value: missing value"))
    };
    match kind {
        "add" => add(doc, &path("path")?, value()?)
            .map_err(|e| format!("add operation does not apply: doc is missing path: {e}")),
        "remove" => remove(doc, &path("path")?)
            .map(drop)
            .map_err(|e| format!("remove operation does not apply: doc is missing path: {e}")),
        "replace" => replace(doc, &path("path")?, value()?)
            .map_err(|e| format!("replace operation does not apply: doc is missing key: {e}")),
        "move" => {
            let (from, to) = (path("from")?, path("path")?);
            if to.len() > from.len() && to.starts_with(&from) {
                return Err(format!(
                    "Unable to move {} into its own child {}",
                    show(&from),
                    show(&to)
                ));
            }
            let moved = remove(doc, &from)
                .map_err(|e| format!("move operation does not apply: doc is missing from path: {e}"))?;
            add(doc, &to, moved)
                .map_err(|e| format!("move operation does not apply: doc is missing destination path: {e}"))
        }
        "copy" => {
            let (from, to) = (path("from")?, path("path")?);
            let copy = get(doc, &from).cloned().ok_or_else(|| {
                format!(
                    "copy operation does not apply: doc is missing from path: {}: missing value",
                    show(&from)
                )
            })?;
            *copied = copied.saturating_add(serialized_len(&copy));
            if *copied > MAX_COPY_BYTES {
                return Err(format!(
                    "Unable to complete the copy, the accumulated size increase of copy is {copied}, exceeding the limit {MAX_COPY_BYTES}"
                ));
            }
            add(doc, &to, copy)
                .map_err(|e| format!("copy operation does not apply: doc is missing destination path: {e}"))
        }
        "test" => {
            let (at, expected) = (path("path")?, value()?);
            match get(doc, &at) {
                Some(actual) if json_equal(actual, &expected) => Ok(()),
                _ => Err(format!("testing value {} failed: test failed", show(&at))),
            }
        }
        other => Err(format!("Unexpected kind: {other}")),
    }
}

/// Splits a JSON Pointer into its unescaped reference tokens (`~1` is `/`, `~0` is `~`).
pub(crate) fn parse_pointer(raw: &str) -> Result<Vec<String>, String> {
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = raw.strip_prefix('/') else {
        return Err(format!("JSON pointer must be empty or start with a \"/\": {raw:?}"));
    };
    rest.split('/')
        .map(|token| {
            let mut out = String::with_capacity(token.len());
            let mut chars = token.chars();
            while let Some(c) = chars.next() {
                if c != '~' {
                    out.push(c);
                    continue;
                }
                match chars.next() {
                    Some('0') => out.push('~'),
                    Some('1') => out.push('/'),
                    _ => return Err(format!("invalid escape in JSON pointer {raw:?}")),
                }
            }
            Ok(out)
        })
        .collect()
}

/// Shows tokens as a pointer again, for messages.
fn show(tokens: &[String]) -> String {
    tokens
        .iter()
        .map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// An array index token: `0` or digits without a leading zero.
fn parse_index(token: &str) -> Option<usize> {
    let digits = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    if !digits || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
}

fn get<'a>(doc: &'a Value, tokens: &[String]) -> Option<&'a Value> {
    tokens.iter().try_fold(doc, |v, token| match v {
        Value::Object(map) => map.get(token),
        Value::Array(items) => parse_index(token).and_then(|i| items.get(i)),
        _ => None,
    })
}

fn get_mut<'a>(doc: &'a mut Value, tokens: &[String]) -> Option<&'a mut Value> {
    tokens.iter().try_fold(doc, |v, token| match v {
        Value::Object(map) => map.get_mut(token),
        Value::Array(items) => parse_index(token).and_then(|i| items.get_mut(i)),
        _ => None,
    })
}

/// The container of the last token, and that token; `Err` names the missing path.
fn parent<'a>(doc: &'a mut Value, tokens: &'a [String]) -> Result<(&'a mut Value, &'a str), String> {
    let Some((last, init)) = tokens.split_last() else {
        return Err("\"\": the root has no parent: missing value".into());
    };
    match get_mut(doc, init) {
        Some(container) => Ok((container, last)),
        None => Err(format!("{:?}: missing value", show(tokens))),
    }
}

fn add(doc: &mut Value, tokens: &[String], value: Value) -> Result<(), String> {
    if tokens.is_empty() {
        *doc = value;
        return Ok(());
    }
    let (container, last) = parent(doc, tokens)?;
    match container {
        Value::Object(map) => {
            map.insert(last.to_owned(), value);
            Ok(())
        }
        Value::Array(items) if last == "-" => {
            items.push(value);
            Ok(())
        }
        Value::Array(items) => match parse_index(last) {
            Some(i) if i <= items.len() => {
                items.insert(i, value);
                Ok(())
            }
            _ => Err(format!(
                "{:?}: Unable to access invalid index: {last}: invalid index referenced",
                show(tokens)
            )),
        },
        _ => Err(format!("{:?}: missing value", show(tokens))),
    }
}

fn remove(doc: &mut Value, tokens: &[String]) -> Result<Value, String> {
    let (container, last) = parent(doc, tokens)?;
    let removed = match container {
        Value::Object(map) => map.remove(last),
        Value::Array(items) => match parse_index(last) {
            Some(i) if i < items.len() => Some(items.remove(i)),
            _ => None,
        },
        _ => None,
    };
    removed.ok_or_else(|| format!("{:?}: missing value", show(tokens)))
}

fn replace(doc: &mut Value, tokens: &[String], value: Value) -> Result<(), String> {
    match get_mut(doc, tokens) {
        Some(target) => {
            *target = value;
            Ok(())
        }
        None => Err(format!("{}: missing value", show(tokens))),
    }
}

/// JSON equality where numbers compare by value (`1` equals `1.0`).
pub(crate) fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_equal(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// The length of `v` serialized as compact JSON, counted without building the string.
fn serialized_len(v: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a Value to a writer that never fails cannot fail.
    let _ = serde_json::to_writer(&mut count, v);
    count.0
}

#[cfg(test)]
#[path = "json_patch_tests.rs"]
mod tests;
