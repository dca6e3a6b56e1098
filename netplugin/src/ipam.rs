//! Per-node IPAM: hands out host addresses of a node's pod subnet in order from `.2`,
//! continuing after the last one handed out and wrapping around (like CNI `host-local`),
//! never the network, gateway or broadcast address.

use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;

use crate::NetError;

/// Address allocator for one node subnet (a bitmap of host offsets).
#[derive(Clone, Debug)]
pub struct Ipam {
    subnet: Ipv4Network,
    used: Vec<u64>,
    /// No offset below this one is free.
    hint: u32,
    in_use: u32,
}

impl Ipam {
    /// An empty allocator for `subnet` (prefix at most /30).
    pub fn new(subnet: Ipv4Network) -> Self {
        let size = Self::size_of(subnet);
        Ipam {
            subnet,
            used: vec![0; size.div_ceil(64) as usize],
            hint: 2,
            in_use: 0,
        }
    }

    fn size_of(subnet: Ipv4Network) -> u32 {
        // prefix <= 30 is validated by ClusterNetwork; be safe for any input.
        1u32 << (32 - u32::from(subnet.prefix().clamp(1, 32)))
    }

    fn last_host(&self) -> u32 {
        Self::size_of(self.subnet).saturating_sub(2)
    }

    fn is_used(&self, off: u32) -> bool {
        self.used[(off / 64) as usize] & (1 << (off % 64)) != 0
    }

    fn set(&mut self, off: u32, v: bool) {
        let word = &mut self.used[(off / 64) as usize];
        if v {
            *word |= 1 << (off % 64);
        } else {
            *word &= !(1 << (off % 64));
        }
    }

    /// The subnet this allocator serves.
    pub fn subnet(&self) -> Ipv4Network {
        self.subnet
    }

    /// Number of addresses currently handed out.
    pub fn in_use(&self) -> u32 {
        self.in_use
    }

    /// Number of addresses that can be handed out in total.
    pub fn capacity(&self) -> u32 {
        self.last_host().saturating_sub(1)
    }

    /// Takes the next free address after the last one handed out, wrapping around to .2, as
    /// the reference CNI `host-local` IPAM does: a replaced pod gets a new IP, not the freed one
    /// (the book's point: pods are mortal and their IPs change). Fails with
    /// `no free address in <subnet>` when the range is full.
    pub fn allocate(&mut self) -> Result<Ipv4Addr, NetError> {
        let last = self.last_host();
        let start = if self.hint < 2 || self.hint > last {
            2
        } else {
            self.hint
        };
        for (from, to) in [(start, last), (2, start.saturating_sub(1))] {
            let mut off = from;
            while off <= to {
                let word = self.used[(off / 64) as usize];
                if word == u64::MAX && off.is_multiple_of(64) {
                    off += 64;
                    continue;
                }
                if !self.is_used(off) {
                    self.set(off, true);
                    self.in_use += 1;
                    self.hint = off + 1;
                    return Ok(Ipv4Addr::from(u32::from(self.subnet.network()) + off));
                }
                off += 1;
            }
        }
        Err(NetError::AddressExhausted { subnet: self.subnet })
    }

    /// Marks a specific address as used (returns false if it is not a host address or taken).
    pub fn reserve(&mut self, ip: Ipv4Addr) -> bool {
        match self.offset(ip) {
            Some(off) if !self.is_used(off) => {
                self.set(off, true);
                self.in_use += 1;
                true
            }
            _ => false,
        }
    }

    /// Returns an address to the pool (no-op if it was not handed out).
    pub fn release(&mut self, ip: Ipv4Addr) {
        if let Some(off) = self.offset(ip)
            && self.is_used(off)
        {
            self.set(off, false);
            self.in_use -= 1;
        }
    }

    fn offset(&self, ip: Ipv4Addr) -> Option<u32> {
        if !self.subnet.contains(ip) {
            return None;
        }
        let off = u32::from(ip) - u32::from(self.subnet.network());
        (2..=self.last_host()).contains(&off).then_some(off)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Network {
        s.parse().unwrap()
    }

    #[test]
    fn hands_out_addresses_in_order_and_does_not_reuse_a_freed_one_at_once() {
        let mut ipam = Ipam::new(net("10.244.1.0/24"));
        assert_eq!(ipam.allocate().unwrap(), Ipv4Addr::new(10, 244, 1, 2));
        assert_eq!(ipam.allocate().unwrap(), Ipv4Addr::new(10, 244, 1, 3));
        ipam.release(Ipv4Addr::new(10, 244, 1, 2));
        // A replacement pod gets a new address, as with host-local.
        assert_eq!(ipam.allocate().unwrap(), Ipv4Addr::new(10, 244, 1, 4));
    }

    #[test]
    fn wraps_around_to_freed_addresses_when_the_end_is_reached() {
        let mut ipam = Ipam::new(net("10.244.1.0/29"));
        let all: Vec<_> = (0..5).map(|_| ipam.allocate().unwrap()).collect();
        assert_eq!(all.last(), Some(&Ipv4Addr::new(10, 244, 1, 6)));
        ipam.release(Ipv4Addr::new(10, 244, 1, 3));
        assert_eq!(ipam.allocate().unwrap(), Ipv4Addr::new(10, 244, 1, 3));
    }

    #[test]
    fn exhaustion_names_the_subnet_and_skips_broadcast() {
        let mut ipam = Ipam::new(net("10.244.1.0/24"));
        assert_eq!(ipam.capacity(), 253);
        let mut last = None;
        for _ in 0..253 {
            last = Some(ipam.allocate().unwrap());
        }
        assert_eq!(last, Some(Ipv4Addr::new(10, 244, 1, 254)));
        let err = ipam.allocate().unwrap_err();
        assert_eq!(err.to_string(), "no free address in 10.244.1.0/24");
        ipam.release(Ipv4Addr::new(10, 244, 1, 77));
        assert_eq!(ipam.allocate().unwrap(), Ipv4Addr::new(10, 244, 1, 77));
    }

    #[test]
    fn tiny_subnet() {
        let mut ipam = Ipam::new(net("10.0.0.4/30"));
        assert_eq!(ipam.allocate().unwrap(), Ipv4Addr::new(10, 0, 0, 6));
        assert!(ipam.allocate().is_err());
    }

    #[test]
    fn big_subnet_is_fast_and_unique() {
        let mut ipam = Ipam::new(net("10.0.0.0/16"));
        let mut seen = std::collections::HashSet::new();
        for _ in 0..65533 {
            assert!(seen.insert(ipam.allocate().unwrap()));
        }
        assert!(ipam.allocate().is_err());
    }
}
