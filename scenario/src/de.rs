//! Typed deserialization from the located YAML tree: turns a [`Node`] into a k8s-openapi
//! object and, on failure, reports the field path and the exact line/column of the bad value.
//! While it reads, every struct hands it its field list, so the keys a type does not know are
//! collected there (kubectl's "unknown field" warnings, see `fields`), with no second pass.

use std::cell::RefCell;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

use crate::fields::{UnknownField, suggest};
use crate::yaml::{Node, Value};

/// Where the unknown fields found during one deserialization go.
type Sink = RefCell<Vec<UnknownField>>;

/// A failure to read a typed value out of the tree, with where it happened.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TypeError {
    /// Field path in kubectl form (`spec.containers[0].ports[0].containerPort`).
    pub path: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
    /// Set once a node has claimed the error, so outer nodes keep the inner position.
    located: bool,
    /// A required field that was missing: the message becomes "Required value".
    missing: Option<String>,
}

impl TypeError {
    fn new(message: String) -> Self {
        TypeError {
            path: String::new(),
            line: 0,
            col: 0,
            message,
            located: false,
            missing: None,
        }
    }

    fn at(mut self, node: &Node, path: &str) -> Self {
        if !self.located {
            self.located = true;
            self.line = node.line;
            self.col = node.col;
            self.path = match self.missing.take() {
                Some(field) => {
                    self.message = "Required value".into();
                    join(path, &field)
                }
                None => path.to_owned(),
            };
        }
        self
    }

    /// "path: message", or just the message at the document root.
    pub fn describe(&self) -> String {
        if self.path.is_empty() {
            self.message.clone()
        } else {
            format!("{}: {}", self.path, self.message)
        }
    }
}

impl fmt::Display for TypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl std::error::Error for TypeError {}

impl de::Error for TypeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        TypeError::new(msg.to_string())
    }
    fn missing_field(field: &'static str) -> Self {
        let mut e = TypeError::new(format!("missing field {field:?}"));
        e.missing = Some(field.to_owned());
        e
    }
}

/// Joins a field name onto a path (`spec` + `containers` = `spec.containers`).
pub(crate) fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

/// Deserializes `T` from `node`; `path` is the field path of `node` ("" for a document).
/// Also returns the fields `T` does not know that were met on the way (even when reading
/// fails later), in document order; null values count as not set.
pub(crate) fn from_node<T: DeserializeOwned>(node: &Node, path: &str) -> (Result<T, TypeError>, Vec<UnknownField>) {
    let sink = Sink::default();
    let result = T::deserialize(NodeDe {
        node,
        path,
        sink: &sink,
    })
    .map_err(|e| e.at(node, path));
    let mut unknown = sink.into_inner();
    unknown.sort_by_key(|u| u.line);
    (result, unknown)
}

struct NodeDe<'a> {
    node: &'a Node,
    path: &'a str,
    sink: &'a Sink,
}

impl NodeDe<'_> {
    fn mismatch(&self, expected: &str) -> TypeError {
        let mut message = format!("expected {expected}, found {}", self.node.value.describe());
        if expected == "a string"
            && let Some(text) = self.node.scalar_text()
        {
            message.push_str(&format!(" (put it in quotes to make it text: \"{text}\")"));
        }
        TypeError::new(message).at(self.node, self.path)
    }

    fn integer<T>(&self, name: &str) -> Result<T, TypeError>
    where
        T: TryFrom<i64> + TryFrom<u64> + fmt::Display + Bounded,
    {
        let out_of_range = || {
            TypeError::new(format!(
                "the number {} does not fit in this field ({name}: from {} to {})",
                self.node.scalar_text().unwrap_or_default(),
                T::min_text(),
                T::max_text()
            ))
            .at(self.node, self.path)
        };
        match &self.node.value {
            Value::Int(i) => T::try_from(*i).map_err(|_| out_of_range()),
            Value::UInt(u) => T::try_from(*u).map_err(|_| out_of_range()),
            Value::BigInt(_) => Err(out_of_range()),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                T::try_from(*f as i64).map_err(|_| out_of_range())
            }
            Value::Float(f) if f.fract() == 0.0 || !f.is_finite() => Err(out_of_range()),
            _ => Err(self.mismatch("a whole number")),
        }
    }
}

