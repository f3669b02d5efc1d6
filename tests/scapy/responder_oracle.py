#!/usr/bin/env python3
"""scapy as an independent oracle for src/control/responder.rs.

  responder_oracle.py build REQ.pcap   -> writes scapy-built requests (ARP,
      ICMP echo, ICMPv6 echo, NS, NA; with and without a VLAN tag); prints a
      JSON list, one object per frame: {"name", "expect", "learn"?} where
      expect is reply | reply_learn | learn | ignore.
  responder_oracle.py check PAIRS.pcap -> PAIRS.pcap holds request, reply,
      request, reply...; scapy derives the expected reply from each request
      and checks every field of ours, checksums included. Prints one JSON
      object per pair: {"name", "errors": [...]}.
  responder_oracle.py requests OURS.pcap -> checks our ARP request and NS
      (see check_requests); prints {"name", "errors"}.

Addresses: those of tests/common/mod.rs (we are MAC_A / V4_LOCAL / V6_LOCAL).
"""
import json
import sys

from scapy.all import (ARP, ICMP, IP, Dot1Q, Ether, ICMPv6EchoReply, ICMPv6EchoRequest,  # noqa: E402
                       ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr,
                       IPv6, Padding, Raw, rdpcap, wrpcap)

V4_LOCAL, V4_REMOTE = "198.18.0.1", "198.18.0.2"
V6_LOCAL, V6_REMOTE = "2001:db8::1", "2001:db8::2"
MAC_A, MAC_B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
BCAST = "ff:ff:ff:ff:ff:ff"
SN_LOCAL = "ff02::1:ff00:1"          # solicited-node address of V6_LOCAL
SN_LOCAL_MAC = "33:33:ff:00:00:01"
ALL_NODES, ALL_NODES_MAC = "ff02::1", "33:33:00:00:00:01"
PAYLOAD = bytes(range(56))


def l2(dst, vlan):
    e = Ether(dst=dst, src=MAC_B)
    if vlan is not None:
        e = e / Dot1Q(vlan=vlan, prio=5, id=1)
    return e


