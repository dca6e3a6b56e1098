//! Kubernetes strategic merge patch, following k8s.io/apimachinery's `strategicpatch` (the
//! server side: `StrategicMergeMapPatch` with parallel lists merged and unmatched nulls
//! ignored). Like a JSON merge patch, except that lists with a `patchMergeKey` (see
//! [`super::keys`]) are merged element by element, and these directives are honoured:
//!
//! - `$patch: replace` in a map: the map becomes the patch's map; as a list element: the list
//!   becomes the patch's other elements.
//! - `$patch: delete` in a map: the key is removed (kube-apiserver leaves `{}`, which decodes to
//!   the same object); as a list element: the live elements with that merge key are removed.
//! - `$patch: merge`: the default, accepted in a map (kube-apiserver rejects it there) and
//!   rejected in a list as kube-apiserver does.
//! - `$retainKeys: [..]`: after validation (every key the patch sets is listed), the live keys
//!   not listed are dropped before merging.
//! - `$setElementOrder/<list>: [..]`: the merged list is ordered so that the elements listed
//!   come in that order; the others keep their live order, interleaved by best effort.
//! - `$deleteFromPrimitiveList/<list>: [..]`: these values are removed from a primitive list.
//!
//! Directive keys never reach the result, also inside values added where nothing was live.
//! Without `$setElementOrder`, a merged list keeps the order of the patch for its elements and
//! the live order for the rest, exactly as `normalizeElementOrder` does.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::PatchError;
use super::json_patch::{go_kind, json_equal};
use super::keys::{FieldMeta, ListStrategy, Schema};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ORDER: &str = "$setElementOrder/";
const DELETE_FROM: &str = "$deleteFromPrimitiveList/";

// The messages of k8s.io/apimachinery/pkg/util/mergepatch.
const BAD_PRIMITIVE_LIST: &str = "invalid patch format of primitive list";
const BAD_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
const BAD_ORDER_LIST: &str = "invalid patch format of setElementOrder list";
const NO_LIST_OF_LISTS: &str = "lists of lists are not supported";

/// Applies the strategic merge patch `patch` (a JSON object) to a copy of `doc`, an object of
/// `kind`.
pub fn apply(kind: &str, doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    let Value::Object(patch) = patch else {
        return Err(PatchError::BadRequest(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            go_kind(patch)
        )));
    };
    let original = doc.as_object().cloned().unwrap_or_default();
    let merged = merge_map(original, patch, Some(Schema::for_kind(kind)))?;
    Ok(Value::Object(merged.unwrap_or_default()))
}

/// Merges `patch` into `original`; `None` when the patch deletes the map (`$patch: delete`).
fn merge_map(
    mut original: Map<String, Value>,
    patch: &Map<String, Value>,
    schema: Option<Schema>,
) -> Result<Option<Map<String, Value>>, PatchError> {
    match patch.get(DIRECTIVE) {
        None => {}
        Some(Value::String(d)) if d == "merge" => {}
        Some(Value::String(d)) if d == "replace" => original.clear(),
        Some(Value::String(d)) if d == "delete" => return Ok(None),
        Some(other) => return Err(bad_patch_type(other, patch)),
    }
    if let Some(keys) = patch.get(RETAIN_KEYS) {
        retain_keys(&mut original, patch, keys)?;
    }
    let mut ordered = HashSet::new();
    for (key, order) in patch {
        if let Some(field) = key.strip_prefix(SET_ORDER) {
            if field.is_empty() {
                return Err(PatchError::BadRequest(BAD_ORDER_LIST.into()));
            }
            let meta = Schema::field(schema, field);
            let live = original.remove(field);
            if let Some(list) = ordered_list(live, patch.get(field), order, meta)? {
                original.insert(field.to_owned(), list);
            }
            ordered.insert(field);
        }
    }
    for (key, value) in patch {
        if key.starts_with('$') {
            check_directive_key(key)?;
            continue;
        }
        if ordered.contains(key.as_str()) {
            continue;
        }
        let live = original.get_mut(key).map(std::mem::take);
        match merge_value(live, value, Schema::field(schema, key))? {
            Some(merged) => {
                original.insert(key.clone(), merged);
            }
            None => {
                original.remove(key);
            }
        }
    }
    for (key, values) in patch {
        if let Some(field) = key.strip_prefix(DELETE_FROM) {
            delete_from_primitive_list(&mut original, field, values)?;
        }
    }
    Ok(Some(original))
}

