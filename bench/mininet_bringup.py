#!/usr/bin/python3
"""Mininet peer for `podlab bench peers`: build N hosts on K Linux-bridge switches.

Topology (the same shape as a podlab cluster of N pods on K nodes): K edge switches
(LinuxBridge, no controller, like `mn --switch lxbr --controller none`), N hosts spread
round-robin over them, and for K > 1 one core switch joining the edges (the "fabric").
Prints one line `MININET_RESULT {json}` with the build, start and stop times, the
Python process's RSS before and after, and, with every host up, the PSS of every process in
the private pid namespace (Python, each host's shell: the whole process tree).

Run it only in private namespaces, as podlab does:
    unshare --net --mount --pid --fork --mount-proc --kill-child \
        /usr/bin/python3 bench/mininet_bringup.py --hosts 50 --switches 1
Mininet's switches, links and host shells then live in that private network namespace,
and every process dies with the namespace's init. Mininet's `fixLimits()` would raise
*global* sysctls (kernel.pty.max, net.core.*mem_max ...): it is replaced below by one that
only raises this process's rlimits, so the machine's settings stay as they were.
"""

import argparse
import json
import os
import resource
import sys
import time

try:
    import mininet.net
    import mininet.util
    from mininet.log import setLogLevel
    from mininet.net import Mininet
    from mininet.node import Host
    from mininet.nodelib import LinuxBridge
    from mininet.topo import Topo
except ImportError as e:  # reported by podlab as "not installed"
    print("MININET_MISSING %s" % e)
    sys.exit(3)


def rlimits_only():
    """Mininet.init() calls fixLimits(); keep its process-local part only."""
    for which, want in ((resource.RLIMIT_NPROC, 65536), (resource.RLIMIT_NOFILE, 65536)):
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            want = min(want, hard)
        if soft != resource.RLIM_INFINITY and soft < want:
            resource.setrlimit(which, (want, hard))


mininet.net.fixLimits = rlimits_only


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def tree_pss_kib():
    """(sum of Pss, processes) over every process in this private pid namespace: under
    `unshare --pid --mount-proc` /proc lists only Mininet's processes (Python, host shells)."""
    total, procs = 0, 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/smaps_rollup" % d) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        procs += 1
                        break
        except OSError:
            pass
    return total, procs


class PodlabShape(Topo):
    """K edge switches s1..sK with hosts h1..hN round-robin; core switch s(K+1) if K > 1."""

    def build(self, hosts=2, switches=1):
        edges = [self.addSwitch("s%d" % (i + 1)) for i in range(switches)]
        if switches > 1:
            core = self.addSwitch("s%d" % (switches + 1))
            for e in edges:
                self.addLink(e, core)
        for k in range(hosts):
            h = self.addHost("h%d" % (k + 1))
            self.addLink(h, edges[k % switches])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--hosts", type=int, required=True)
    p.add_argument("--switches", type=int, default=1)
    a = p.parse_args()
    if not (1 <= a.hosts <= 5000 and 1 <= a.switches <= 200):
        print("MININET_ERROR bad sizes", flush=True)
        return 2
    setLogLevel("warning")
    rss0 = rss_kib()
    topo = PodlabShape(hosts=a.hosts, switches=a.switches)
    t0 = time.monotonic()
    net = Mininet(topo=topo, switch=LinuxBridge, host=Host, controller=None,
                  build=False, autoSetMacs=True, waitConnected=False)
    net.build()
    t1 = time.monotonic()
    net.start()
    t2 = time.monotonic()
    rss1 = rss_kib()
    pss_total, procs = tree_pss_kib()
    # One TCP connection from the first host to the last proves the hosts are wired (not
    # timed; the host shells have no `ping` on every machine, bash's /dev/tcp always works).
    first, last = net.hosts[0], net.hosts[-1]
    last.cmd("timeout 10 /usr/bin/python3 -c 'import socket; s = socket.socket(); "
             "s.bind((\"0.0.0.0\", 5001)); s.listen(); s.accept()' &")
    out = ""
    for _ in range(20):
        out = first.cmd("timeout 2 bash -c 'echo > /dev/tcp/%s/5001' && echo TCP_OK" % last.IP())
        if "TCP_OK" in out:
            break
        time.sleep(0.1)
    ping_ok = "TCP_OK" in out
    if not ping_ok:
        print("MININET_CONNECT " + " | ".join(out.splitlines()[-3:]), file=sys.stderr)
    t3 = time.monotonic()
    net.stop()
    t4 = time.monotonic()
    print("MININET_RESULT " + json.dumps({
        "hosts": a.hosts,
        "switches": len(net.switches),
        "build_s": t1 - t0,
        "start_s": t2 - t1,
        "bringup_s": t2 - t0,
        "stop_s": t4 - t3,
        "rss_kib_before": rss0,
        "rss_kib_after": rss1,
        "pss_kib_total": pss_total,
        "processes": procs,
        "connect_ok": ping_ok,
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