def cases():
    """(name, frame, expect, learn) in a fixed order."""
    out = []

    def add(name, frame, expect, learn=None):
        out.append((name, frame, expect, learn))

    learn4 = {"ip": V4_REMOTE, "mac": MAC_B}
    learn6 = {"ip": V6_REMOTE, "mac": MAC_B}
    for vlan in (None, 100):
        sfx = "" if vlan is None else "_vlan"
        add("arp_request" + sfx,
            l2(BCAST, vlan) / ARP(op=1, hwsrc=MAC_B, psrc=V4_REMOTE, pdst=V4_LOCAL),
            "reply_learn", dict(learn4, targeted=True))
        add("icmp_echo" + sfx,
            l2(MAC_A, vlan) / IP(src=V4_REMOTE, dst=V4_LOCAL, tos=0xb9, ttl=7, id=4242, flags="DF")
            / ICMP(type=8, id=0x3344, seq=17) / Raw(PAYLOAD),
            "reply")
        add("icmpv6_echo" + sfx,
            l2(MAC_A, vlan) / IPv6(src=V6_REMOTE, dst=V6_LOCAL, tc=0x2e, fl=0x12345, hlim=9)
            / ICMPv6EchoRequest(id=0x5566, seq=3, data=PAYLOAD),
            "reply")
        add("ns_multicast" + sfx,
            l2(SN_LOCAL_MAC, vlan) / IPv6(src=V6_REMOTE, dst=SN_LOCAL, hlim=255)
            / ICMPv6ND_NS(tgt=V6_LOCAL) / ICMPv6NDOptSrcLLAddr(lladdr=MAC_B),
            "reply_learn", dict(learn6, targeted=True))
    add("arp_probe",
        l2(BCAST, None) / ARP(op=1, hwsrc=MAC_B, psrc="0.0.0.0", pdst=V4_LOCAL),
        "reply")
    add("arp_request_other",
        l2(BCAST, None) / ARP(op=1, hwsrc=MAC_B, psrc=V4_REMOTE, pdst="198.18.0.99"),
        "learn", dict(learn4, targeted=False))
    add("arp_reply",
        l2(MAC_A, None) / ARP(op=2, hwsrc=MAC_B, psrc=V4_REMOTE, hwdst=MAC_A, pdst=V4_LOCAL),
        "learn", dict(learn4, targeted=True))
    add("icmp_echo_padded",
        l2(MAC_A, None) / IP(src=V4_REMOTE, dst=V4_LOCAL) / ICMP(id=1, seq=2) / Raw(b"ab")
        / Padding(b"\0" * 16),
        "reply")
    add("icmp_echo_not_ours",
        l2(MAC_A, None) / IP(src=V4_REMOTE, dst="198.18.0.3") / ICMP(id=1, seq=2),
        "ignore")
    add("icmp_echo_bad_checksum",
        l2(MAC_A, None) / IP(src=V4_REMOTE, dst=V4_LOCAL) / ICMP(id=1, seq=2, chksum=0x1234),
        "ignore")
    add("icmpv6_echo_bad_checksum",
        l2(MAC_A, None) / IPv6(src=V6_REMOTE, dst=V6_LOCAL)
        / ICMPv6EchoRequest(id=1, seq=2, cksum=0x1234),
        "ignore")
    add("ns_unicast",
        l2(MAC_A, None) / IPv6(src=V6_REMOTE, dst=V6_LOCAL, hlim=255) / ICMPv6ND_NS(tgt=V6_LOCAL),
        "reply")
    add("ns_unicast_slla",
        l2(MAC_A, None) / IPv6(src=V6_REMOTE, dst=V6_LOCAL, hlim=255)
        / ICMPv6ND_NS(tgt=V6_LOCAL) / ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:0c"),
        "reply_learn", {"ip": V6_REMOTE, "mac": "02:00:00:00:00:0c", "targeted": True})
    add("ns_dad",
        l2(SN_LOCAL_MAC, None) / IPv6(src="::", dst=SN_LOCAL, hlim=255) / ICMPv6ND_NS(tgt=V6_LOCAL),
        "reply")
    add("ns_dad_vlan",
        l2(SN_LOCAL_MAC, 7) / IPv6(src="::", dst=SN_LOCAL, hlim=255) / ICMPv6ND_NS(tgt=V6_LOCAL),
        "reply")
    add("ns_hop_limit_64",
        l2(SN_LOCAL_MAC, None) / IPv6(src=V6_REMOTE, dst=SN_LOCAL, hlim=64)
        / ICMPv6ND_NS(tgt=V6_LOCAL) / ICMPv6NDOptSrcLLAddr(lladdr=MAC_B),
        "ignore")
    add("ns_other_target",
        l2("33:33:ff:00:00:02", None) / IPv6(src=V6_REMOTE, dst="ff02::1:ff00:2", hlim=255)
        / ICMPv6ND_NS(tgt="2001:db8::2") / ICMPv6NDOptSrcLLAddr(lladdr=MAC_B),
        "ignore")
    add("na_solicited",
        l2(MAC_A, None) / IPv6(src=V6_REMOTE, dst=V6_LOCAL, hlim=255)
        / ICMPv6ND_NA(tgt=V6_REMOTE, R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=MAC_B),
        "learn", dict(learn6, targeted=True))
    add("na_unsolicited",
        l2(ALL_NODES_MAC, None) / IPv6(src=V6_REMOTE, dst=ALL_NODES, hlim=255)
        / ICMPv6ND_NA(tgt=V6_REMOTE, R=0, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr=MAC_B),
        "learn", dict(learn6, targeted=False))
    add("na_without_tlla",
        l2(MAC_A, None) / IPv6(src=V6_REMOTE, dst=V6_LOCAL, hlim=255)
        / ICMPv6ND_NA(tgt=V6_REMOTE, R=0, S=1, O=1),
        "ignore")
    add("na_hop_limit_254",
        l2(MAC_A, None) / IPv6(src=V6_REMOTE, dst=V6_LOCAL, hlim=254)
        / ICMPv6ND_NA(tgt=V6_REMOTE, R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=MAC_B),
        "ignore")
    return out


def build(path):
    cs = cases()
    wrpcap(path, [c[1] for c in cs])
    print(json.dumps([{"name": n, "expect": e, "learn": l} for n, _, e, l in cs]))


def recomputed(pkt, layer):
    """The checksum scapy computes for `layer` of `pkt` (field deleted, rebuilt)."""
    q = Ether(bytes(pkt))
    x = q[layer]
    name = "chksum" if "chksum" in x.fields else "cksum"
    delattr(x, name)
    return getattr(Ether(bytes(q))[layer], name)