/// Merges one patch value into the live value of the same key (`None`: the key is removed).
/// Where the live value is absent or of another type, the patch value is merged into an empty
/// one, which drops its nulls and directives.
fn merge_value(live: Option<Value>, patch: &Value, meta: FieldMeta) -> Result<Option<Value>, PatchError> {
    match patch {
        Value::Null => Ok(None),
        Value::Object(patch) => {
            let live = match live {
                Some(Value::Object(map)) => map,
                _ => Map::new(),
            };
            Ok(merge_map(live, patch, meta.child)?.map(Value::Object))
        }
        Value::Array(patch) => {
            let live = match live {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            merge_list(live, patch, meta).map(|items| Some(Value::Array(items)))
        }
        scalar => Ok(Some(scalar.clone())),
    }
}

/// Combines a live list with a patch list by the field's strategy.
fn merge_list(live: Vec<Value>, patch: &[Value], meta: FieldMeta) -> Result<Vec<Value>, PatchError> {
    match meta.list {
        ListStrategy::Replace => replace_list(patch, meta.child),
        ListStrategy::MergePrimitives => merge_primitives(live, patch),
        ListStrategy::MergeByKey(key) => merge_by_key(live, patch, key, meta.child),
    }
}

/// The patch's list as the new value: elements carrying a `$patch` directive are dropped (as
/// `removeDirectives` does), nulls and directives inside the others removed.
fn replace_list(patch: &[Value], child: Option<Schema>) -> Result<Vec<Value>, PatchError> {
    let mut out = Vec::with_capacity(patch.len());
    for item in patch {
        match item {
            Value::Object(map) if map.contains_key(DIRECTIVE) => {}
            Value::Object(map) => {
                if let Some(clean) = merge_map(Map::new(), map, child)? {
                    out.push(Value::Object(clean));
                }
            }
            Value::Array(inner) => out.push(Value::Array(replace_list(inner, None)?)),
            other => out.push(other.clone()),
        }
    }
    Ok(out)
}

/// `patchStrategy:"merge"` on primitives: the union, patch values in patch order.
fn merge_primitives(live: Vec<Value>, patch: &[Value]) -> Result<Vec<Value>, PatchError> {
    for item in patch {
        match item {
            Value::Array(_) => return Err(rejected(NO_LIST_OF_LISTS)),
            Value::Object(_) => return Err(PatchError::BadRequest(BAD_PRIMITIVE_LIST.into())),
            _ => {}
        }
    }
    let mut seen = HashSet::new();
    let merged: Vec<Value> = live
        .iter()
        .chain(patch)
        .filter(|item| seen.insert(canonical(item)))
        .cloned()
        .collect();
    let (in_patch, server_only) = partition(merged, patch, None);
    Ok(normalize_order(in_patch, server_only, patch, &live, None))
}

/// `patchStrategy:"merge"` with a `patchMergeKey`: special elements (`$patch`) first, then each
/// patch element merged into the live element with the same key, or appended.
fn merge_by_key(
    mut live: Vec<Value>,
    patch: &[Value],
    key: &str,
    child: Option<Schema>,
) -> Result<Vec<Value>, PatchError> {
    let mut plain = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let map = match item {
            Value::Object(map) => map,
            Value::Array(_) => return Err(rejected(NO_LIST_OF_LISTS)),
            other => {
                return Err(PatchError::Unmergeable(format!(
                    "expected a map in a list merged by {key}, but received a {}",
                    go_kind(other)
                )));
            }
        };
        match map.get(DIRECTIVE) {
            None => plain.push(map),
            Some(Value::String(d)) if d == "delete" => {
                let gone = canonical(map.get(key).ok_or_else(|| no_merge_key(map, key))?);
                live.retain(|l| identity(l, Some(key)).is_none_or(|id| id != gone));
            }
            Some(Value::String(d)) if d == "replace" => replace = true,
            Some(Value::String(d)) if d == "merge" => {
                return Err(PatchError::Unmergeable(
                    "merging lists cannot yet be specified in the patch".into(),
                ));
            }
            Some(other) => return Err(bad_patch_type(other, map)),
        }
    }
    if replace {
        live.clear();
    }
    let server_order = live.clone();
    let mut positions = Positions::of(&live, Some(key));
    for map in &plain {
        let id = canonical(map.get(key).ok_or_else(|| no_merge_key(map, key))?);
        match positions.at.get(&id).copied() {
            Some(i) => {
                let current = match std::mem::take(&mut live[i]) {
                    Value::Object(current) => current,
                    _ => Map::new(),
                };
                // `plain` has no `$patch`, so the merge never deletes.
                live[i] = Value::Object(merge_map(current, map, child)?.unwrap_or_default());
            }
            None => {
                let added = merge_map(Map::new(), map, child)?.unwrap_or_default();
                positions.at.insert(id, live.len());
                live.push(Value::Object(added));
            }
        }
    }
    let patch_order: Vec<Value> = plain.into_iter().cloned().map(Value::Object).collect();
    let (in_patch, server_only) = partition(live, &patch_order, Some(key));
    Ok(normalize_order(
        in_patch,
        server_only,
        &patch_order,
        &server_order,
        Some(key),
    ))
}

