//! The `--explain` hook: every kernel change is also reported as the equivalent iproute2 command.

use std::sync::{Arc, RwLock};

/// Receives one iproute2-style command line per kernel change.
pub type ExplainSink = Arc<dyn Fn(&str) + Send + Sync>;

/// Shared, swappable explain sink (cheap to call when unset).
#[derive(Clone, Default)]
pub(crate) struct Explain(Arc<RwLock<Option<ExplainSink>>>);

impl Explain {
    pub(crate) fn set(&self, sink: Option<ExplainSink>) {
        if let Ok(mut g) = self.0.write() {
            *g = sink;
        }
    }

    /// Reports the command built by `line` if a sink is set (the string is only built then).
    pub(crate) fn emit(&self, line: impl FnOnce() -> String) {
        let sink = match self.0.read() {
            Ok(g) => g.clone(),
            Err(_) => None,
        };
        if let Some(sink) = sink {
            sink(&line());
        }
    }
}

impl std::fmt::Debug for Explain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Explain")
    }
}
