#!/usr/bin/env python3
"""Traffic for two tunnels and two decap VNIs, built by scapy, for
tests/e2e_entry_counters.rs.

  entry_counters.py build DIR -> DIR/ul_in.pcap, DIR/acc_in.pcap; prints JSON
                                 of what each tunnel's and VNI's counters must read.

Gateway: VTEP 198.18.0.1 (MAC 02:00:00:00:01:01); tunnel t1 to 198.18.0.2 on
VNI 100 (segment VLAN 10, static MAC 02:11:00:00:00:01, decap allow_from
198.18.0.2), tunnel t2 to 198.18.0.3 on VNI 200 (untagged segment, static
MAC 02:22:00:00:00:02, no policy). Geneve without options: the outer headers
are 14 + 20 + 8 + 8 = 50 bytes (RFC 8926 section 3).
"""
import json
import os
import sys

from scapy.all import Dot1Q, Ether, IP, Raw, UDP, wrpcap
from scapy.contrib.geneve import GENEVE

GW_MAC = "02:00:00:00:01:01"
OUTER = 14 + 20 + 8 + 8

A1, A2, A3 = 30, 50, 5      # access: to t1 (VLAN 10), to t2 (untagged), VLAN 30 (no segment)
D1, D2, D3, D4 = 20, 40, 7, 3  # underlay: t1, t2, VNI 100 from a stranger, VNI 200 from t1's remote


def inner(dst, n, size):
    return (Ether(src="02:33:00:00:00:03", dst=dst) / IP(src="198.19.0.1", dst="198.19.0.2")
            / UDP(sport=4000 + n, dport=9) / Raw(b"c" * size))


def geneve(src, vni, payload):
    return (Ether(src="02:00:00:00:00:99", dst=GW_MAC) / IP(src=src, dst="198.18.0.1")
            / UDP(sport=50000, dport=6081, chksum=0) / GENEVE(vni=vni, proto=0x6558) / payload)


def tagged(frame, vlan):
    e = frame
    return Ether(src=e.src, dst=e.dst) / Dot1Q(vlan=vlan) / e.payload


def build(d):
    acc, want_t = [], {"t1": dict(encap_packets=0, encap_bytes=0, decap_packets=0, decap_bytes=0),
                       "t2": dict(encap_packets=0, encap_bytes=0, decap_packets=0, decap_bytes=0)}
    # Interleaved, so runs of one tunnel are short and the general tier
    # sees some frames too.
    for i in range(max(A1, A2, A3)):
        if i < A1:
            f = inner("02:11:00:00:00:01", i, 20 + i % 7)
            acc.append(tagged(f, 10))
            want_t["t1"]["encap_packets"] += 1
            want_t["t1"]["encap_bytes"] += len(f) + OUTER
        if i < A2:
            f = inner("02:22:00:00:00:02", i, 30 + i % 5)
            acc.append(f)
            want_t["t2"]["encap_packets"] += 1
            want_t["t2"]["encap_bytes"] += len(f) + OUTER
        if i < A3:
            acc.append(tagged(inner("02:11:00:00:00:01", i, 20), 30))
    ul = []
    want_v = {"100": dict(packets=0, bytes=0, drops=0), "200": dict(packets=0, bytes=0, drops=0)}
    # VNI 200 first, t1's remote's frames among t2's: the first burst is
    # all for the decap express tier, in several runs of one source each
    # (its bytes summed per run, not over the whole burst).
    for i in range(D2):
        if i % 10 == 5 and i // 10 < D4:
            f = inner("02:44:00:00:00:04", i, 60)
            ul.append(geneve("198.18.0.2", 200, f))
            want_v["200"]["packets"] += 1
            want_v["200"]["bytes"] += len(f)
        f = inner("02:44:00:00:00:04", i, 50 + i % 4)
        ul.append(geneve("198.18.0.3", 200, f))
        want_v["200"]["packets"] += 1
        want_v["200"]["bytes"] += len(f)
        want_t["t2"]["decap_packets"] += 1
        want_t["t2"]["decap_bytes"] += len(f)
    for i in range(D1):
        f = inner("02:44:00:00:00:04", i, 40 + i % 3)
        ul.append(geneve("198.18.0.2", 100, f))
        # Delivered with the segment's VLAN tag.
        want_v["100"]["packets"] += 1
        want_v["100"]["bytes"] += len(f) + 4
        want_t["t1"]["decap_packets"] += 1
        want_t["t1"]["decap_bytes"] += len(f) + 4
    for i in range(D3):
        ul.append(geneve("198.18.0.9", 100, inner("02:44:00:00:00:04", i, 40)))
        want_v["100"]["drops"] += 1
    wrpcap(os.path.join(d, "acc_in.pcap"), acc)
    wrpcap(os.path.join(d, "ul_in.pcap"), ul)
    print(json.dumps({"tunnels": want_t, "vnis": want_v, "access": len(acc), "underlay": len(ul),
                      "delivered": D1 + D2 + D4, "encapped": A1 + A2}))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "build":
        sys.exit(__doc__)
    build(sys.argv[2])
