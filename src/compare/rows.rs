//! What each row of a comparison measures and why it matters, in the README's words: the one
//! source of those texts for every renderer (terminal legend, Markdown bullets, the HTML page),
//! and of the note on reading latency against its noise.

/// One row's explanation.
pub(super) struct RowText {
    pub title: &'static str,
    /// What the row measures.
    pub what: &'static str,
    /// Why that matters for the design question.
    pub why: &'static str,
}

/// The rows in the order the renderers draw them.
pub(super) const ROWS: [RowText; 6] = [
    RowText {
        title: "Placement",
        what: "which node runs which container, and CPU/memory requested as % of allocatable.",
        why: "Requests, not use, decide what fits: a node whose requests are full takes no more \
              pods however idle its CPU is, and an idle node is capacity paid for and not used.",
    },
    RowText {
        title: "Scaling",
        what: "copies of the pod holding each tier are scheduled (by podlab's scheduler, on the \
               live cluster's state) until one does not fit; in one pod, every frontend drags a \
               backend along.",
        why: "The pod is what scales: tiers in one pod only grow together, so the tier that needs \
              more copies pays for copies of the one that does not.",
    },
    RowText {
        title: "Path",
        what: "how the frontend reaches the backend and what it costs: real HTTP requests \
               (p50/p99 latency, requests/s) from inside the frontend's network namespace, sent \
               in rounds; the backend's echo reports the source address it saw (127.0.0.1 over \
               localhost, the frontend's pod IP when split).",
        why: "Containers of one pod share a network namespace and talk over loopback; pods talk \
              over their own IPs, with no NAT, through the node's bridge and, between nodes, two \
              routers and the fabric.",
    },
    RowText {
        title: "Failure",
        what: "the frontend's node is taken down (NotReady, containers killed); what stops, what \
               keeps serving, and which pods of ReplicaSets/Deployments come back elsewhere with \
               new IPs.",
        why: "Containers of one pod share its node's fate; pods on different nodes fail apart, \
              and only pods a controller owns come back.",
    },
    RowText {
        title: "Verdict",
        what: "each row above summed up in one sentence.",
        why: "Read across the columns, it answers the question: one pod or two?",
    },
    RowText {
        title: "Decided by",
        what: "the scenario lines (file:line) and node capacities behind the verdicts.",
        why: "To change an outcome, this is the text to edit.",
    },
];

impl RowText {
    /// The row as one line of prose: `Placement: what. Why it matters: why`.
    pub fn line(&self) -> String {
        format!("{}: {} Why it matters: {}", self.title, self.what, self.why)
    }

    /// The row as a Markdown bullet, as the README lists it.
    pub fn bullet(&self) -> String {
        format!("- **{}**: {} *Why it matters:* {}", self.title, self.what, self.why)
    }
}

/// How to read latency against its noise (after the table, on every output).
pub(super) fn noise_note(rounds: usize) -> String {
    format!(
        "Latency is measured in {rounds} rounds of requests; the spread is the p50 of the fastest \
         and of the slowest round. When two spreads overlap, the difference between the p50s is \
         {}: other work on the machine (the clusters being compared run at the same time, on \
         shared CPUs) moves latency more than the path does, which is how a cross-node p50 can \
         read below a localhost one. Only a difference whose spreads do not overlap is measured.",
        super::noise::WITHIN_NOISE
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's compare section says the same as the page (whitespace aside).
    #[test]
    fn readme_has_every_row_text() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let readme = squash(&readme);
        for r in &ROWS {
            let line = squash(&r.bullet());
            assert!(readme.contains(&line), "README lacks {line:?}");
        }
    }
}