def check_pair(req, rep):
    errs = []

    def eq(what, got, want):
        if got != want:
            errs.append(f"{what}: got {got!r}, want {want!r}")

    # Layer 2, VLAN tag preserved; no trailing bytes.
    eq("eth.src", rep.src, MAC_A)
    hl = 14 + 4 * (1 if rep.haslayer(Dot1Q) else 0)
    if req.haslayer(Dot1Q):
        if not rep.haslayer(Dot1Q):
            errs.append("VLAN tag dropped")
        else:
            a, b = req[Dot1Q], rep[Dot1Q]
            eq("vlan", (b.vlan, b.prio, b.id), (a.vlan, a.prio, a.id))
            eq("vlan.type", b.type, a.type)
    elif rep.haslayer(Dot1Q):
        errs.append("VLAN tag added")

    if req.haslayer(ARP):
        a = req[ARP]
        eq("eth.dst", rep.dst, a.hwsrc)
        eq("eth.type (after tags)", (rep[Dot1Q] if rep.haslayer(Dot1Q) else rep).type, 0x0806)
        if not rep.haslayer(ARP):
            return errs + ["no ARP in reply"]
        r = rep[ARP]
        eq("arp.fixed", (r.hwtype, r.ptype, r.hwlen, r.plen), (1, 0x0800, 6, 4))
        eq("arp.op", r.op, 2)
        eq("arp.hwsrc", r.hwsrc, MAC_A)
        eq("arp.psrc", r.psrc, a.pdst)
        eq("arp.hwdst", r.hwdst, a.hwsrc)
        eq("arp.pdst", r.pdst, a.psrc)
        eq("frame length", len(rep), hl + 28)
        eq("no padding", rep.haslayer(Padding), False)
    elif req.haslayer(ICMP):
        a, ai = req[IP], req[ICMP]
        eq("eth.dst", rep.dst, req.src)
        if not rep.haslayer(ICMP):
            return errs + ["no ICMP in reply"]
        r, ri = rep[IP], rep[ICMP]
        eq("ip.version/ihl", (r.version, r.ihl), (4, 5))
        eq("ip.tos", r.tos, a.tos & 0xFC)
        eq("ip.ttl", r.ttl, 64)
        eq("ip.proto", r.proto, 1)
        eq("ip.src", r.src, a.dst)
        eq("ip.dst", r.dst, a.src)
        eq("ip.frag", (r.frag, bool(r.flags.MF)), (0, False))
        eq("ip.DF", bool(r.flags.DF), bool(a.flags.DF))
        data = req[Raw].load if req.haslayer(Raw) else b""
        eq("ip.len", r.len, 20 + 8 + len(data))
        eq("frame length", len(rep), hl + r.len)
        eq("ip.chksum", r.chksum, recomputed(rep, IP))
        eq("icmp.type/code", (ri.type, ri.code), (0, 0))
        eq("icmp.id/seq", (ri.id, ri.seq), (ai.id, ai.seq))
        eq("icmp.data", rep[Raw].load if rep.haslayer(Raw) else b"", data)
        eq("icmp.chksum", ri.chksum, recomputed(rep, ICMP))
        eq("no padding", rep.haslayer(Padding), False)
    elif req.haslayer(ICMPv6EchoRequest):
        a, ai = req[IPv6], req[ICMPv6EchoRequest]
        eq("eth.dst", rep.dst, req.src)
        if not rep.haslayer(ICMPv6EchoReply):
            return errs + ["no ICMPv6 echo reply"]
        r, ri = rep[IPv6], rep[ICMPv6EchoReply]
        eq("ip6.tc", r.tc, a.tc & 0xFC)
        eq("ip6.fl", r.fl, 0)
        eq("ip6.nh", r.nh, 58)
        eq("ip6.hlim", r.hlim, 64)
        eq("ip6.src", r.src, a.dst)
        eq("ip6.dst", r.dst, a.src)
        eq("ip6.plen", r.plen, 8 + len(ai.data))
        eq("frame length", len(rep), hl + 40 + r.plen)
        eq("icmp6.type/code", (ri.type, ri.code), (129, 0))
        eq("icmp6.id/seq", (ri.id, ri.seq), (ai.id, ai.seq))
        eq("icmp6.data", bytes(ri.data), bytes(ai.data))
        eq("icmp6.cksum", ri.cksum, recomputed(rep, ICMPv6EchoReply))
    elif req.haslayer(ICMPv6ND_NS):
        a, ns = req[IPv6], req[ICMPv6ND_NS]
        dad = a.src == "::"
        slla = req[ICMPv6NDOptSrcLLAddr].lladdr if req.haslayer(ICMPv6NDOptSrcLLAddr) else None
        eq("eth.dst", rep.dst, ALL_NODES_MAC if dad else (slla or req.src))
        if not rep.haslayer(ICMPv6ND_NA):
            return errs + ["no NA in reply"]
        r, na = rep[IPv6], rep[ICMPv6ND_NA]
        eq("ip6.tc/fl", (r.tc, r.fl), (0, 0))
        eq("ip6.nh", r.nh, 58)
        eq("ip6.hlim", r.hlim, 255)
        eq("ip6.src", r.src, ns.tgt)
        eq("ip6.dst", r.dst, ALL_NODES if dad else a.src)
        eq("ip6.plen", r.plen, 32)
        eq("frame length", len(rep), hl + 40 + 32)
        eq("na.type/code", (na.type, na.code), (136, 0))
        eq("na.R/S/O", (na.R, na.S, na.O), (0, 0 if dad else 1, 1))
        eq("na.res", na.res, 0)
        eq("na.tgt", na.tgt, ns.tgt)
        if not rep.haslayer(ICMPv6NDOptDstLLAddr):
            errs.append("no target link-layer option")
        else:
            o = rep[ICMPv6NDOptDstLLAddr]
            eq("tlla", (o.type, o.len, o.lladdr), (2, 1, MAC_A))
        eq("na.cksum", na.cksum, recomputed(rep, ICMPv6ND_NA))
    else:
        errs.append("request kind not known to the oracle: " + req.summary())
    return errs