/// The list `field` under `$setElementOrder/field`: merged as usual, then ordered.
fn ordered_list(
    live: Option<Value>,
    patch: Option<&Value>,
    order: &Value,
    meta: FieldMeta,
) -> Result<Option<Value>, PatchError> {
    let Value::Array(order) = order else {
        return Err(PatchError::BadRequest(BAD_ORDER_LIST.into()));
    };
    let live = match live {
        None => None,
        Some(Value::Array(items)) => Some(items),
        Some(other) => return Err(not_a_list(&other)),
    };
    let patch = match patch {
        None => None,
        Some(Value::Array(items)) => Some(items.as_slice()),
        Some(other) => return Err(not_a_list(other)),
    };
    let key = meta.merge_key();
    validate_order(patch.unwrap_or_default(), order, key)?;
    let live_order = live.clone().unwrap_or_default();
    let merged = match (live, patch) {
        (None, None) => return Ok(None),
        (Some(live), None) => live,
        (live, Some(patch)) => merge_list(live.unwrap_or_default(), patch, meta)?,
    };
    let (in_order, server_only) = partition(merged, order, key);
    let list = normalize_order(in_order, server_only, order, &live_order, key);
    Ok(Some(Value::Array(list)))
}

/// `validatePatchWithSetOrderList`: the patch's elements come in the order of the
/// `$setElementOrder` list and are all in it (deletions ignored).
fn validate_order(patch: &[Value], order: &[Value], key: Option<&str>) -> Result<(), PatchError> {
    let wanted: Vec<&Value> = patch.iter().filter(|item| item.get(DIRECTIVE).is_none()).collect();
    let (mut p, mut o) = (0, 0);
    while p < wanted.len() && o < order.len() {
        let equal = match key {
            None => json_equal(wanted[p], &order[o]),
            Some(key) => {
                let left = key_of(wanted[p], key)?;
                let right = key_of(&order[o], key)?;
                json_equal(left, right)
            }
        };
        if equal {
            p += 1;
        }
        o += 1;
    }
    if p < wanted.len() {
        return Err(PatchError::Unmergeable(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ORDER} list:\n{}\n",
            Value::Array(patch.to_vec()),
            Value::Array(order.to_vec())
        )));
    }
    Ok(())
}

fn key_of<'a>(item: &'a Value, key: &str) -> Result<&'a Value, PatchError> {
    match item {
        Value::Object(map) => map.get(key).ok_or_else(|| no_merge_key(map, key)),
        other => Err(PatchError::Unmergeable(format!(
            "expected a map, but received a {}",
            go_kind(other)
        ))),
    }
}

/// `$retainKeys`: validates that the patch only sets listed keys, then drops the unlisted live
/// keys.
fn retain_keys(original: &mut Map<String, Value>, patch: &Map<String, Value>, keys: &Value) -> Result<(), PatchError> {
    let Value::Array(keys) = keys else {
        return Err(PatchError::BadRequest(BAD_RETAIN_KEYS.into()));
    };
    let keys: HashSet<&str> = keys.iter().filter_map(Value::as_str).collect();
    let listed = |k: &str| keys.contains(k);
    let unlisted = patch
        .iter()
        .any(|(k, v)| !v.is_null() && !k.starts_with('$') && !listed(k));
    if unlisted {
        return Err(PatchError::BadRequest(BAD_RETAIN_KEYS.into()));
    }
    original.retain(|k, _| listed(k));
    Ok(())
}

