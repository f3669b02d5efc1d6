#!/usr/bin/env python3
"""Tenant isolation scenario for tests/e2e_gateway_pcap.rs: inner VLAN tags
never cross tenants, the payload type must match the VNI, and control (O-bit)
packets follow the data rules, so ARP for the VTEP is answered under an O-bit
flood from an unlisted VTEP. scapy builds the input and checks the output.

  gateway_isolation.py build DIR  -> DIR/ul_in.pcap, DIR/acc_in.pcap
  gateway_isolation.py check DIR  -> JSON {"ok": bool, "errors": [...]}

Gateway: VTEP 198.18.0.1, underlay MAC 02:00:00:00:01:01. Segment A: access
untagged <-> VNI 100, only from 198.18.0.2. Segment B: access VLAN 20 <->
VNI 200 (198.18.0.3). Expected (from the configuration): one untagged
frame out for A and one frame tagged 20 (and nothing else) for B; no
inner tag, no IP payload on an Ethernet VNI, no 802.1ad or stacked access
frame ever leaves; a broadcast source MAC is delivered but not learned;
every ARP request for the VTEP is answered.
"""
import json
import os
import sys

from scapy.all import ARP, Dot1AD, Dot1Q, Ether, IP, Raw, UDP, rdpcap, wrpcap
from scapy.contrib.geneve import GENEVE

GW_MAC, PEER_MAC = "02:00:00:00:01:01", "02:00:00:00:00:02"
GW, PEER, PEER3, STRANGER = "198.18.0.1", "198.18.0.2", "198.18.0.3", "198.18.0.9"
FLOOD, ARPS = 20000, 200


def ip(n):
    return IP(src="198.19.0.1", dst="198.19.0.2") / UDP(sport=1000 + n, dport=5001) / Raw(b"iso%03d" % n)


def inner(n, *tags):
    e = Ether(src="02:00:00:00:0c:01", dst="02:00:00:00:0a:01")
    for t in tags:
        e = e / t
    return e / ip(n)


def geneve(src, vni, payload, proto=0x6558, oam=0):
    return (Ether(src=PEER_MAC, dst=GW_MAC) / IP(src=src, dst=GW, flags="DF")
            / UDP(sport=50000, dport=6081, chksum=0) / GENEVE(vni=vni, proto=proto, oam=oam) / payload)


def arp(n):
    mac = "02:00:00:01:%02x:%02x" % (n >> 8, n & 0xff)
    return Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=mac, psrc="198.18.1.%d" % (n % 250 + 1), pdst=GW)


def build(d):
    ul = [
        geneve(PEER, 100, inner(1)),                                  # A: delivered untagged
        geneve(PEER3, 200, inner(2)),                                 # B: delivered tagged 20
        geneve(PEER, 100, inner(3, Dot1Q(vlan=20))),                  # A smuggling B's VLAN
        geneve(PEER, 100, inner(4, Dot1AD(vlan=20), Dot1Q(vlan=20))), # 802.1ad in A
        geneve(PEER3, 200, inner(5, Dot1Q(vlan=30))),                 # double tag in B
        geneve(PEER, 100, ip(6), proto=0x0800),                       # IP on an Ethernet VNI
        geneve(PEER, 100, Ether(src="ff:ff:ff:ff:ff:ff", dst="02:00:00:00:0a:01") / ip(11)),  # delivered, not learned
    ]
    flood = geneve(STRANGER, 100, inner(7), oam=1)
    for i in range(FLOOD):
        ul.append(flood)
        if i % (FLOOD // ARPS) == 0:
            ul.append(arp(i // (FLOOD // ARPS)))
    acc = [
        inner(8, Dot1AD(vlan=20)),                   # S-tag: not segment A, not B
        inner(9, Dot1Q(vlan=20), Dot1Q(vlan=20)),    # B's tag twice
        inner(10),                                   # A: encapsulated in VNI 100
    ]
    wrpcap(os.path.join(d, "ul_in.pcap"), ul)
    wrpcap(os.path.join(d, "acc_in.pcap"), acc)


def sport(p):
    return p[UDP].sport if UDP in p else -1


def check(d):
    errors = []
    acc_out = rdpcap(os.path.join(d, "acc_out.pcap"))
    got = sorted((p[Dot1Q].vlan if Dot1Q in p else 0, sport(p)) for p in acc_out)
    if got != [(0, 1001), (0, 1011), (20, 1002)]:
        errors.append("access out (vlan, inner sport): %r" % got)
    for p in acc_out:
        if Dot1AD in p or (Dot1Q in p and Dot1Q in p[Dot1Q].payload):
            errors.append("more than the segment's tag: %r" % p)
    ul_out = rdpcap(os.path.join(d, "ul_out.pcap"))
    replies = [p for p in ul_out if ARP in p and p[ARP].op == 2]
    if len(replies) != ARPS or any(p[ARP].psrc != GW or p[ARP].hwsrc != GW_MAC for p in replies):
        errors.append("ARP replies: %d of %d" % (len(replies), ARPS))
    gen = [p for p in ul_out if GENEVE in p]
    vnis = sorted((p[GENEVE].vni, sport(p[GENEVE].payload)) for p in gen)
    if vnis != [(100, 1010)]:
        errors.append("encapsulated (vni, inner sport): %r" % vnis)
    print(json.dumps({"ok": not errors, "errors": errors}))


if __name__ == "__main__":
    {"build": build, "check": check}[sys.argv[1]](sys.argv[2])
