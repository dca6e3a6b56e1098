//! The machine's root network namespace, as text, before and after the peer benchmark:
//! links, addresses, routes, rules, `net.*` sysctls plus the global limits Mininet likes to
//! raise, and the firewall. The harness prints whether the two snapshots are identical.

use anyhow::{Context, Result};
use podlab_netplugin::ns::{self, Netns};
use std::process::Command;

/// What is compared (also printed with the verdict).
pub const WHAT: &str =
    "links, addresses, routes, rules, net.* sysctls, kernel.pty.max, fs.file-max, nftables, iptables";

/// The snapshot script. Address lifetimes and route expiry count down on their own, and the
/// conntrack counter moves with any traffic on the machine: those are left out.
const SCRIPT: &str = r#"
ip -o link show 2>&1
ip -o addr show 2>&1 | sed -E 's/ (valid|preferred)_lft [^ ]+//g'
ip route show table all 2>&1 | sed -E 's/ expires [0-9]+sec//'
ip -6 route show table all 2>&1 | sed -E 's/ expires [0-9]+sec//'
ip rule show 2>&1
ip -6 rule show 2>&1
sysctl -a 2>/dev/null | grep -E '^(net\.|kernel\.pty\.max |fs\.file-max )' | grep -v -E 'conntrack_count|^net\.netfilter\.nf_conntrack_(expect_max|buckets)'
nft list ruleset 2>/dev/null
iptables-save 2>/dev/null | grep -v '^#'
ip6tables-save 2>/dev/null | grep -v '^#'
"#;

/// Takes a snapshot from the calling thread's namespace (call it before leaving the root
/// namespace, with no other thread alive yet).
pub fn snapshot_here() -> Result<String> {
    let out = Command::new("sh")
        .args(["-c", SCRIPT])
        .output()
        .context("running `sh` for the root namespace snapshot")?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Takes a snapshot of namespace `root` (from a thread that enters it).
pub fn snapshot_in(root: &Netns) -> Result<String> {
    ns::run_in(root, snapshot_here).context("entering the root network namespace to compare it")?
}

/// Lines that differ between two snapshots (`-` before only, `+` after only), at most 20.
pub fn diff(before: &str, after: &str) -> Vec<String> {
    let b: std::collections::BTreeSet<&str> = before.lines().collect();
    let a: std::collections::BTreeSet<&str> = after.lines().collect();
    b.difference(&a)
        .map(|l| format!("- {l}"))
        .chain(a.difference(&b).map(|l| format!("+ {l}")))
        .take(20)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_snapshots_have_no_diff_and_changes_are_named() {
        assert!(diff("a\nb\n", "a\nb\n").is_empty());
        assert_eq!(diff("a\nb\n", "a\nc\n"), vec!["- b".to_string(), "+ c".to_string()]);
    }
}
