#!/usr/bin/env python3
"""Inputs and output checks for tests/e2e_gateway_pcap.rs, built and read by scapy
(an implementation independent of geneve-gw's own parser).

  gateway_cases.py build DIR   -> DIR/acc_in.pcap, DIR/ul_in.pcap
  gateway_cases.py check DIR   -> checks DIR/acc_out.pcap, DIR/ul_out.pcap;
                                  prints JSON {"ok": bool, "errors": [...]}

Topology of the test config: gateway VTEP 198.18.0.1 (MAC 02:00:00:00:01:01 on
the underlay), remote VTEPs 198.18.0.2 (MAC 02:00:00:00:00:02, reached through
a static next hop) and 198.18.0.3; L2 segment: access VLAN 10 <-> VNI 100;
the security-tag option is class 0x0104 type 0x02 (4 bytes), value 7 allowed,
9 denied; the tunnel adds option class 0x0102 type 0x01 data 0000002a.
"""
import json
import os
import sys

from scapy.all import ARP, Dot1Q, Ether, ICMP, IP, IPv6, Raw, UDP, rdpcap, wrpcap
from scapy.contrib.geneve import GENEVE, GeneveOptions

GW_MAC = "02:00:00:00:01:01"
PEER_MAC = "02:00:00:00:00:02"
GW, PEER, PEER3 = "198.18.0.1", "198.18.0.2", "198.18.0.3"
HOST_A = "02:00:00:00:0a:01"   # access side host
HOST_B = "02:00:00:00:0b:01"   # static MAC behind 198.18.0.2
HOST_C = "02:00:00:00:0c:01"   # learned MAC behind 198.18.0.3


def inner(src, dst, n, tagged=False):
    e = Ether(src=src, dst=dst)
    if tagged:
        e = e / Dot1Q(vlan=10)
    return e / IP(src="198.19.0.1", dst="198.19.0.2", tos=0) / UDP(sport=1000 + n, dport=5001) / Raw(b"p%03d" % n + b"." * 20)


def tag(v):
    return GeneveOptions(classid=0x0104, type=0x02, length=1, data=v.to_bytes(4, "big"))