/// Range text for integer types in messages.
trait Bounded {
    fn min_text() -> String;
    fn max_text() -> String;
}

macro_rules! bounded {
    ($($t:ty),*) => {$(
        impl Bounded for $t {
            fn min_text() -> String { <$t>::MIN.to_string() }
            fn max_text() -> String { <$t>::MAX.to_string() }
        }
    )*};
}
bounded!(i8, i16, i32, i64, u8, u16, u32, u64);

macro_rules! int_method {
    ($method:ident, $visit:ident, $t:ty, $name:expr) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
            let v: $t = self.integer($name)?;
            visitor
                .$visit::<TypeError>(v)
                .map_err(|e| e.at(self.node, self.path))
        }
    };
}

impl<'de> Deserializer<'de> for NodeDe<'_> {
    type Error = TypeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        let r = match &self.node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::UInt(u) => visitor.visit_u64(*u),
            Value::BigInt(s) => visitor.visit_str(s),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_str(s),
            Value::Seq(items) => visitor.visit_seq(SeqDe {
                items: items.iter().enumerate(),
                path: self.path,
                sink: self.sink,
            }),
            Value::Map(entries) => visitor.visit_map(MapDe {
                entries: entries.iter(),
                value: None,
                path: self.path,
                sink: self.sink,
            }),
        };
        r.map_err(|e| e.at(self.node, self.path))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        match &self.node.value {
            Value::Bool(b) => visitor
                .visit_bool::<TypeError>(*b)
                .map_err(|e| e.at(self.node, self.path)),
            _ => Err(self.mismatch("true or false")),
        }
    }

    int_method!(deserialize_i8, visit_i8, i8, "8-bit integer");
    int_method!(deserialize_i16, visit_i16, i16, "16-bit integer");
    int_method!(deserialize_i32, visit_i32, i32, "32-bit integer");
    int_method!(deserialize_i64, visit_i64, i64, "64-bit integer");
    int_method!(deserialize_u8, visit_u8, u8, "8-bit unsigned integer");
    int_method!(deserialize_u16, visit_u16, u16, "16-bit unsigned integer");
    int_method!(deserialize_u32, visit_u32, u32, "32-bit unsigned integer");
    int_method!(deserialize_u64, visit_u64, u64, "64-bit unsigned integer");

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        let v = match &self.node.value {
            Value::Int(i) => *i as f64,
            Value::UInt(u) => *u as f64,
            Value::Float(f) => *f,
            _ => return Err(self.mismatch("a number")),
        };
        visitor
            .visit_f64::<TypeError>(v)
            .map_err(|e| e.at(self.node, self.path))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        match &self.node.value {
            Value::Str(s) => visitor
                .visit_str::<TypeError>(s)
                .map_err(|e| e.at(self.node, self.path)),
            _ => Err(self.mismatch("a string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        match &self.node.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, TypeError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, TypeError> {
        let (node, path) = (self.node, self.path);
        visitor.visit_newtype_struct(self).map_err(|e| e.at(node, path))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        match &self.node.value {
            Value::Seq(items) => visitor
                .visit_seq(SeqDe {
                    items: items.iter().enumerate(),
                    path: self.path,
                    sink: self.sink,
                })
                .map_err(|e| e.at(self.node, self.path)),
            _ => Err(self.mismatch("a list")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, TypeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, TypeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        match &self.node.value {
            Value::Map(entries) => visitor
                .visit_map(MapDe {
                    entries: entries.iter(),
                    value: None,
                    path: self.path,
                    sink: self.sink,
                })
                .map_err(|e| e.at(self.node, self.path)),
            _ => Err(self.mismatch("a map (mapping)")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TypeError> {
        for (key, value) in self.node.entries().unwrap_or_default() {
            if value.value != Value::Null && !fields.contains(&key.name.as_str()) {
                self.sink.borrow_mut().push(UnknownField {
                    path: join(self.path, &key.name),
                    line: key.line,
                    suggestion: suggest(&key.name, fields).map(str::to_owned),
                });
            }
        }
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TypeError> {
        match &self.node.value {
            Value::Str(s) => visitor
                .visit_enum(UnitVariant(s.as_str()))
                .map_err(|e| e.at(self.node, self.path)),
            _ => Err(self.mismatch("a string")),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TypeError> {
        visitor.visit_unit()
    }
}

struct SeqDe<'a, I> {
    items: I,
    path: &'a str,
    sink: &'a Sink,
}

impl<'de, 'a, I: Iterator<Item = (usize, &'a Node)>> SeqAccess<'de> for SeqDe<'_, I> {
    type Error = TypeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, TypeError> {
        match self.items.next() {
            None => Ok(None),
            Some((i, node)) => {
                let path = format!("{}[{i}]", self.path);
                seed.deserialize(NodeDe {
                    node,
                    path: &path,
                    sink: self.sink,
                })
                .map(Some)
                .map_err(|e| e.at(node, &path))
            }
        }
    }
}

struct MapDe<'a, I> {
    entries: I,
    value: Option<(&'a Node, String)>,
    path: &'a str,
    sink: &'a Sink,
}

impl<'de, 'a, I: Iterator<Item = &'a (crate::yaml::Key, Node)>> MapAccess<'de> for MapDe<'a, I> {
    type Error = TypeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, TypeError> {
        match self.entries.next() {
            None => Ok(None),
            Some((key, node)) => {
                let path = join(self.path, &key.name);
                let k = seed.deserialize(key.name.as_str().into_deserializer())?;
                self.value = Some((node, path));
                Ok(Some(k))
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, TypeError> {
        let (node, path) = self
            .value
            .take()
            .ok_or_else(|| TypeError::new("value requested before key".into()))?;
        seed.deserialize(NodeDe {
            node,
            path: &path,
            sink: self.sink,
        })
        .map_err(|e| e.at(node, &path))
    }
}

struct UnitVariant<'a>(&'a str);

impl<'de> EnumAccess<'de> for UnitVariant<'_> {
    type Error = TypeError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), TypeError> {
        let v = seed.deserialize(self.0.into_deserializer())?;
        Ok((v, self))
    }
}

impl<'de> VariantAccess<'de> for UnitVariant<'_> {
    type Error = TypeError;

    fn unit_variant(self) -> Result<(), TypeError> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _seed: T) -> Result<T::Value, TypeError> {
        Err(TypeError::new("expected a plain value".into()))
    }
    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _v: V) -> Result<V::Value, TypeError> {
        Err(TypeError::new("expected a plain value".into()))
    }
    fn struct_variant<V: Visitor<'de>>(self, _fields: &'static [&'static str], _v: V) -> Result<V::Value, TypeError> {
        Err(TypeError::new("expected a plain value".into()))
    }
}

/// Finds the node a kubectl-style field path points at (`spec.containers[0].name`,
/// `spec.containers[0].resources.requests[cpu]`), or the deepest existing ancestor.
pub(crate) fn locate<'a>(root: &'a Node, path: &str) -> &'a Node {
    let mut node = root;
    for seg in segments(path) {
        let next = match (&node.value, seg) {
            (Value::Seq(items), Seg::Index(i)) => items.get(i),
            (Value::Map(_), Seg::Key(k)) => node.get(k),
            (Value::Map(_), Seg::Index(i)) => node.get(&i.to_string()),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    node
}

enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

fn segments(path: &str) -> Vec<Seg<'_>> {
    let mut out = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(stripped) = rest.strip_prefix('[') {
            let end = stripped.find(']').unwrap_or(stripped.len());
            let inner = &stripped[..end];
            out.push(match inner.parse::<usize>() {
                Ok(i) => Seg::Index(i),
                Err(_) => Seg::Key(inner),
            });
            rest = stripped.get(end + 1..).unwrap_or("");
        } else {
            let rest2 = rest.strip_prefix('.').unwrap_or(rest);
            let end = rest2.find(['.', '[']).unwrap_or(rest2.len());
            if end > 0 {
                out.push(Seg::Key(&rest2[..end]));
            }
            rest = &rest2[end..];
            if end == 0 && rest == rest2 && !rest.starts_with('[') {
                rest = &rest[1..];
            }
        }
    }
    out
}
