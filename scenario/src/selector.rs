//! Label selectors: kubectl's `-l` syntax (`app=web,tier!=db,env in (a,b),!canary`) and
//! the `matchLabels`/`matchExpressions` form used by Deployments, with one matcher for both.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;

use crate::names;

/// How one requirement compares a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `key=value` or `key==value`.
    Equals,
    /// `key!=value` (also true when the key is absent).
    NotEquals,
    /// `key in (a,b)`.
    In,
    /// `key notin (a,b)` (also true when the key is absent).
    NotIn,
    /// `key`.
    Exists,
    /// `!key`.
    DoesNotExist,
}

/// One condition on one label key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// The comparison.
    pub operator: Operator,
    /// Values for `=`, `!=` (one), `in`/`notin` (one or more); empty otherwise.
    pub values: Vec<String>,
}

impl Requirement {
    /// Whether a set of labels satisfies this requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::Equals | Operator::In => value.is_some_and(|v| self.values.contains(v)),
            Operator::NotEquals | Operator::NotIn => !value.is_some_and(|v| self.values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.operator {
            Operator::Equals => write!(f, "{}={}", self.key, self.values.join(",")),
            Operator::NotEquals => write!(f, "{}!={}", self.key, self.values.join(",")),
            Operator::In => write!(f, "{} in ({})", self.key, self.values.join(",")),
            Operator::NotIn => write!(f, "{} notin ({})", self.key, self.values.join(",")),
            Operator::Exists => write!(f, "{}", self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
        }
    }
}

/// A label selector: all requirements must hold (comma means AND). An empty selector
/// matches every object, as in Kubernetes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    /// The requirements, in the order written.
    pub requirements: Vec<Requirement>,
}

/// A selector that cannot be parsed or has invalid keys/values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid label selector {selector:?}: {message}")]
pub struct SelectorError {
    /// The selector text (or a rendering of the structured selector).
    pub selector: String,
    /// What is wrong.
    pub message: String,
}

impl LabelSelector {
    /// Parses kubectl's selector syntax: `app=web`, `app==web`, `tier!=db`,
    /// `env in (a,b)`, `env notin (a)`, `key`, `!key`, joined by commas (AND).
    pub fn parse(s: &str) -> Result<LabelSelector, SelectorError> {
        let err = |message: String| SelectorError {
            selector: s.to_owned(),
            message,
        };
        let mut requirements = Vec::new();
        for part in split_top_level(s).map_err(err)? {
            let part = part.trim();
            if part.is_empty() {
                if s.trim().is_empty() {
                    continue;
                }
                return Err(err(
                    "empty requirement (two commas in a row, or a trailing comma?)".into()
                ));
            }
            requirements.push(parse_requirement(part).map_err(err)?);
        }
        Ok(LabelSelector { requirements })
    }

    /// Converts a Kubernetes `LabelSelector` (matchLabels + matchExpressions).
    pub fn from_k8s(sel: &metav1::LabelSelector) -> Result<LabelSelector, SelectorError> {
        let mut requirements = Vec::new();
        for (k, v) in sel.match_labels.iter().flatten() {
            requirements.push(Requirement {
                key: k.clone(),
                operator: Operator::Equals,
                values: vec![v.clone()],
            });
        }
        for expr in sel.match_expressions.iter().flatten() {
            let values = expr.values.clone().unwrap_or_default();
            let operator = match expr.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(SelectorError {
                        selector: format!("{sel:?}"),
                        message: format!(
                            "{other:?} is not a valid selector operator (use In, NotIn, Exists or DoesNotExist)"
                        ),
                    });
                }
            };
            let needs_values = matches!(operator, Operator::In | Operator::NotIn);
            if needs_values == values.is_empty() {
                return Err(SelectorError {
                    selector: format!("{sel:?}"),
                    message: if needs_values {
                        format!("operator {} needs at least one value", expr.operator)
                    } else {
                        format!("operator {} takes no values", expr.operator)
                    },
                });
            }
            requirements.push(Requirement {
                key: expr.key.clone(),
                operator,
                values,
            });
        }
        let selector = LabelSelector { requirements };
        selector.check().map_err(|message| SelectorError {
            selector: selector.to_string(),
            message,
        })?;
        Ok(selector)
    }

    /// Whether a set of labels satisfies every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// True when the selector has no requirements (it selects everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    fn check(&self) -> Result<(), String> {
        for r in &self.requirements {
            if let Some(e) = names::qualified_name(&r.key).into_iter().next() {
                return Err(format!("key {:?}: {e}", r.key));
            }
            for v in &r.values {
                if let Some(e) = names::label_value(v).into_iter().next() {
                    return Err(format!("value {v:?}: {e}"));
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.requirements.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

/// Splits on commas that are not inside parentheses.
fn split_top_level(s: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| "')' without a matching '('".to_owned())?;
            }
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("'(' without a matching ')'".into());
    }
    parts.push(&s[start..]);
    Ok(parts)
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    let req = if let Some(key) = part.strip_prefix('!') {
        Requirement {
            key: key.trim().to_owned(),
            operator: Operator::DoesNotExist,
            values: vec![],
        }
    } else if let Some((key, value)) = part.split_once("!=") {
        single(key, Operator::NotEquals, value)?
    } else if let Some((key, value)) = part.split_once("==") {
        single(key, Operator::Equals, value)?
    } else if let Some((key, value)) = part.split_once('=') {
        single(key, Operator::Equals, value)?
    } else if let Some(open) = part.find('(') {
        let head: Vec<&str> = part[..open].split_whitespace().collect();
        let (key, operator) = match head.as_slice() {
            [key, "in"] => (*key, Operator::In),
            [key, "notin"] => (*key, Operator::NotIn),
            _ => {
                return Err(format!(
                    "expected `key in (values)` or `key notin (values)`, found {part:?}"
                ));
            }
        };
        let inner = part[open + 1..]
            .strip_suffix(')')
            .ok_or_else(|| format!("text after ')' in {part:?}"))?;
        let values: Vec<String> = inner.split(',').map(|v| v.trim().to_owned()).collect();
        if inner.trim().is_empty() {
            return Err(format!("{part:?}: `{}` needs at least one value", head[1]));
        }
        Requirement {
            key: key.to_owned(),
            operator,
            values,
        }
    } else {
        let key = part.trim();
        if key.contains(char::is_whitespace) {
            return Err(format!(
                "{part:?} is not a requirement (expected key=value, key!=value, key in (a,b), key notin (a,b), key or !key)"
            ));
        }
        Requirement {
            key: key.to_owned(),
            operator: Operator::Exists,
            values: vec![],
        }
    };
    LabelSelector {
        requirements: vec![req.clone()],
    }
    .check()?;
    Ok(req)
}

fn single(key: &str, operator: Operator, value: &str) -> Result<Requirement, String> {
    let value = value.trim();
    if value.contains(['=', '!', '(', ')', ' ']) {
        return Err(format!("{value:?} is not a valid label value"));
    }
    Ok(Requirement {
        key: key.trim().to_owned(),
        operator,
        values: vec![value.to_owned()],
    })
}
