#!/usr/bin/env python3
"""Ping and TCP transfer helpers for the Open vSwitch bed (scripts/ovs-bed.sh).

The machine has neither `ping` nor `nc`, so the bed uses the standard library:
run inside a namespace with `ip netns exec NS python3 tests/scapy/ovs_net.py`.

  ping DST [--count N] [--timeout S]        ICMP/ICMPv6 echo over a raw socket;
                                            exit 0 when at least --need replies
  tcp-recv BIND PORT [--timeout S]          accept one connection, read to EOF,
                                            print "recv BYTES SHA256"
  tcp-send DST PORT BYTES [--timeout S]     connect (retrying), send BYTES of a
                                            fixed pattern, print "sent BYTES SHA256"
"""
import argparse
import hashlib
import os
import select
import socket
import struct
import sys
import time


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ping(a) -> int:
    v6 = ":" in a.dst
    if v6:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        typ, reply_typ = 128, 129
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        typ, reply_typ = 8, 0
    ident = os.getpid() & 0xFFFF
    got = 0
    for seq in range(1, a.count + 1):
        payload = struct.pack("!d", time.time()) + bytes(range(48))
        hdr = struct.pack("!BBHHH", typ, 0, 0, ident, seq)
        # The kernel fills the ICMPv6 checksum (it needs the pseudo-header).
        c = 0 if v6 else csum(hdr + payload)
        pkt = struct.pack("!BBHHH", typ, 0, c, ident, seq) + payload
        t0 = time.time()
        sock.sendto(pkt, (a.dst, 0))
        ok = False
        while not ok:
            left = a.timeout - (time.time() - t0)
            if left <= 0 or not select.select([sock], [], [], left)[0]:
                break
            data, src = sock.recvfrom(65535)
            icmp = data if v6 else data[(data[0] & 0x0F) * 4:]
            if len(icmp) < 8:
                continue
            t, _, _, rid, rseq = struct.unpack("!BBHHH", icmp[:8])
            if t == reply_typ and rid == ident and rseq == seq and src[0] == a.dst:
                ok = True
        if ok:
            got += 1
            print(f"reply from {a.dst}: seq={seq} time={(time.time() - t0) * 1000:.2f} ms")
        else:
            print(f"no reply from {a.dst}: seq={seq}")
        if seq < a.count:
            time.sleep(a.interval)
    print(f"ping {a.dst}: {a.count} sent, {got} received")
    return 0 if got >= (a.need if a.need is not None else a.count) else 1


def pattern(n: int) -> bytes:
    block = bytes((i * 7 + 3) & 0xFF for i in range(65536))
    return (block * (n // len(block) + 1))[:n]


def tcp_recv(a) -> int:
    fam = socket.AF_INET6 if ":" in a.bind else socket.AF_INET
    srv = socket.socket(fam, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((a.bind, a.port))
    srv.listen(1)
    srv.settimeout(a.timeout)
    print("listening", flush=True)
    conn, _ = srv.accept()
    conn.settimeout(a.timeout)
    h = hashlib.sha256()
    n = 0
    while True:
        b = conn.recv(65536)
        if not b:
            break
        h.update(b)
        n += len(b)
    conn.close()
    print(f"recv {n} {h.hexdigest()}")
    return 0


def tcp_send(a) -> int:
    data = pattern(a.bytes)
    fam = socket.AF_INET6 if ":" in a.dst else socket.AF_INET
    deadline = time.time() + a.timeout
    while True:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(max(1.0, deadline - time.time()))
        try:
            s.connect((a.dst, a.port))
            break
        except OSError as e:
            s.close()
            if time.time() > deadline:
                print(f"connect {a.dst}:{a.port}: {e}", file=sys.stderr)
                return 1
            time.sleep(0.2)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    # Wait for the receiver to close: all bytes were taken.
    s.settimeout(max(1.0, deadline - time.time()))
    while s.recv(4096):
        pass
    s.close()
    print(f"sent {len(data)} {hashlib.sha256(data).hexdigest()}")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("ping")
    q.add_argument("dst")
    q.add_argument("--count", type=int, default=3)
    q.add_argument("--need", type=int)
    q.add_argument("--timeout", type=float, default=2.0)
    q.add_argument("--interval", type=float, default=0.2)
    q = sub.add_parser("tcp-recv")
    q.add_argument("bind")
    q.add_argument("port", type=int)
    q.add_argument("--timeout", type=float, default=20.0)
    q = sub.add_parser("tcp-send")
    q.add_argument("dst")
    q.add_argument("port", type=int)
    q.add_argument("bytes", type=int)
    q.add_argument("--timeout", type=float, default=20.0)
    a = p.parse_args()
    return {"ping": ping, "tcp-recv": tcp_recv, "tcp-send": tcp_send}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
