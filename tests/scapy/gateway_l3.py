#!/usr/bin/env python3
"""L3 mode and IPv6 underlay scenario for tests/e2e_gateway_pcap.rs; scapy builds
the input and checks the output (independently of geneve-gw's parser).

Gateway: VTEP 198.18.0.1 and 2001:db8:18::1, underlay MAC 02:00:00:00:01:01,
next hops 198.18.0.254 (02:00:00:00:00:fe) and 2001:db8:18::fe
(02:00:00:00:00:fd). Access: gateway 198.19.0.1, MAC 02:00:00:00:19:01, inner
next hop MAC 02:00:00:00:19:99. Routes: 198.19.128.0/17 -> 198.18.10.2 VNI 5001,
198.19.200.0/24 -> 198.18.20.2 VNI 5003, 2001:db8:100::/48 -> 2001:db8:20::2
VNI 5002 (IPv6 underlay).
"""
import json
import os
import sys

from scapy.all import ARP, Ether, IP, IPv6, Raw, UDP, rdpcap, wrpcap
from scapy.contrib.geneve import GENEVE

GW_MAC, NH4, NH6 = "02:00:00:00:01:01", "02:00:00:00:00:fe", "02:00:00:00:00:fd"
ACC_GW_MAC, ACC_NH = "02:00:00:00:19:01", "02:00:00:00:19:99"
HOST_MAC = "02:00:00:00:19:05"


def ip4(dst, n):
    return IP(src="198.19.0.5", dst=dst, ttl=30, tos=0) / UDP(sport=2000 + n, dport=7) / Raw(b"l3-%02d" % n + b"*" * 16)


def ip6(dst, n):
    return IPv6(src="2001:db8:19::5", dst=dst, hlim=30) / UDP(sport=2000 + n, dport=7) / Raw(b"l3-%02d" % n + b"*" * 16)


def acc(p):
    return Ether(src=HOST_MAC, dst=ACC_GW_MAC) / p


def build(d):
    access = [
        acc(ip4("198.19.200.5", 1)),
        acc(ip4("198.19.130.5", 2)),
        acc(ip6("2001:db8:100::5", 3)),
        acc(ip4("198.18.99.9", 4)),                      # no route
        Ether(src=HOST_MAC, dst=ACC_GW_MAC, type=0x88cc) / Raw(b"\0" * 46),  # not IP: inner_not_ip
        Ether(src=HOST_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=HOST_MAC, psrc="198.19.0.5", pdst="198.19.0.1"),
    ]
    under = [
        Ether(src=NH4, dst=GW_MAC) / IP(src="198.18.10.2", dst="198.18.0.1") / UDP(sport=40000, dport=6081, chksum=0)
        / GENEVE(vni=5001, proto=0x0800) / IP(src="198.19.130.5", dst="198.19.0.5", ttl=20) / UDP(sport=7, dport=3001) / Raw(b"back-4"),
        Ether(src=NH6, dst=GW_MAC) / IPv6(src="2001:db8:20::2", dst="2001:db8:18::1") / UDP(sport=40000, dport=6081)
        / GENEVE(vni=5002, proto=0x86DD) / IPv6(src="2001:db8:100::5", dst="2001:db8:19::5", hlim=20) / UDP(sport=7, dport=3002) / Raw(b"back-6"),
        Ether(src=NH6, dst=GW_MAC) / IPv6(src="2001:db8:20::2", dst="2001:db8:18::1") / UDP(sport=40000, dport=6081, chksum=0)
        / GENEVE(vni=5002, proto=0x86DD) / IPv6(src="2001:db8:100::5", dst="2001:db8:19::5") / UDP(sport=7, dport=3003) / Raw(b"zero-csum"),
    ]
    wrpcap(os.path.join(d, "acc_in.pcap"), access)
    wrpcap(os.path.join(d, "ul_in.pcap"), under)


def udp_ok(p):
    q = p.copy()
    del q[UDP].chksum
    return Ether(bytes(q))[UDP].chksum == p[UDP].chksum


def check(d):
    errors = []
    ul = rdpcap(os.path.join(d, "ul_out.pcap"))
    want = [("198.18.20.2", 5003, 0x0800, 1), ("198.18.10.2", 5001, 0x0800, 2), ("2001:db8:20::2", 5002, 0x86DD, 3)]
    if len(ul) != len(want):
        errors.append("underlay out: %d packets, want %d" % (len(ul), len(want)))
    for p, (dst, vni, proto, n) in zip(ul, want):
        outer = p[IPv6] if proto == 0x86DD else p[IP]
        g = p[GENEVE]
        if outer.dst != dst or g.vni != vni or g.proto != proto:
            errors.append("outer %s vni %d proto %#x, want %s %d %#x" % (outer.dst, g.vni, g.proto, dst, vni, proto))
        mac = NH6 if proto == 0x86DD else NH4
        if p[Ether].dst != mac or p[Ether].src != GW_MAC:
            errors.append("outer MACs %s -> %s" % (p[Ether].src, p[Ether].dst))
        if proto == 0x86DD:
            if p[UDP].chksum == 0 or not udp_ok(p):
                errors.append("IPv6 underlay UDP checksum missing or wrong")
            inner = bytes(ip6("2001:db8:100::5", n))
        else:
            inner = bytes(ip4(dst="198.19.200.5" if n == 1 else "198.19.130.5", n=n))
        if bytes(g.payload) != inner:
            errors.append("inner packet %d changed" % n)
    acc_out = rdpcap(os.path.join(d, "acc_out.pcap"))
    arp = [p for p in acc_out if ARP in p]
    data = [p for p in acc_out if ARP not in p]
    if len(arp) != 1 or arp[0][ARP].op != 2 or arp[0][ARP].psrc != "198.19.0.1" or arp[0][ARP].hwsrc != ACC_GW_MAC:
        errors.append("ARP reply for the access gateway: %r" % arp)
    if len(data) != 2:
        errors.append("access out: %d data frames, want 2" % len(data))
    for p, (etype, payload) in zip(data, [(0x0800, b"back-4"), (0x86DD, b"back-6")]):
        if (p[Ether].src, p[Ether].dst, p[Ether].type) != (ACC_GW_MAC, ACC_NH, etype):
            errors.append("rebuilt Ethernet %s -> %s %#x" % (p[Ether].src, p[Ether].dst, p[Ether].type))
        if bytes(p[Raw].load) != payload:
            errors.append("payload %r" % p[Raw].load)
    print(json.dumps({"ok": not errors, "errors": errors}))


if __name__ == "__main__":
    {"build": build, "check": check}[sys.argv[1]](sys.argv[2])
