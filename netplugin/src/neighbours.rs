//! A network namespace's IPv4 neighbour (ARP) table, as its `/proc/net/arp` has it: what
//! `podlab why` checks for next hops without an answer and what the web view lists.

use crate::ns::{Netns, run_in};
use std::io;

/// One neighbour entry, in the words of `ip -j neigh` (`dst`, `lladdr`, `dev`, `state`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Neighbour {
    /// The neighbour's IPv4 address.
    pub dst: String,
    /// Its MAC address, once known.
    pub lladdr: Option<String>,
    /// The interface.
    pub dev: String,
    /// `PERMANENT` (written by podlab), `REACHABLE` (answered), or `INCOMPLETE` (asked, no
    /// answer yet, or FAILED: `/proc/net/arp` does not tell the two apart).
    pub state: Vec<String>,
}

impl Neighbour {
    /// Whether its ARP request got no answer.
    pub fn unanswered(&self) -> bool {
        self.lladdr.is_none()
    }
}

/// The neighbour table of `netns`.
pub fn of(netns: &Netns) -> io::Result<Vec<Neighbour>> {
    // `thread-self`: the reading thread is the one inside the namespace.
    let text = run_in(netns, || std::fs::read_to_string("/proc/thread-self/net/arp"))??;
    Ok(parse(&text))
}

/// Parses `/proc/net/arp` (flags: 0x2 complete, 0x4 permanent).
pub fn parse(arp: &str) -> Vec<Neighbour> {
    arp.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (ip, flags, mac, dev) = (f.first()?, f.get(2)?, f.get(3)?, f.get(5)?);
            let flags = u32::from_str_radix(flags.trim_start_matches("0x"), 16).ok()?;
            let state = if flags & 0x4 != 0 {
                "PERMANENT"
            } else if flags & 0x2 != 0 {
                "REACHABLE"
            } else {
                "INCOMPLETE"
            };
            Some(Neighbour {
                dst: ip.to_string(),
                lladdr: (flags & 0x2 != 0).then(|| mac.to_string()),
                dev: dev.to_string(),
                state: vec![state.into()],
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_arp_reads_as_ip_neigh_says_it() {
        let arp = "IP address       HW type     Flags       HW address            Mask     Device\n\
                   172.18.0.3       0x1         0x0         00:00:00:00:00:00     *        eth0\n\
                   10.244.1.2       0x1         0x6         aa:bb:cc:dd:ee:ff     *        cni0\n";
        let n = parse(arp);
        assert!(n[0].unanswered() && n[0].dev == "eth0" && n[0].dst == "172.18.0.3");
        assert_eq!(n[1].lladdr.as_deref(), Some("aa:bb:cc:dd:ee:ff"));
        assert_eq!(n[1].state, vec!["PERMANENT".to_string()]);
    }
}
