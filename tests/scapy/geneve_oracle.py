#!/usr/bin/env python3
"""scapy as an independent oracle for geneve-gw's wire format.

  geneve_oracle.py decode FILE.pcap   -> one JSON object per packet on stdout
  geneve_oracle.py build FILE.pcap    -> writes scapy-built packets; prints a
                                         JSON list of case names, in order

Used by tests/oracle_geneve.rs; addresses come from 198.18.0.0/15 and
2001:db8::/32 (the same ones tests/common/mod.rs uses).
"""
import functools
import json
import sys

from scapy.all import ARP, ICMP, IP, UDP, Dot1Q, Ether, IPv6, Raw, rdpcap, wrpcap  # noqa: E402
from scapy.contrib.geneve import GENEVE, GeneveOptions  # noqa: E402

V4_LOCAL, V4_REMOTE = "198.18.0.1", "198.18.0.2"
V6_LOCAL, V6_REMOTE = "2001:db8::1", "2001:db8::2"
MAC_A, MAC_B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"


def ip_checksum_ok(ip):
    c = ip.chksum
    q = ip.copy()
    del q.chksum
    return IP(bytes(q)).chksum == c


def udp_checksum_state(p):
    u = p[UDP]
    if u.chksum == 0:
        return "zero"
    q = p.copy()
    del q[UDP].chksum
    r = Ether(bytes(q))
    return "ok" if r[UDP].chksum == u.chksum else "bad"


def decode(path):
    for p in rdpcap(path):
        d = {}
        ip = p
        while not isinstance(ip, (IP, IPv6)):
            ip = ip.payload
        if isinstance(ip, IP):
            d["l3"] = "ipv4"
            d.update(src=ip.src, dst=ip.dst, ttl=ip.ttl, tos=ip.tos, ip_len=ip.len,
                     df=bool(ip.flags.DF), ip_checksum_ok=ip_checksum_ok(ip))
        else:
            d["l3"] = "ipv6"
            d.update(src=ip.src, dst=ip.dst, ttl=ip.hlim, tos=ip.tc, ip_len=ip.plen, fl=ip.fl)
        d["vlan"] = p["Dot1Q"].vlan if p.haslayer("Dot1Q") else None
        u = p[UDP]
        d.update(sport=u.sport, dport=u.dport, udp_len=u.len, udp_checksum=udp_checksum_state(p))
        g = p[GENEVE]
        d.update(version=g.version, optionlen=g.optionlen, oam=g.oam, critical=g.critical,
                 proto=g.proto, vni=g.vni,
                 options=[[o.classid, o.type, o.length, bytes(o.data).hex()] for o in g.options],
                 payload=bytes(g.payload).hex())
        print(json.dumps(d))


def inner_eth(tos=0):
    return (Ether(src="02:11:00:00:00:01", dst="02:11:00:00:00:02")
            / IP(src="10.0.0.1", dst="10.0.0.2", tos=tos, ttl=33) / UDP(sport=1111, dport=2222)
            / Raw(b"x" * 30))


def outer4(g, csum=None, port=6081, ip_kw=None, udp_kw=None):
    ip_kw = ip_kw or {}
    udp_kw = udp_kw or {}
    u = UDP(sport=40000, dport=port, **udp_kw)
    if csum is not None:
        u.chksum = csum
    return Ether(src=MAC_B, dst=MAC_A) / IP(src=V4_REMOTE, dst=V4_LOCAL, flags="DF", **ip_kw) / u / g


def outer6(g, csum=None):
    u = UDP(sport=40000, dport=6081)
    if csum is not None:
        u.chksum = csum
    return Ether(src=MAC_B, dst=MAC_A) / IPv6(src=V6_REMOTE, dst=V6_LOCAL) / u / g


def opt(cls, typ, nwords):
    return GeneveOptions(classid=cls, type=typ, data=bytes(range(nwords * 4)))


