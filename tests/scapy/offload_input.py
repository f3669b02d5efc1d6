#!/usr/bin/env python3
"""Input for tests/e2e_offload_bytes.rs: inner Ethernet frames with valid
checksums that the gateway encapsulates, the same file for the software and
the offload run; and Geneve packets for the gateway to decapsulate, sent
into a tap device.

  offload_input.py build DIR   -> DIR/acc_in.pcap, prints the frame count
  offload_input.py send IFACE  -> sends Geneve packets (VNI 100 from
                                  198.18.0.2 to 198.18.0.1) out of IFACE,
                                  prints "GOOD BAD": how many have a good
                                  and a bad outer IPv4 header checksum

Frames go to 02:00:00:00:0b:01 (tunnel b) and 02:00:00:00:0b:02 (tunnel c):
IPv4 and IPv6, UDP and TCP, payloads from 0 to 1300 bytes (odd and even
lengths, so the checksum's trailing-byte case is covered).
"""
import errno
import os
import sys
import time

from scapy.all import IP, TCP, UDP, Ether, IPv6, Raw, conf, wrpcap
from scapy.contrib.geneve import GENEVE


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


def geneve(i, bad_checksum):
    inner = Ether(src="02:00:00:00:0b:01", dst="02:00:00:00:0a:01") / IP(
        src="198.19.0.2", dst="198.19.0.1"
    ) / UDP(sport=3000 + i, dport=4000) / Raw(b"x" * (i * 7 % 64))
    outer = IP(src="198.18.0.2", dst="198.18.0.1", id=i)
    if bad_checksum:
        outer.chksum = 0x1234
    return (
        Ether(src="02:00:00:00:00:02", dst="02:00:00:00:01:01")
        / outer
        / UDP(sport=49152 + i, dport=6081, chksum=0)
        / GENEVE(vni=100, proto=0x6558)
        / inner
    )


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "build":
        f = frames()
        wrpcap(os.path.join(sys.argv[2], "acc_in.pcap"), f)
        print(len(f))
    elif len(sys.argv) == 3 and sys.argv[1] == "send":
        good = [geneve(i, False) for i in range(8)]
        bad = [geneve(100 + i, True) for i in range(3)]
        # net_tap takes the link down and up again while the port starts:
        # opening the socket in that window fails with "Network is down"
        # (before anything is sent), so open it again, then send.
        for attempt in range(100):
            try:
                sock = conf.L2socket(iface=sys.argv[2])
                break
            except OSError as e:
                if e.errno != errno.ENETDOWN or attempt == 99:
                    raise
                time.sleep(0.05)
        for p in good[:4] + bad + good[4:]:
            sock.send(p)
        sock.close()
        print(len(good), len(bad))
    else:
        sys.exit("usage: offload_input.py build DIR | send IFACE")


if __name__ == "__main__":
    main()
