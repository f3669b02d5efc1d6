#!/usr/bin/env python3
"""scapy as an independent oracle for geneve-gw's VXLAN (RFC 7348) format.

  vxlan_oracle.py decode FILE.pcap   -> one JSON object per packet on stdout
  vxlan_oracle.py build FILE.pcap    -> writes scapy-built packets; prints a
                                        JSON list of case names, in order
  vxlan_oracle.py stitch DIR N       -> DIR/ul_in.pcap: N VXLAN frames from
                                        198.18.0.3 (VNI 5000) for the MAC behind
                                        198.18.0.2, then N Geneve frames from
                                        198.18.0.2 (VNI 1000) for the MAC behind
                                        198.18.0.3; DIR/acc_in.pcap empty
  vxlan_oracle.py stitch-big DIR N   -> DIR/ul_in.pcap: N VXLAN frames from
                                        198.18.0.3 whose inner TCP frames
                                        fill a 1500-byte underlay MTU

Used by tests/oracle_vxlan.rs; addresses come from 198.18.0.0/15 and
2001:db8::/32 (the same ones tests/common/mod.rs uses).
"""
import json
import sys

from scapy.all import IP, UDP, Ether, IPv6, Raw, rdpcap, wrpcap  # noqa: E402
from scapy.layers.vxlan import VXLAN  # noqa: E402

V4_LOCAL, V4_REMOTE = "198.18.0.1", "198.18.0.2"
V6_LOCAL, V6_REMOTE = "2001:db8::1", "2001:db8::2"
MAC_A, MAC_B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"


def ip_checksum_ok(ip):
    q = ip.copy()
    del q.chksum
    return IP(bytes(q)).chksum == ip.chksum


def udp_checksum_state(p):
    u = p[UDP]
    if u.chksum == 0:
        return "zero"
    q = p.copy()
    del q[UDP].chksum
    return "ok" if Ether(bytes(q))[UDP].chksum == u.chksum else "bad"


def decode(path):
    for p in rdpcap(path):
        d = {}
        ip = p.payload  # the outer IP header (untagged frames only)
        if isinstance(ip, IP):
            d.update(l3="ipv4", src=ip.src, dst=ip.dst, ttl=ip.ttl, tos=ip.tos, ip_len=ip.len,
                     df=bool(ip.flags.DF), ip_checksum_ok=ip_checksum_ok(ip))
        else:
            d.update(l3="ipv6", src=ip.src, dst=ip.dst, ttl=ip.hlim, tos=ip.tc, ip_len=ip.plen)
        u = p[UDP]
        d.update(sport=u.sport, dport=u.dport, udp_len=u.len, udp_checksum=udp_checksum_state(p))
        # Decode the UDP payload as VXLAN whatever the port (scapy binds
        # VXLAN to 4789 only).
        v = VXLAN(bytes(u.payload))
        raw = bytes(u.payload)[:8]
        d.update(flags=int(v.flags), vni=v.vni, reserved1=int.from_bytes(raw[1:4], "big"),
                 reserved2=raw[7], payload=bytes(u.payload)[8:].hex(),
                 inner_dst=v[Ether].dst, inner_src=v[Ether].src)
        print(json.dumps(d))


def inner_eth(tos=0, size=30):
    return (Ether(src="02:11:00:00:00:01", dst="02:11:00:00:00:02")
            / IP(src="10.0.0.1", dst="10.0.0.2", tos=tos, ttl=33) / UDP(sport=1111, dport=2222)
            / Raw(b"x" * size))


def outer4(payload, csum=None, port=4789, ip_kw=None):
    u = UDP(sport=40000, dport=port)
    if csum is not None:
        u.chksum = csum
    return Ether(src=MAC_B, dst=MAC_A) / IP(src=V4_REMOTE, dst=V4_LOCAL, flags="DF", **(ip_kw or {})) / u / payload


def outer6(payload, csum=None):
    u = UDP(sport=40000, dport=4789)
    if csum is not None:
        u.chksum = csum
    return Ether(src=MAC_B, dst=MAC_A) / IPv6(src=V6_REMOTE, dst=V6_LOCAL) / u / payload


