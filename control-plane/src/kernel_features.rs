//! Before building anything: the kernel features a scenario's links need (the `netem` qdisc
//! for latency and jitter, `tbf` for a rate), looked up without touching the kernel — a loaded
//! module in /sys/module, the kernel's own configuration in /proc/config.gz, or the module
//! lists of /lib/modules/<release>/ — so a scenario this kernel cannot shape is refused with
//! the option named, instead of failing once the fabric is half built.

use podlab_scenario::Scenario;
use std::io::Read;

/// A qdisc and where the kernel has it: (qdisc, kernel option, module, what needs it).
const QDISCS: [(&str, &str, &str, &str); 2] = [
    ("netem", "CONFIG_NET_SCH_NETEM", "sch_netem", "link latency and jitter"),
    ("tbf", "CONFIG_NET_SCH_TBF", "sch_tbf", "a link rate"),
];

/// What is known of one kernel feature.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Known {
    Yes,
    /// Missing, and where that was read.
    No(String),
    Unknown,
}

/// The qdiscs `scenario`'s links use.
fn wanted(scenario: &Scenario) -> Vec<&'static str> {
    let links = std::iter::once(&scenario.cluster.links).chain(scenario.cluster.uplinks.values());
    let mut out = Vec::new();
    for l in links {
        if (l.latency.is_some() || l.jitter.is_some()) && !out.contains(&"netem") {
            out.push("netem");
        }
        if l.rate_bits_per_sec.is_some() && !out.contains(&"tbf") {
            out.push("tbf");
        }
    }
    out
}

/// `/proc/config.gz`, unpacked, if the kernel offers it.
fn kernel_config() -> Option<String> {
    let raw = std::fs::read("/proc/config.gz").ok()?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(raw.as_slice())
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

fn has(option: &str, module: &str, config: Option<&str>) -> Known {
    if std::path::Path::new("/sys/module").join(module).exists() {
        return Known::Yes;
    }
    if let Some(config) = config {
        for line in config.lines() {
            if line == format!("{option}=y") || line == format!("{option}=m") {
                return Known::Yes;
            }
            if line == format!("# {option} is not set") {
                return Known::No(format!("{option} is not set in /proc/config.gz"));
            }
        }
    }
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let ko = format!("/{module}.ko");
    for list in ["modules.builtin", "modules.dep"] {
        let path = format!("/lib/modules/{release}/{list}");
        if std::fs::read_to_string(path).is_ok_and(|t| t.contains(&ko)) {
            return Known::Yes;
        }
    }
    Known::Unknown
}

/// What the scenario's links need that this kernel lacks, one sentence each (empty: nothing
/// missing, or it cannot be told, and then the bring-up says so if it fails).
pub fn missing(scenario: &Scenario) -> Vec<String> {
    let want = wanted(scenario);
    if want.is_empty() {
        return vec![];
    }
    let config = kernel_config();
    QDISCS
        .iter()
        .filter(|(q, ..)| want.contains(q))
        .filter_map(|(q, option, module, what)| match has(option, module, config.as_deref()) {
            Known::No(where_) => Some(format!(
                "this kernel has no {q} qdisc ({where_}; module {module}): the scenario's {what} (cluster.links / cluster.uplinks) cannot be shaped here"
            )),
            Known::Yes | Known::Unknown => None,
        })
        .collect()
}

/// The message for a scenario refused for a missing kernel feature.
pub fn refusal(missing: &[String]) -> String {
    let lines: Vec<String> = missing.iter().map(|m| format!("  - {m}")).collect();
    format!(
        "this scenario needs what this kernel lacks; nothing was built:\n{}\n\
         Remove the link settings from the scenario, or run it on a kernel built with them. \
         podlab never loads modules or changes the machine.",
        lines.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_config_says_yes_or_no() {
        let config = "CONFIG_NET_SCH_TBF=y\n# CONFIG_NET_SCH_NETEM is not set\n";
        assert_eq!(has("CONFIG_NET_SCH_TBF", "no_such_module_x", Some(config)), Known::Yes);
        assert_eq!(
            has("CONFIG_NET_SCH_NETEM", "no_such_module_y", Some(config)),
            Known::No("CONFIG_NET_SCH_NETEM is not set in /proc/config.gz".into())
        );
    }
}
