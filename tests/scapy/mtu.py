#!/usr/bin/env python3
"""Inputs and output checks for tests/e2e_sizes.rs, built and read by scapy.

Underlay MTU 1450, access MTU 1400; L2 segment VNI 100 to 198.18.0.2 over
IPv4. The tunnel MTU as the inner IP layer sees it is therefore
1450 - 20 (outer IPv4) - 8 (UDP) - 8 (Geneve) - 14 (inner Ethernet) = 1400.

  mtu.py build DIR   -> DIR/acc_in.pcap, DIR/ul_in.pcap
  mtu.py check DIR   -> checks DIR/acc_out.pcap, DIR/ul_out.pcap; prints
                        JSON {"ok": bool, "errors": [...]}
"""
import json
import sys

from scapy.all import (Ether, ICMP, IP, IPerror, IPv6, ICMPv6PacketTooBig, UDP, Raw,
                       rdpcap, wrpcap)
from scapy.contrib.geneve import GENEVE

GW_MAC, PEER_MAC = "02:00:00:00:01:01", "02:00:00:00:00:02"
HOST_A, HOST_B = "02:00:00:00:0a:01", "02:00:00:00:0b:01"
TUNNEL_IP_MTU = 1450 - 20 - 8 - 8 - 14
ACCESS_MTU = 1400


def v4(ip_len, df, n, src=HOST_A, dst=HOST_B):
    return (Ether(src=src, dst=dst) / IP(src="198.19.0.1", dst="198.19.0.2", flags="DF" if df else 0, id=n)
            / UDP(sport=1000 + n, dport=5001) / Raw(b"x" * (ip_len - 28)))


def v6(ip_len, n):
    return (Ether(src=HOST_A, dst=HOST_B) / IPv6(src="2001:db8:19::1", dst="2001:db8:19::2")
            / UDP(sport=1000 + n, dport=5001) / Raw(b"y" * (ip_len - 48)))


def geneve(payload):
    return (Ether(src=PEER_MAC, dst=GW_MAC) / IP(src="198.18.0.2", dst="198.18.0.1", ttl=64)
            / UDP(sport=50000, dport=6081, chksum=0) / GENEVE(vni=100, proto=0x6558) / payload)


def build(d):
    wrpcap(f"{d}/acc_in.pcap", [
        v4(TUNNEL_IP_MTU + 50, True, 1),    # DF, too big: Fragmentation Needed
        v4(TUNNEL_IP_MTU + 50, False, 2),   # no DF: dropped, no ICMP
        v6(TUNNEL_IP_MTU + 50, 3),          # IPv6, too big: Packet Too Big
        v4(TUNNEL_IP_MTU, True, 4),         # fits exactly: encapsulated
    ])
    wrpcap(f"{d}/ul_in.pcap", [
        geneve(v4(ACCESS_MTU, True, 5, HOST_B, HOST_A)),        # fits the access MTU
        geneve(v4(ACCESS_MTU + 132, True, 6, HOST_B, HOST_A)),  # 1,546 B frame: over it
    ])


def check(d):
    errors = []
    acc = rdpcap(f"{d}/acc_out.pcap")
    ul = rdpcap(f"{d}/ul_out.pcap")
    for p in acc:
        if len(p) - 14 > ACCESS_MTU:
            errors.append(f"access out: {len(p)} B frame over the access MTU {ACCESS_MTU}")
    frag = [p for p in acc if ICMP in p and p[ICMP].type == 3]
    ptb = [p for p in acc if ICMPv6PacketTooBig in p]
    data = [p for p in acc if UDP in p and IPerror not in p and ICMP not in p and ICMPv6PacketTooBig not in p]
    if len(frag) != 1:
        errors.append(f"want one ICMP Fragmentation Needed, got {len(frag)}")
    for p in frag:
        i = p[ICMP]
        if i.code != 4 or i.nexthopmtu != TUNNEL_IP_MTU:
            errors.append(f"ICMP code {i.code} mtu {i.nexthopmtu}, want 4 / {TUNNEL_IP_MTU}")
        if p[IP].dst != "198.19.0.1" or p[Ether].dst != HOST_A:
            errors.append(f"ICMP not to the sender: {p.summary()}")
        if p[IPerror].id != 1 or p[IPerror].dst != "198.19.0.2":
            errors.append("ICMP quotes the wrong packet")
        q = p.copy()
        del q[IP].chksum
        del q[ICMP].chksum
        q = Ether(bytes(q))
        if q[IP].chksum != p[IP].chksum or q[ICMP].chksum != p[ICMP].chksum:
            errors.append("ICMP or IP checksum wrong")
    if len(ptb) != 1:
        errors.append(f"want one ICMPv6 Packet Too Big, got {len(ptb)}")
    for p in ptb:
        if p[ICMPv6PacketTooBig].mtu != TUNNEL_IP_MTU:
            errors.append(f"PTB mtu {p[ICMPv6PacketTooBig].mtu}, want {TUNNEL_IP_MTU}")
        if p[IPv6].dst != "2001:db8:19::1" or p[Ether].dst != HOST_A:
            errors.append(f"PTB not to the sender: {p.summary()}")
        q = p.copy()
        del q[ICMPv6PacketTooBig].cksum
        q = Ether(bytes(q))
        if q[ICMPv6PacketTooBig].cksum != p[ICMPv6PacketTooBig].cksum:
            errors.append("ICMPv6 checksum wrong")
    if [p[IP].id for p in data] != [5]:
        errors.append(f"access out data: ids {[p[IP].id for p in data if IP in p]}, want [5]")
    enc = [p for p in ul if GENEVE in p]
    inner_ids = [p[GENEVE].payload[IP].id for p in enc]
    if inner_ids != [4]:
        errors.append(f"underlay out: inner ids {inner_ids}, want [4]")
    for p in ul:
        if len(p) - 14 > 1450:
            errors.append(f"underlay out: {len(p)} B frame over the underlay MTU")
    print(json.dumps({"ok": not errors, "errors": errors}))


if __name__ == "__main__":
    {"build": build, "check": check}[sys.argv[1]](sys.argv[2])
