#!/usr/bin/env python3
"""Input for tests/offload_bytes.rs: inner Ethernet frames with valid
checksums that the gateway encapsulates, the same file for the software and
the offload run.

  offload_input.py build DIR  -> DIR/acc_in.pcap, prints the frame count

Frames go to 02:00:00:00:0b:01 (tunnel b) and 02:00:00:00:0b:02 (tunnel c):
IPv4 and IPv6, UDP and TCP, payloads from 0 to 1300 bytes (odd and even
lengths, so the checksum's trailing-byte case is covered).
"""
import os
import sys

from scapy.all import IP, TCP, UDP, Ether, IPv6, Raw, wrpcap


def frames():
    out = []
    for dst in ("02:00:00:00:0b:01", "02:00:00:00:0b:02"):
        for i, n in enumerate((0, 1, 18, 101, 500, 999, 1300)):
            e = Ether(src="02:00:00:00:0a:01", dst=dst)
            pay = Raw(bytes((i * 37 + k) & 0xFF for k in range(n)))
            out.append(e / IP(src="198.19.0.1", dst="198.19.0.2", id=i, tos=i) / UDP(sport=1000 + i, dport=2000) / pay)
            out.append(e / IP(src="198.19.0.1", dst="198.19.0.2", id=i) / TCP(sport=1000 + i, dport=80, flags="PA", seq=i) / pay)
            out.append(e / IPv6(src="2001:db8:1::1", dst="2001:db8:1::2", tc=i) / UDP(sport=1000 + i, dport=2000) / pay)
            out.append(e / IPv6(src="2001:db8:1::1", dst="2001:db8:1::2") / TCP(sport=1000 + i, dport=80, flags="A") / pay)
    return out


def main():
    if len(sys.argv) != 3 or sys.argv[1] != "build":
        sys.exit("usage: offload_input.py build DIR")
    f = frames()
    wrpcap(os.path.join(sys.argv[2], "acc_in.pcap"), f)
    print(len(f))


if __name__ == "__main__":
    main()