def build(path):
    cases = []

    def add(name, pkt):
        cases.append((name, pkt))

    add("v4_plain", outer4(VXLAN(vni=5000, flags=0x08) / inner_eth(), csum=0))
    add("v4_udp_checksum", outer4(VXLAN(vni=5000, flags=0x08) / inner_eth()))
    add("v4_vni_max", outer4(VXLAN(vni=0xffffff, flags=0x08) / inner_eth(), csum=0))
    # Reserved bits set (flags, both reserved fields): ignored on receipt.
    add("v4_reserved_set", outer4(Raw(bytes([0xff, 0x12, 0x34, 0x56, 0x00, 0x13, 0x88, 0x77]))
                                  / inner_eth(), csum=0))
    add("v6_plain", outer6(VXLAN(vni=5000, flags=0x08) / inner_eth()))
    add("v6_zero_checksum", outer6(VXLAN(vni=5000, flags=0x08) / inner_eth(), csum=0))
    add("v6_bad_checksum", outer6(VXLAN(vni=5000, flags=0x08) / inner_eth(), csum=0x1234))
    add("no_i_flag", outer4(VXLAN(vni=5000, flags=0x00) / inner_eth(), csum=0))
    add("only_reserved_flags", outer4(VXLAN(vni=5000, flags=0xf7) / inner_eth(), csum=0))
    add("truncated", outer4(Raw(b"\x08\x00\x00\x00\x00\x13"), csum=0))
    add("inner_short", outer4(VXLAN(vni=5000, flags=0x08) / Raw(b"\x02" * 13), csum=0))
    add("bad_udp_checksum", outer4(VXLAN(vni=5000, flags=0x08) / inner_eth(), csum=0xbeef))
    add("other_port", outer4(VXLAN(vni=5000, flags=0x08) / inner_eth(), port=8472, csum=0))
    add("ecn_ce_over_not_ect", outer4(VXLAN(vni=5000, flags=0x08) / inner_eth(tos=0), ip_kw={"tos": 3}))
    add("ecn_ce_over_ect0", outer4(VXLAN(vni=5000, flags=0x08) / inner_eth(tos=2), ip_kw={"tos": 3}))
    wrpcap(path, [p for _, p in cases])
    print(json.dumps([n for n, _ in cases]))


GW_UL_MAC = "02:00:00:00:01:01"
BEHIND_GENEVE, BEHIND_VXLAN = "02:00:00:00:0b:02", "02:00:00:00:0b:03"


def stitch(d, n):
    from scapy.contrib.geneve import GENEVE
    n = int(n)
    def inner(dst, i):
        return (Ether(src="02:00:00:00:0c:%02x" % (i % 200), dst=dst)
                / IP(src="10.0.0.1", dst="10.0.1.%d" % (1 + i % 200)) / UDP(sport=1000 + i, dport=7)
                / Raw(bytes([i % 256]) * 30))
    frames = []
    for i in range(n):
        frames.append(Ether(src="02:00:00:00:00:03", dst=GW_UL_MAC)
                      / IP(src="198.18.0.3", dst=V4_LOCAL, flags="DF")
                      / UDP(sport=50000 + i, dport=4789, chksum=0)
                      / VXLAN(vni=5000, flags=0x08) / inner(BEHIND_GENEVE, i))
    for i in range(n):
        frames.append(Ether(src="02:00:00:00:00:02", dst=GW_UL_MAC)
                      / IP(src="198.18.0.2", dst=V4_LOCAL, flags="DF")
                      / UDP(sport=50000 + i, dport=6081, chksum=0)
                      / GENEVE(vni=1000, proto=0x6558) / inner(BEHIND_VXLAN, i))
    wrpcap(d + "/ul_in.pcap", frames)
    wrpcap(d + "/acc_in.pcap", [])


def stitch_big(d, n):
    """N VXLAN frames from 198.18.0.3 (VNI 5000) whose inner TCP frames
    fill a 1500-byte underlay MTU (1464 bytes: 36 bytes of outer IPv4, UDP
    and VXLAN headers), for the MAC behind 198.18.0.2."""
    from scapy.all import TCP
    n = int(n)
    frames = []
    for i in range(n):
        inner = (Ether(src="02:00:00:00:0c:%02x" % (i % 200), dst=BEHIND_GENEVE)
                 / IP(src="10.0.0.1", dst="10.0.1.%d" % (1 + i % 200))
                 / TCP(sport=1000 + i, dport=80, flags="A", seq=1000 * i)
                 / Raw(bytes([i % 256]) * 1410))
        assert len(inner) == 1464
        frames.append(Ether(src="02:00:00:00:00:03", dst=GW_UL_MAC)
                      / IP(src="198.18.0.3", dst=V4_LOCAL, flags="DF")
                      / UDP(sport=50000 + i, dport=4789, chksum=0)
                      / VXLAN(vni=5000, flags=0x08) / inner)
    wrpcap(d + "/ul_in.pcap", frames)
    wrpcap(d + "/acc_in.pcap", [])


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "stitch":
        stitch(sys.argv[2], sys.argv[3])
    elif mode == "stitch-big":
        stitch_big(sys.argv[2], sys.argv[3])
    else:
        {"decode": decode, "build": build}[mode](sys.argv[2])
