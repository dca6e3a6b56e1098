//! How a run narrates itself: a step's title when it has no name, what a selector picks, the
//! `»` lines a scenario says (pausing in a lesson), and the ✓ / ✗ / - line after each step.

use super::{Outcome, Report, expect::expectation_text, say};
use podlab_scenario::{Action, PodSelector, Step};

/// Print a step's `say:` text; in a lesson, wait for Enter before going on.
pub(crate) async fn narrate(text: &str, pause: bool) {
    say(&format!("\n  » {text}"));
    if pause {
        print!("    [Enter] ");
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let _ = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)
        })
        .await;
    }
}

/// Print the line for step number `i` (from 0) and count its outcome in the report.
pub(crate) fn report_step(report: &mut Report, i: usize, step: &Step, outcome: Outcome, ms: u128) {
    let title = step.name.clone().unwrap_or_else(|| describe_action(&step.action));
    match outcome {
        Outcome::Pass(detail) => {
            report.passed += 1;
            say(&format!(" ✓ [{}] {title} ({ms} ms){}", i + 1, indent_detail(&detail)));
        }
        Outcome::Fail(why) => {
            report.failed += 1;
            say(&format!(" ✗ [{}] {title} (line {}): {}", i + 1, step.line, why));
        }
        Outcome::Skip(why) => {
            report.skipped += 1;
            say(&format!(" - [{}] {title}: skipped ({why})", i + 1));
        }
    }
}

fn indent_detail(d: &str) -> String {
    if d.is_empty() {
        String::new()
    } else {
        format!("\n     {}", d.replace('\n', "\n     "))
    }
}

/// A step's title when the scenario gives it no name.
fn describe_action(a: &Action) -> String {
    match a {
        Action::Apply(objs) => format!("apply {} object(s)", objs.len()),
        Action::Wait { pods, phase, timeout } => format!(
            "wait for {} to be {phase} (timeout {}s)",
            selector_text(pods),
            timeout.as_secs()
        ),
        Action::Exec {
            pod,
            container,
            command,
            ..
        } => format!(
            "exec in {pod}{}: {}",
            container.as_ref().map(|c| format!("/{c}")).unwrap_or_default(),
            command.join(" ")
        ),
        Action::Expect(e) => format!("expect {}", expectation_text(e)),
        Action::Connectivity {
            pods,
            port,
            expect_reachable,
            ..
        } => format!(
            "connectivity between {}{}{}",
            selector_text(pods),
            port.map(|p| format!(" on port {p}")).unwrap_or_default(),
            if *expect_reachable { "" } else { " (expected to fail)" }
        ),
        Action::Delete { pods } => format!("delete {}", selector_text(pods)),
        Action::Sleep(d) => format!("sleep {} ms", d.as_millis()),
    }
}

pub(crate) fn selector_text(s: &PodSelector) -> String {
    match s {
        PodSelector::All => "all pods".into(),
        PodSelector::Names { names, .. } => format!("pod {}", names.join(", ")),
        PodSelector::Labels { selector, .. } => format!("pods with labels {selector}"),
    }
}
