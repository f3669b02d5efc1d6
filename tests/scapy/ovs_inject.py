#!/usr/bin/env python3
"""Send Geneve-encapsulated frames into the Open vSwitch bed from the gateway's
side (scripts/ovs-bed.sh send-geneve ...), as if geneve-gw had sent them.

Outer: Ether(src-mac -> dst-mac) / IPv4 198.18.0.1 -> 198.18.0.2 / UDP 6081 /
Geneve(VNI, options); inner: Ether(inner-src-mac -> inner-dst-mac) /
IPv4 inner-src -> inner-dst (198.19.0.1 -> .2) / UDP -> --mark-port, payload "geneve-gw-bed N".
The receiver recognises the frames by the UDP port.

  --option CLASS:TYPE[:HEXDATA]   add an option (repeatable); TYPE with 0x80
                                  is critical and sets the header's C bit
"""
import argparse
import sys

from scapy.all import IP, UDP, Ether, Raw, conf, sendp
from scapy.contrib.geneve import GENEVE, GeneveOptions


def parse_option(s: str) -> GeneveOptions:
    parts = s.split(":")
    if len(parts) not in (2, 3):
        raise argparse.ArgumentTypeError(f"want CLASS:TYPE[:HEXDATA], got {s!r}")
    cls, typ = int(parts[0], 0), int(parts[1], 0)
    data = bytes.fromhex(parts[2]) if len(parts) == 3 else b"\0\0\0\0"
    if len(data) % 4 or len(data) > 124:
        raise argparse.ArgumentTypeError(f"option data must be a multiple of 4 bytes up to 124: {s!r}")
    return GeneveOptions(classid=cls, type=typ, length=len(data) // 4, data=data)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iface", default="gwu0")
    p.add_argument("--src-mac", required=True)
    p.add_argument("--dst-mac", required=True)
    p.add_argument("--inner-src-mac", required=True)
    p.add_argument("--inner-dst-mac", required=True)
    p.add_argument("--src", default="198.18.0.1")
    p.add_argument("--dst", default="198.18.0.2")
    p.add_argument("--inner-src", default="198.19.0.1")
    p.add_argument("--inner-dst", default="198.19.0.2")
    p.add_argument("--vni", type=lambda s: int(s, 0), default=100)
    p.add_argument("--option", type=parse_option, action="append", default=[])
    p.add_argument("--mark-port", type=int, default=47001)
    p.add_argument("--count", type=int, default=3)
    a = p.parse_args()

    conf.verb = 0
    opts = a.option
    crit = any(o.type & 0x80 for o in opts)
    optlen = sum(1 + o.length for o in opts)
    frames = []
    for i in range(a.count):
        inner = (
            Ether(src=a.inner_src_mac, dst=a.inner_dst_mac)
            / IP(src=a.inner_src, dst=a.inner_dst, ttl=64)
            / UDP(sport=40000 + i, dport=a.mark_port)
            / Raw(f"geneve-gw-bed {i}".encode())
        )
        g = GENEVE(vni=a.vni, proto=0x6558, critical=int(crit), optionlen=optlen, options=opts)
        frames.append(
            Ether(src=a.src_mac, dst=a.dst_mac)
            / IP(src=a.src, dst=a.dst, ttl=64)
            / UDP(sport=50000 + i, dport=6081, chksum=0)
            / g
            / inner
        )
    sendp(frames, iface=a.iface, verbose=False)
    desc = ", ".join(f"{o.classid:#06x}/{o.type:#04x}" for o in opts) or "no options"
    print(f"sent {len(frames)} Geneve frame(s) VNI {a.vni} ({desc}) on {a.iface} to UDP port {a.mark_port}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
