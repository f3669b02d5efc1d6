#!/usr/bin/env python3
"""Inputs and output checks for tests/e2e_sizes.rs, built and read by scapy.

  jumbo.py build DIR   -> DIR/acc_in.pcap (inner frames of the SIZES below),
                          DIR/ul_in.pcap (the same sizes Geneve-encapsulated
                          by 198.18.0.2 to us), and one frame of each past
                          the MTU
  jumbo.py check DIR   -> DIR/ul_out.pcap must carry every access frame,
                          byte for byte, in Geneve VNI 100 to 198.18.0.2;
                          DIR/acc_out.pcap every inner frame byte for byte.
                          Prints JSON {"ok": bool, "errors": [...]}

Sizes are inner IP packet lengths (the access port's MTU is 9000).
"""
import json
import sys

from scapy.all import Ether, ICMP, IP, UDP, Raw, rdpcap, wrpcap
from scapy.contrib.geneve import GENEVE

GW_MAC, PEER_MAC = "02:00:00:00:01:01", "02:00:00:00:00:02"
HOST_A, HOST_B = "02:00:00:00:0a:01", "02:00:00:00:0b:01"
SIZES = [1500, 4000, 9000]
OVER = 9600  # past the largest MTU (9100, the underlay's) and the mbuf data room


def inner(src, dst, ip_len, n):
    pay = ip_len - 20 - 8
    return (Ether(src=src, dst=dst) / IP(src="198.19.0.1", dst="198.19.0.2", flags="DF")
            / UDP(sport=1000 + n, dport=5001) / Raw(bytes((n + i) & 0xff for i in range(pay))))


def geneve(payload):
    return (Ether(src=PEER_MAC, dst=GW_MAC) / IP(src="198.18.0.2", dst="198.18.0.1", ttl=64)
            / UDP(sport=50000, dport=6081, chksum=0) / GENEVE(vni=100, proto=0x6558) / payload)


def access_in():
    return [inner(HOST_A, HOST_B, s, i) for i, s in enumerate(SIZES)]


def underlay_inner():
    return [inner(HOST_B, HOST_A, s, 10 + i) for i, s in enumerate(SIZES)]


def build(d):
    wrpcap(f"{d}/acc_in.pcap", access_in() + [inner(HOST_A, HOST_B, OVER, 9)])
    wrpcap(f"{d}/ul_in.pcap", [geneve(p) for p in underlay_inner()]
           + [geneve(inner(HOST_B, HOST_A, OVER, 19))])


def check(d):
    errors = []
    ul = rdpcap(f"{d}/ul_out.pcap")
    acc = rdpcap(f"{d}/acc_out.pcap")
    want_ul = [bytes(p) for p in access_in()]
    got_ul = []
    for p in ul:
        if GENEVE not in p:
            errors.append(f"underlay out: not Geneve: {p.summary()}")
            continue
        if p[IP].dst != "198.18.0.2" or p[GENEVE].vni != 100:
            errors.append(f"underlay out: wrong tunnel {p.summary()}")
        if p[IP].len != len(p[IP]):
            errors.append(f"underlay out: IP length {p[IP].len} != {len(p[IP])}")
        got_ul.append(bytes(p[GENEVE].payload))
    if got_ul != want_ul:
        errors.append(f"encap: got inner lengths {[len(x) for x in got_ul]}, "
                      f"want {[len(x) for x in want_ul]} byte for byte")
    want_acc = [bytes(p) for p in underlay_inner()]
    # The too-big access frame (IPv4, DF) gets Fragmentation Needed back.
    frag = [p for p in acc if ICMP in p]
    if len(frag) != 1 or frag[0][ICMP].type != 3 or frag[0][ICMP].code != 4:
        errors.append(f"want one ICMP Fragmentation Needed, got {[p.summary() for p in frag]}")
    got_acc = [bytes(p) for p in acc if ICMP not in p]
    if got_acc != want_acc:
        errors.append(f"decap: got lengths {[len(x) for x in got_acc]}, "
                      f"want {[len(x) for x in want_acc]} byte for byte")
    print(json.dumps({"ok": not errors, "errors": errors}))


if __name__ == "__main__":
    {"build": build, "check": check}[sys.argv[1]](sys.argv[2])
