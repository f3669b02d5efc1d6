#!/usr/bin/env python3
"""One packet per drop reason, built by scapy, for tests/e2e_gateway_pcap.rs.

  gateway_drops.py build DIR -> DIR/ul_in.pcap, DIR/acc_in.pcap; prints JSON
                                {reason: count} of what each counter must read.

Gateway: VTEP 198.18.0.1 (MAC 02:00:00:00:01:01); remote 198.18.0.2 via a
static next hop; registry option class 0x0105 type 0x01 length 4; at most 2
options; segments VLAN 10 <-> VNI 100 (flood 198.18.0.2, static MAC
02:00:00:00:0b:01 -> 198.18.0.2, static MAC 02:00:00:00:0e:01 -> on-link
198.18.0.9 never resolved) and VLAN 30 <-> VNI 300 (empty flood list).
"""
import json
import os
import sys

from scapy.all import Dot1Q, Ether, IP, IPv6, IPv6ExtHdrHopByHop, Raw, TCP, UDP, wrpcap
from scapy.contrib.geneve import GENEVE, GeneveOptions

GW_MAC, PEER_MAC = "02:00:00:00:01:01", "02:00:00:00:00:02"
GW, PEER = "198.18.0.1", "198.18.0.2"


def inner(n, tos=0, size=0):
    return (Ether(src="02:00:00:00:0c:01", dst="02:00:00:00:0a:01") / IP(src="198.19.0.1", dst="198.19.0.2", tos=tos)
            / UDP(sport=3000 + n, dport=9) / Raw(b"d" * max(18, size)))


def opt(cls=0x0105, typ=0x01, data=b"\0\0\0\1"):
    return GeneveOptions(classid=cls, type=typ, length=len(data) // 4, data=data)


def gen(payload, options=(), proto=0x6558, tos=0, **ip):
    opts = list(options)
    return (Ether(src=PEER_MAC, dst=GW_MAC) / IP(src=PEER, dst=GW, tos=tos, **ip) / UDP(sport=50000, dport=6081, chksum=0)
            / GENEVE(vni=100, proto=proto, optionlen=sum(len(bytes(o)) for o in opts) // 4, options=opts) / payload)


def patch(p, off, data):
    b = bytearray(bytes(p))
    b[off:off + len(data)] = data
    return Ether(bytes(b))


def underlay():
    ok = gen(inner(0))
    ipv6_hdr = Ether(src=PEER_MAC, dst=GW_MAC) / IPv6(src="2001:db8::2", dst="2001:db8::1") / UDP(sport=1, dport=6081) / Raw(b"x" * 16)
    return [
        ("eth_truncated", Raw(b"\x02" * 10)),
        ("ipv4_bad_header", patch(ok, 14, b"\x44")),                     # IHL 4
        ("ipv4_bad_length", patch(ok, 16, b"\x05\xdc")),                 # total length 1500 > frame
        ("ipv4_bad_checksum", patch(ok, 24, b"\xde\xad")),
        ("ipv6_bad_header", patch(ipv6_hdr, 14, b"\x40")),               # version 4 in an IPv6 frame
        ("ipv6_bad_length", patch(ipv6_hdr, 18, b"\x05\xdc")),           # payload length past the frame
        ("ipv6_bad_ext_header", Ether(bytes(Ether(src=PEER_MAC, dst=GW_MAC) / IPv6(src="2001:db8::2", dst="2001:db8::1", nh=0)
                                             / Raw(b"\x11\x20" + b"\0" * 14)))),  # hop-by-hop claims 264 bytes
        ("ip_fragment", gen(inner(1), flags="MF")),
        ("not_udp", Ether(src=PEER_MAC, dst=GW_MAC) / IP(src=PEER, dst=GW) / TCP(sport=1, dport=6081)),
        ("udp_bad_length", patch(ok, 38, b"\x00\x04")),                  # UDP length 4 < header
        ("geneve_truncated", Ether(src=PEER_MAC, dst=GW_MAC) / IP(src=PEER, dst=GW) / UDP(sport=1, dport=6081, chksum=0) / Raw(b"\0\0\x65\x58")),
        ("option_overrun", patch(gen(inner(2), [opt(0x0106, 1, b"\0" * 8)]), 53, b"\x1f")),  # TLV Length 31 > Opt Len
        ("too_many_options", gen(inner(3), [opt(0x0106, 1), opt(0x0106, 2), opt(0x0106, 3)])),
        ("known_option_bad_length", gen(inner(4), [opt(data=b"\0" * 8)])),
        ("unsupported_protocol", gen(Raw(b"\0" * 28), proto=0x0806)),
        ("inner_malformed", gen(Raw(b"\x02" * 6))),
        ("ecn_ce_over_not_ect", gen(inner(5, tos=0), tos=3)),
        ("underlay_vlan", Ether(src=PEER_MAC, dst=GW_MAC) / Dot1Q(vlan=7) / gen(inner(6))[IP]),  # no vtep.vlan set
    ]


def access():
    def tagged(dst, vlan, n, size=0):
        return (Ether(src="02:00:00:00:0a:01", dst=dst) / Dot1Q(vlan=vlan) / IP(src="198.19.0.1", dst="198.19.0.2")
                / UDP(sport=4000 + n, dport=9) / Raw(b"a" * max(18, size)))
    return [
        ("access_truncated", Raw(b"\x02" * 10)),
        ("encap_too_big", tagged("02:00:00:00:0b:01", 10, 1, size=1480)),
        ("no_flood_target", tagged("ff:ff:ff:ff:ff:ff", 30, 2)),
        ("next_hop_unresolved", tagged("02:00:00:00:0e:01", 10, 3)),
        ("no_segment", tagged("02:00:00:00:0b:01", 99, 4)),
    ]


def build(d):
    u, a = underlay(), access()
    wrpcap(os.path.join(d, "ul_in.pcap"), [p for _, p in u], linktype=1)
    wrpcap(os.path.join(d, "acc_in.pcap"), [p for _, p in a], linktype=1)
    counts = {}
    for r, _ in u + a:
        counts[r] = counts.get(r, 0) + 1
    print(json.dumps(counts))


if __name__ == "__main__":
    {"build": build}[sys.argv[1]](sys.argv[2])
