//! Reading a file into YAML documents, turning parser failures into newcomer-friendly
//! messages (`file:line:col: ...`, with a special message for tab indentation).

use std::path::Path;

use serde_saphyr::{NonFiniteFloatPolicy, Options};

use crate::error::{LoadError, Position};
use crate::yaml::Node;

/// At most this many YAML events may come from expanding aliases (`*name`) in one file.
const MAX_ALIAS_EVENTS: usize = 10_000;

const SYNTAX_HINT: &str = "(the file is not valid YAML at this point: check the indentation - spaces only, each nested level indented more than its parent - and that every `key: value` has a space after the colon)";

/// Reads a whole file as UTF-8 text.
pub(crate) fn read(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Parses every non-empty YAML document in `text` (JSON is YAML too). Line numbers are
/// those of the whole file.
pub(crate) fn parse_documents(text: &str, file: &Path) -> Result<Vec<Node>, LoadError> {
    let mut options = Options::default();
    options.non_finite_float_policy = NonFiniteFloatPolicy::AsString;
    // kubectl reads YAML 1.1 (go-yaml v2): `defaultMode: 0400` is octal, 256, as the
    // Kubernetes docs' Secret and ConfigMap examples mean it.
    options.legacy_octal_numbers = true;
    // Aliases that expand to more than this many YAML events (a "billion laughs" file) are
    // refused: saphyr's default (1,000,000) lets a 600-byte file take seconds and ~400 MB.
    options.alias_limits.max_total_replayed_events = MAX_ALIAS_EVENTS;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    serde_saphyr::from_multiple_with_options::<Node>(text, options).map_err(|e| syntax_error(&e, text, file))
}

fn syntax_error(e: &serde_saphyr::Error, text: &str, file: &Path) -> LoadError {
    let (line, col) = e
        .location()
        .map_or((0, 0), |l| (l.line() as usize, l.column() as usize));
    let mut message = e.without_snippet().to_string();
    // saphyr appends the position; the position is already in front of the message.
    if let Some(idx) = message.rfind(" at line ") {
        message.truncate(idx);
    }
    if let Some(tab_line) = tab_indented_line(text, line) {
        let tab_col = text
            .lines()
            .nth(tab_line - 1)
            .and_then(|l| l.find('\t'))
            .map_or(1, |c| c + 1);
        return LoadError::Syntax {
            at: Position::new(file, tab_line, tab_col),
            message: "YAML does not allow tab characters for indentation; use spaces (your editor may have inserted a tab here)".into(),
        };
    }
    if message.starts_with("alias replay limit exceeded") {
        return LoadError::Syntax {
            at: Position::new(file, line, col),
            message: format!(
                "the aliases (*name) in this file expand to more than {MAX_ALIAS_EVENTS} YAML values; write the values out or nest fewer aliases"
            ),
        };
    }
    if let Some(key) = message.strip_prefix("duplicate mapping key: ") {
        let key = key.split(',').next().unwrap_or(key);
        message = format!("mapping key {key:?} already defined: a key may appear only once in the same map");
        return LoadError::Syntax {
            at: Position::new(file, line, col),
            message,
        };
    }
    LoadError::Syntax {
        at: Position::new(file, line, col),
        message: format!("{message} {SYNTAX_HINT}"),
    }
}

/// The line (1-based) near `line` whose indentation contains a tab, if any: the error
/// line itself or the line just before it.
fn tab_indented_line(text: &str, line: usize) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let candidates = [line, line.saturating_sub(1), line + 1];
    candidates.into_iter().find(|&l| {
        l > 0
            && lines.get(l - 1).is_some_and(|s| {
                let indent: &str = &s[..s.len() - s.trim_start().len()];
                indent.contains('\t')
            })
    })
}
