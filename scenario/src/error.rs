//! Errors and warnings reported while loading, each pointing at a file, line and column.

use std::fmt;
use std::path::PathBuf;

/// Where something is in a file. Line and column are 1-based; 0 means "unknown".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The file, as the user named it (or joined onto the scenario's directory).
    pub file: PathBuf,
    /// 1-based line, 0 when not known.
    pub line: usize,
    /// 1-based column, 0 when not known.
    pub column: usize,
}

impl Position {
    /// A position in `file` at `line`:`column`.
    pub fn new(file: impl Into<PathBuf>, line: usize, column: usize) -> Self {
        Position {
            file: file.into(),
            line,
            column,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
            if self.column > 0 {
                write!(f, ":{}", self.column)?;
            }
        }
        Ok(())
    }
}

/// Why a scenario or manifest could not be loaded. `Display` starts with `file:line:col:`
/// where a position is known, then says what is wrong in plain words.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file or directory could not be read.
    #[error("{path}: cannot read: {source}", path = .path.display())]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not well-formed YAML (or JSON).
    #[error("{at}: {message}")]
    Syntax {
        /// Where the parser stopped.
        at: Position,
        /// The parser's message plus, where useful, a hint.
        message: String,
    },
    /// A field has the wrong shape or type (a list where a map belongs, text for a number).
    #[error("{at}: {message}")]
    Type {
        /// The offending value.
        at: Position,
        /// Field path, kubectl style (`spec.containers[0].ports[0].containerPort`).
        field: String,
        /// What was expected and what was found.
        message: String,
    },
    /// An object fails the API server's validation (`The Pod "x" is invalid: ...`).
    #[error("{at}: {message}")]
    Invalid {
        /// The first offending field.
        at: Position,
        /// kubectl's message.
        message: String,
    },
    /// A kind or apiVersion podlab does not handle.
    #[error("{at}: {message}")]
    Unsupported {
        /// The `kind` (or document) position.
        at: Position,
        /// Which kind/version and what is supported.
        message: String,
    },
    /// The same object (kind, namespace, name) is defined twice.
    #[error("{at}: {message}")]
    Duplicate {
        /// The second definition.
        at: Position,
        /// Names both places.
        message: String,
    },
    /// The scenario part (cluster, manifests, steps) is wrong.
    #[error("{at}: {message}")]
    Scenario {
        /// The offending entry.
        at: Position,
        /// What is wrong.
        message: String,
    },
    /// A manifest file reference is missing or points outside the scenario's directory.
    #[error("{at}: {message}")]
    ManifestPath {
        /// The `file:` entry.
        at: Position,
        /// What is wrong with the path.
        message: String,
    },
    /// The file holds nothing podlab can use.
    #[error("{at}: {message}")]
    Empty {
        /// The file.
        at: Position,
        /// Why it is considered empty.
        message: String,
    },
}

impl LoadError {
    /// The position the error points at, when there is one.
    pub fn position(&self) -> Option<&Position> {
        match self {
            LoadError::Io { .. } => None,
            LoadError::Syntax { at, .. }
            | LoadError::Type { at, .. }
            | LoadError::Invalid { at, .. }
            | LoadError::Unsupported { at, .. }
            | LoadError::Duplicate { at, .. }
            | LoadError::Scenario { at, .. }
            | LoadError::ManifestPath { at, .. }
            | LoadError::Empty { at, .. } => Some(at),
        }
    }
}

/// Something accepted but probably not what the user meant (unknown fields, steps that name
/// pods no manifest defines). Displays like kubectl:
/// `Warning: unknown field "spec.containers[0].imagePullPolice" (pod.yaml:12)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// The warning text, without the `Warning: ` prefix.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Warning: {} ({}", self.message, self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        f.write_str(")")
    }
}
