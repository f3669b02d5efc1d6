#!/usr/bin/env python3
"""Second gateway scenario for tests/e2e_gateway_pcap.rs: the VTEP answers ARP and
ping, resolves an on-link remote VTEP with ARP, keeps VNIs apart, and ages
learned MACs. scapy builds the input and checks the output.

  gateway_control.py build DIR  -> DIR/ul_in.pcap, DIR/acc_in.pcap
  gateway_control.py check DIR  -> JSON {"ok": bool, "errors": [...]}

Gateway: VTEP 198.18.0.1, underlay MAC 02:00:00:00:01:01. Remote 198.18.0.2
is on-link with no static MAC (a static MAC entry points at it, so the
gateway resolves it by ARP); 198.18.0.3 has a static next
hop. Segments: VLAN 10 <-> VNI 100 (flood 198.18.0.3), VLAN 20 <-> VNI 200
(flood 198.18.0.3).
"""
import json
import os
import sys

from scapy.all import ARP, Dot1Q, Ether, ICMP, IP, Raw, UDP, rdpcap, wrpcap
from scapy.contrib.geneve import GENEVE

GW_MAC, PEER_MAC, PEER3_MAC = "02:00:00:00:01:01", "02:00:00:00:00:02", "02:00:00:00:00:03"
GW, PEER, PEER3 = "198.18.0.1", "198.18.0.2", "198.18.0.3"
# An underlay host that pings the VTEP (not a remote VTEP: resolving 198.18.0.2
# must stay the gateway's own doing).
HOST5, HOST5_MAC = "198.18.0.5", "02:00:00:00:00:05"


def inner(src, dst, n, vlan=None):
    e = Ether(src=src, dst=dst)
    if vlan:
        e = e / Dot1Q(vlan=vlan)
    return e / IP(src="198.19.0.1", dst="198.19.0.2") / UDP(sport=1000 + n, dport=5001) / Raw(b"q%03d" % n + b"-" * 20)


def geneve(vni, payload):
    return (Ether(src=PEER3_MAC, dst=GW_MAC) / IP(src=PEER3, dst=GW, flags="DF")
            / UDP(sport=50000, dport=6081, chksum=0) / GENEVE(vni=vni, proto=0x6558) / payload)


def build(d):
    ul = [
        Ether(src=HOST5_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=HOST5_MAC, psrc=HOST5, pdst=GW),
        Ether(src=HOST5_MAC, dst=GW_MAC) / IP(src=HOST5, dst=GW, id=7) / ICMP(type=8, id=0x1234, seq=3) / Raw(b"ping-payload"),
        geneve(100, inner("02:00:00:00:0c:01", "02:00:00:00:0a:01", 1)),
        geneve(200, inner("02:00:00:00:0d:01", "02:00:00:00:0a:02", 2)),
    ]
    acc = [
        inner("02:00:00:00:0a:01", "ff:ff:ff:ff:ff:ff", 3, vlan=10),
        inner("02:00:00:00:0a:02", "ff:ff:ff:ff:ff:ff", 4, vlan=20),
    ]
    wrpcap(os.path.join(d, "ul_in.pcap"), ul)
    wrpcap(os.path.join(d, "acc_in.pcap"), acc)


def check(d):
    errors = []
    ul_out = rdpcap(os.path.join(d, "ul_out.pcap"))
    arp_replies = [p for p in ul_out if ARP in p and p[ARP].op == 2]
    arp_requests = [p for p in ul_out if ARP in p and p[ARP].op == 1]
    echo = [p for p in ul_out if ICMP in p and p[ICMP].type == 0]
    geneve_out = [p for p in ul_out if GENEVE in p]
    if len(arp_replies) != 1:
        errors.append("ARP replies: %d" % len(arp_replies))
    else:
        a = arp_replies[0]
        if (a[ARP].hwsrc, a[ARP].psrc, a[ARP].hwdst, a[ARP].pdst, a[Ether].dst) != (GW_MAC, GW, HOST5_MAC, HOST5, HOST5_MAC):
            errors.append("ARP reply fields: %r" % a)
    if len(echo) != 1:
        errors.append("echo replies: %d" % len(echo))
    else:
        e = echo[0]
        q = e.copy()
        del q[ICMP].chksum
        del q[IP].chksum
        r = Ether(bytes(q))
        if (e[IP].src, e[IP].dst, e[ICMP].id, e[ICMP].seq, bytes(e[Raw].load)) != (GW, HOST5, 0x1234, 3, b"ping-payload"):
            errors.append("echo reply fields: %r" % e)
        if r[ICMP].chksum != e[ICMP].chksum or r[IP].chksum != e[IP].chksum:
            errors.append("echo reply checksums")
    for p in arp_requests:
        if p[ARP].psrc != GW or p[Ether].src != GW_MAC or p[Ether].dst != "ff:ff:ff:ff:ff:ff":
            errors.append("ARP request fields: %r" % p)
    if not any(p[ARP].pdst == PEER for p in arp_requests):
        errors.append("no ARP request for on-link %s (requests: %r)" % (PEER, [p[ARP].pdst for p in arp_requests]))
    # VNI isolation: VLAN 10 -> VNI 100 only, VLAN 20 -> VNI 200 only.
    seen = sorted((p[GENEVE].vni, p[GENEVE].payload[UDP].sport) for p in geneve_out)
    if seen != [(100, 1003), (200, 1004)]:
        errors.append("encapsulated (vni, inner sport): %r" % seen)
    acc_out = rdpcap(os.path.join(d, "acc_out.pcap"))
    got = sorted((p[Dot1Q].vlan, p[UDP].sport) for p in acc_out if Dot1Q in p)
    if got != [(10, 1001), (20, 1002)] or len(acc_out) != 2:
        errors.append("decapsulated (vlan, inner sport): %r of %d" % (got, len(acc_out)))
    print(json.dumps({"ok": not errors, "errors": errors}))


if __name__ == "__main__":
    {"build": build, "check": check}[sys.argv[1]](sys.argv[2])