def build(path):
    cases = []

    def add(name, pkt):
        cases.append((name, pkt))

    teb = 0x6558
    add("v4_plain", outer4(GENEVE(vni=100, proto=teb) / inner_eth(), csum=0))
    add("v4_udp_checksum", outer4(GENEVE(vni=100, proto=teb) / inner_eth()))
    add("v4_opt_len0", outer4(GENEVE(vni=1, proto=teb, options=[opt(0x0101, 1, 0)]) / inner_eth()))
    add("v4_opt_len1", outer4(GENEVE(vni=1, proto=teb, options=[opt(0x0101, 1, 1)]) / inner_eth()))
    add("v4_opt_len31", outer4(GENEVE(vni=1, proto=teb, options=[opt(0x0101, 1, 31)]) / inner_eth()))
    add("v4_opts_mixed", outer4(GENEVE(vni=1, proto=teb,
                                       options=[opt(0xffff, 0x7f, 2), opt(0, 0, 0), opt(0x0103, 5, 4)]) / inner_eth()))
    add("v4_opt_len63", outer4(GENEVE(vni=1, proto=teb, options=[opt(0x0101, 1, 31), opt(0x0101, 2, 30)])
                               / inner_eth()))
    add("v4_known_critical", outer4(GENEVE(vni=2, proto=teb, critical=1, options=[opt(0x0102, 0x81, 1)])
                                    / inner_eth()))
    add("v4_known_critical_bad_len", outer4(GENEVE(vni=2, proto=teb, critical=1,
                                                   options=[opt(0x0102, 0x81, 2)]) / inner_eth()))
    add("v4_unknown_critical", outer4(GENEVE(vni=2, proto=teb, critical=1, options=[opt(0x0109, 0x80, 1)])
                                      / inner_eth()))
    add("v4_unknown_critical_c_clear", outer4(GENEVE(vni=2, proto=teb, critical=0,
                                                     options=[opt(0x0109, 0xff, 0)]) / inner_eth()))
    add("v4_too_many_options", outer4(GENEVE(vni=2, proto=teb, options=[opt(7, i, 0) for i in range(9)])
                                      / inner_eth()))
    add("v4_oam", outer4(GENEVE(vni=3, proto=teb, oam=1) / inner_eth()))
    add("v4_l3_ipv4", outer4(GENEVE(vni=4, proto=0x0800) / IP(src="10.0.0.1", dst="10.0.0.2") / ICMP()))
    add("v4_l3_ipv6", outer4(GENEVE(vni=4, proto=0x86DD) / IPv6(src="fd00::1", dst="fd00::2") / UDP()))
    add("v4_arp_payload", outer4(GENEVE(vni=4, proto=0x0806) / ARP()))
    add("v4_unknown_proto", outer4(GENEVE(vni=4, proto=0x1234) / Raw(b"\x00" * 40)))
    add("v6_plain", outer6(GENEVE(vni=0x123456, proto=teb, options=[opt(0x0101, 1, 1)]) / inner_eth()))
    add("v6_l3_ipv4", outer6(GENEVE(vni=5, proto=0x0800) / IP(src="10.0.0.1", dst="10.0.0.2") / UDP()))
    add("v6_zero_checksum", outer6(GENEVE(vni=5, proto=teb) / inner_eth(), csum=0))
    add("v6_bad_checksum", outer6(GENEVE(vni=5, proto=teb) / inner_eth(), csum=0x1234))
    # Malformed.
    add("bad_version", outer4(GENEVE(version=1, vni=1, proto=teb) / inner_eth()))
    add("bad_version3", outer4(GENEVE(version=3, vni=1, proto=teb) / inner_eth()))
    add("opt_len_past_frame", outer4(GENEVE(vni=1, proto=teb, optionlen=40) / Raw(b"\x00" * 20)))
    add("tlv_overrun", outer4(GENEVE(vni=1, proto=teb, optionlen=2) / Raw(bytes([1, 1, 1, 5, 0, 0, 0, 0]))
                              / inner_eth()))
    add("bad_udp_checksum", outer4(GENEVE(vni=1, proto=teb) / inner_eth(), csum=0xbeef))
    add("wrong_port", outer4(GENEVE(vni=1, proto=teb) / inner_eth(), port=4789))
    add("bad_ip_checksum", outer4(GENEVE(vni=1, proto=teb) / inner_eth(), ip_kw={"chksum": 0x1111}))
    add("ip_fragment", outer4(GENEVE(vni=1, proto=teb) / inner_eth(), ip_kw={"frag": 100}))
    add("not_local", Ether() / IP(src=V4_REMOTE, dst="198.19.9.9") / UDP(sport=1, dport=6081)
        / GENEVE(vni=1, proto=teb) / inner_eth())
    add("geneve_truncated", outer4(Raw(b"\x00\x00\x65")))
    add("ecn_ce_over_not_ect", outer4(GENEVE(vni=6, proto=teb) / inner_eth(tos=0), ip_kw={"tos": 3}))
    add("ecn_ce_over_ect0", outer4(GENEVE(vni=6, proto=teb) / inner_eth(tos=2), ip_kw={"tos": 3}))
    # Geneve on the underlay with 802.1Q tags: VID 7, VID 8, and QinQ 7 over 7.
    plain = outer4(GENEVE(vni=100, proto=teb) / inner_eth(), csum=0)
    tagged = lambda *vids: functools.reduce(lambda p, v: p / Dot1Q(vlan=v), vids, Ether(src=MAC_B, dst=MAC_A)) / plain[IP]
    add("v4_vlan7", tagged(7))
    add("v4_vlan8", tagged(8))
    add("v4_qinq7", tagged(7, 7))
    wrpcap(path, [p for _, p in cases])
    print(json.dumps([n for n, _ in cases]))


if __name__ == "__main__":
    mode, path = sys.argv[1], sys.argv[2]
    {"decode": decode, "build": build}[mode](path)