/// `$deleteFromPrimitiveList/field`: removes these values from the primitive list `field`.
fn delete_from_primitive_list(
    original: &mut Map<String, Value>,
    field: &str,
    values: &Value,
) -> Result<(), PatchError> {
    let Value::Array(values) = values else {
        return Err(PatchError::BadRequest(BAD_PRIMITIVE_LIST.into()));
    };
    if field.is_empty() || values.iter().any(|v| v.is_object() || v.is_array()) {
        return Err(PatchError::BadRequest(BAD_PRIMITIVE_LIST.into()));
    }
    match original.get_mut(field) {
        None => Ok(()),
        Some(Value::Array(items)) => {
            let gone: HashSet<String> = values.iter().map(canonical).collect();
            items.retain(|item| !gone.contains(&canonical(item)));
            Ok(())
        }
        Some(other) => Err(not_a_list(other)),
    }
}

fn check_directive_key(key: &str) -> Result<(), PatchError> {
    let known = key == DIRECTIVE || key == RETAIN_KEYS || key.starts_with(SET_ORDER) || key.starts_with(DELETE_FROM);
    if known {
        Ok(())
    } else {
        Err(PatchError::BadRequest(format!(
            "unknown strategic merge patch directive {key:?}"
        )))
    }
}

/// Splits `items` into those present in `by` (by merge key, or by value for primitives) and the
/// others, keeping their order.
fn partition(items: Vec<Value>, by: &[Value], key: Option<&str>) -> (Vec<Value>, Vec<Value>) {
    let by = Positions::of(by, key);
    items.into_iter().partition(|item| by.position(item).is_some())
}

/// The first position of each element of a list by its identity (its merge key's value, or
/// itself for primitives), so that merging long lists stays linear.
struct Positions<'k> {
    key: Option<&'k str>,
    at: HashMap<String, usize>,
}

impl<'k> Positions<'k> {
    fn of(list: &[Value], key: Option<&'k str>) -> Self {
        let mut at = HashMap::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            if let Some(id) = identity(item, key) {
                at.entry(id).or_insert(i);
            }
        }
        Positions { key, at }
    }

    fn position(&self, item: &Value) -> Option<usize> {
        identity(item, self.key).and_then(|id| self.at.get(&id).copied())
    }
}

/// What identifies a list element: its merge key's value, or the element itself.
fn identity(item: &Value, key: Option<&str>) -> Option<String> {
    match key {
        Some(key) => item.get(key).map(canonical),
        None => Some(canonical(item)),
    }
}

/// A string that is equal for equal JSON values; a number is compared by value (`1` is `1.0`),
/// as [`json_equal`] does.
fn canonical(v: &Value) -> String {
    match v {
        Value::String(s) => format!("s{s}"),
        Value::Number(n) => match n.as_f64() {
            Some(f) => format!("n{f:?}"),
            None => format!("n{n}"),
        },
        other => format!("j{other}"),
    }
}

/// `normalizeElementOrder`: sorts the patch's elements by the patch order and the server-only
/// ones by the live order, then interleaves them by the live order (`mergeSortedSlice`).
fn normalize_order(
    mut in_patch: Vec<Value>,
    mut server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: Option<&str>,
) -> Vec<Value> {
    sort_by_order(&mut in_patch, &Positions::of(patch_order, key));
    let server = Positions::of(server_order, key);
    sort_by_order(&mut server_only, &server);
    let mut out = Vec::with_capacity(in_patch.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = in_patch.into_iter().peekable();
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(l), Some(r)) => match (server.position(l), server.position(r)) {
                (Some(li), Some(ri)) => li < ri,
                _ => false,
            },
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

/// Stable sort by position in the order; elements not in it go last, in their current order.
fn sort_by_order(items: &mut [Value], order: &Positions<'_>) {
    items.sort_by_cached_key(|item| order.position(item).unwrap_or(usize::MAX));
}

fn rejected(cause: &str) -> PatchError {
    PatchError::Rejected {
        cause: cause.to_owned(),
    }
}

fn no_merge_key(map: &Map<String, Value>, key: &str) -> PatchError {
    PatchError::Unmergeable(format!(
        "map: {} does not contain declared merge key: {key}",
        Value::Object(map.clone())
    ))
}

fn bad_patch_type(directive: &Value, map: &Map<String, Value>) -> PatchError {
    let shown = directive.as_str().map_or_else(|| directive.to_string(), str::to_owned);
    PatchError::Unmergeable(format!(
        "unknown patch type: {shown} in map: {}",
        Value::Object(map.clone())
    ))
}

fn not_a_list(v: &Value) -> PatchError {
    PatchError::Unmergeable(format!("expected a []interface{{}}, but received a {}", go_kind(v)))
}

#[cfg(test)]
#[path = "strategic_tests.rs"]
mod tests;