def check(path):
    pkts = rdpcap(path)
    if len(pkts) % 2:
        sys.exit("odd number of frames")
    for i in range(0, len(pkts), 2):
        req, rep = pkts[i], pkts[i + 1]
        print(json.dumps({"name": req.summary(), "errors": check_pair(req, rep)}))


def check_requests(path):
    """Our arp_request(V4_LOCAL -> V4_REMOTE) then neighbor_solicitation(V6_LOCAL -> V6_REMOTE)."""
    errs = []

    def eq(what, got, want):
        if got != want:
            errs.append(f"{what}: got {got!r}, want {want!r}")

    pkts = rdpcap(path)
    eq("frames", len(pkts), 2)
    a, n = pkts[0], pkts[1]
    eq("arp eth", (a.dst, a.src, a.type, len(a)), (BCAST, MAC_A, 0x0806, 42))
    if a.haslayer(ARP):
        r = a[ARP]
        eq("arp", (r.hwtype, r.ptype, r.hwlen, r.plen, r.op, r.hwsrc, r.psrc, r.hwdst, r.pdst),
           (1, 0x0800, 6, 4, 1, MAC_A, V4_LOCAL, "00:00:00:00:00:00", V4_REMOTE))
    else:
        errs.append("no ARP")
    eq("ns eth", (n.dst, n.src, n.type, len(n)), ("33:33:ff:00:00:02", MAC_A, 0x86DD, 14 + 40 + 32))
    if n.haslayer(ICMPv6ND_NS) and n.haslayer(ICMPv6NDOptSrcLLAddr):
        ip, ns, o = n[IPv6], n[ICMPv6ND_NS], n[ICMPv6NDOptSrcLLAddr]
        eq("ns ip6", (ip.src, ip.dst, ip.hlim, ip.nh, ip.plen, ip.tc, ip.fl),
           (V6_LOCAL, "ff02::1:ff00:2", 255, 58, 32, 0, 0))
        eq("ns", (ns.type, ns.code, ns.res, ns.tgt), (135, 0, 0, V6_REMOTE))
        eq("slla", (o.type, o.len, o.lladdr), (1, 1, MAC_A))
        eq("ns.cksum", ns.cksum, recomputed(n, ICMPv6ND_NS))
    else:
        errs.append("no NS with a source link-layer option")
    print(json.dumps({"name": "requests", "errors": errs}))


if __name__ == "__main__":
    modes = {"build": build, "check": check, "requests": check_requests}
    if len(sys.argv) != 3 or sys.argv[1] not in modes:
        sys.exit(__doc__)
    modes[sys.argv[1]](sys.argv[2])