def geneve(src, vni, payload, options=None, ver=0, oam=0, critical=0):
    opts = options or []
    g = GENEVE(version=ver, vni=vni, proto=0x6558, oam=oam, critical=critical,
               optionlen=sum(len(bytes(o)) for o in opts) // 4, options=opts)
    return (Ether(src=PEER_MAC, dst=GW_MAC) / IP(src=src, dst=GW, ttl=64, flags="DF")
            / UDP(sport=50000, dport=6081, chksum=0) / g / payload)


def corrupt_udp_checksum(p):
    raw = bytes(p)
    return Ether(raw[:40] + b"\x12\x34" + raw[42:])  # 14 + 20 + 6: UDP checksum


# Underlay input: (name, packet, expected) in order. expected = "deliver" or a drop counter.
def underlay_cases():
    ok_tag = [tag(7)]
    return [
        ("deliver", geneve(PEER, 100, inner(HOST_B, HOST_A, 1), ok_tag), "deliver"),
        ("learn-c", geneve(PEER3, 100, inner(HOST_C, HOST_A, 2), ok_tag), "deliver"),
        ("unknown-vni", geneve(PEER, 555, inner(HOST_B, HOST_A, 3), ok_tag), "unknown_vni"),
        ("not-allowed", geneve("198.18.0.9", 100, inner(HOST_B, HOST_A, 4), ok_tag), "source_vtep_not_allowed"),
        ("bad-version", geneve(PEER, 100, inner(HOST_B, HOST_A, 5), ok_tag, ver=1), "geneve_bad_version"),
        ("critical-unknown", geneve(PEER, 100, inner(HOST_B, HOST_A, 6),
                                    ok_tag + [GeneveOptions(classid=0xffff, type=0x80, length=1, data=b"\0\0\0\1")],
                                    critical=1), "unknown_critical_option"),
        ("tag-missing", geneve(PEER, 100, inner(HOST_B, HOST_A, 7)), "required_option_missing"),
        ("tag-denied", geneve(PEER, 100, inner(HOST_B, HOST_A, 8), [tag(9)]), "security_tag_denied"),
        ("oam", geneve(PEER, 100, inner(HOST_B, HOST_A, 9), ok_tag, oam=1), "control"),
        ("wrong-port", Ether(src=PEER_MAC, dst=GW_MAC) / IP(src=PEER, dst=GW) / UDP(sport=1, dport=4789) / Raw(b"x" * 20), "wrong_udp_port"),
        ("not-local", Ether(src=PEER_MAC, dst=GW_MAC) / IP(src=PEER, dst="198.18.0.77") / UDP(sport=1, dport=6081) / Raw(b"x" * 20), "not_local_address"),
        ("bad-udp-csum", corrupt_udp_checksum(geneve(PEER, 100, inner(HOST_B, HOST_A, 10), ok_tag)), "udp_bad_checksum"),
        ("lldp", Ether(src=PEER_MAC, dst="01:80:c2:00:00:0e", type=0x88cc) / Raw(b"\0" * 46), "not_ip"),
        ("opt-len-past-end", Ether(src=PEER_MAC, dst=GW_MAC) / IP(src=PEER, dst=GW) / UDP(sport=1, dport=6081, chksum=0)
         / GENEVE(vni=100, proto=0x6558, optionlen=10) / Raw(b"\0" * 8), "geneve_opt_len_past_frame"),
    ]


# Access input: VLAN 10 frames.
def access_cases():
    return [
        ("to-static-b", inner(HOST_A, HOST_B, 20, tagged=True), "encap:" + PEER),
        ("broadcast", Ether(src=HOST_A, dst="ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=10) / ARP(psrc="198.19.0.1", pdst="198.19.0.2"), "flood"),
        ("wrong-vlan", inner(HOST_A, HOST_B, 21, tagged=False), "no_segment"),
    ]


def build(d):
    wrpcap(os.path.join(d, "ul_in.pcap"), [p for _, p, _ in underlay_cases()])
    wrpcap(os.path.join(d, "acc_in.pcap"), [p for _, p, _ in access_cases()])
    expected = {}
    for _, _, e in underlay_cases():
        expected[e] = expected.get(e, 0) + 1
    print(json.dumps(expected))


def check(d):
    errors = []
    acc_out = rdpcap(os.path.join(d, "acc_out.pcap"))
    # Two delivered frames, in order, re-tagged with VLAN 10, inner bytes intact.
    want = [inner(HOST_B, HOST_A, 1, tagged=True), inner(HOST_C, HOST_A, 2, tagged=True)]
    if len(acc_out) != len(want):
        errors.append("access out: %d frames, want %d" % (len(acc_out), len(want)))
    for i, (g, w) in enumerate(zip(acc_out, want)):
        if bytes(g) != bytes(w):
            errors.append("access out frame %d differs: %r vs %r" % (i, g, w))
    ul_out = rdpcap(os.path.join(d, "ul_out.pcap"))
    # to-static-b -> 198.18.0.2; broadcast -> 198.18.0.2 and 198.18.0.3.
    dsts = [p[IP].dst for p in ul_out]
    if dsts != [PEER, PEER, PEER3]:
        errors.append("underlay out destinations %r" % dsts)
    for i, p in enumerate(ul_out):
        g = p[GENEVE]
        if g.vni != 100 or g.version != 0 or g.proto != 0x6558:
            errors.append("pkt %d: geneve %r" % (i, g))
        if p[Ether].src != GW_MAC or p[IP].src != GW or p[UDP].dport != 6081:
            errors.append("pkt %d: outer addressing %s %s %d" % (i, p[Ether].src, p[IP].src, p[UDP].dport))
        if not (49152 <= p[UDP].sport <= 65535):
            errors.append("pkt %d: source port %d outside the range" % (i, p[UDP].sport))
        q = p.copy()
        del q[IP].chksum
        if IP(bytes(q[IP])).chksum != p[IP].chksum:
            errors.append("pkt %d: bad outer IPv4 checksum" % i)
        opts = [(o.classid, o.type, bytes(o.data)) for o in g.options]
        if opts != [(0x0102, 0x01, b"\x00\x00\x00\x2a")]:
            errors.append("pkt %d: options %r" % (i, opts))
        inn = g.payload
        if Dot1Q in inn:
            errors.append("pkt %d: inner frame still tagged" % i)
    print(json.dumps({"ok": not errors, "errors": errors}))


if __name__ == "__main__":
    {"build": build, "check": check}[sys.argv[1]](sys.argv[2])
