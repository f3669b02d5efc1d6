#!/usr/bin/env python3
"""Inputs of scripts/bench-scale.sh: for one case, a gateway configuration
with one entry and one with ENTRIES entries, and a pcap of FRAMES frames for
each: the large one's frames go to every entry in a random order (each
destination once per ENTRIES frames), the small one's all to its one entry,
with the same sizes and flows, so the two runs differ in the table only.

    scale-bench-inputs.py CASE ENTRIES FRAMES REMOTES OUTDIR PREFIX MEMORY_MB [COUNTERS]

CASE: encap-l2 (static MACs of one segment), encap-l3 (IPv4 /32 routes),
decap (VNIs). COUNTERS: on (the default) or off, the gateways'
per-entry counters (`metrics.entry_counters`), both gateways alike.
Writes OUTDIR/CASE-{one,many}.{yaml,pcap}. Frames are
written with struct (scapy per frame would take minutes at a million).
With fewer frames than entries, the frames' destinations are a random
sample of the whole table, each once.

Addresses: underlay and remote VTEPs in 198.18.0.0/15. The L3 case needs a
million distinct inner IPv4 destinations, more than 198.18.0.0/15 holds;
they come from 10.0.0.0/8 and exist only inside the pcap file, which
net_pcap replays into net_null in one process (never onto an interface).
"""
import random
import struct
import sys

case, entries, frames, remotes, out, prefix, mem_mb = sys.argv[1:8]
counters = sys.argv[8] if len(sys.argv) > 8 else "on"
if counters not in ("on", "off"):
    sys.exit(f"COUNTERS is on or off, not {counters!r}")
entries, frames, remotes, mem_mb = int(entries), int(frames), int(remotes), int(mem_mb)
rng = random.Random(0x5CA1E)


def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4(src, dst, payload_len, proto=17, df=False):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, 0, 0x4000 if df else 0,
                    64, proto, 0, src, dst)
    return h[:10] + struct.pack("!H", csum(h)) + h[12:]


def a4(s):
    return bytes(int(x) for x in s.split("."))


def inner_frame(dst_mac, dst_ip, flow):
    """A 64-byte Ethernet/IPv4/UDP frame (18 bytes of payload, 4 bytes FCS room)."""
    payload = b"x" * 18
    udp = struct.pack("!HHHH", 1024 + flow % 50000, 5001, 8 + len(payload), 0) + payload
    return (dst_mac + bytes.fromhex("02000000 0a01".replace(" ", "")) + b"\x08\x00"
            + ipv4(a4("198.18.200.1"), dst_ip, len(udp)) + udp)


def geneve_frame(vni, inner, flow):
    gen = struct.pack("!BBH", 0, 0, 0x6558) + struct.pack("!I", vni << 8)
    udp = struct.pack("!HHHH", 49152 + flow % 16384, 6081, 8 + len(gen) + len(inner), 0) + gen + inner
    return (bytes.fromhex("020000000101") + bytes.fromhex("020000000002") + b"\x08\x00"
            + ipv4(a4("198.18.0.2"), a4("198.18.0.1"), len(udp), df=True) + udp)


def write_pcap(path, frames_iter):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        rec = struct.Struct("<IIII")
        for i, fr in enumerate(frames_iter):
            f.write(rec.pack(i // 1000000, i % 1000000, len(fr), len(fr)))
            f.write(fr)


def remote(k):
    k %= remotes
    return "198.19.%d.%d" % (k // 250, 1 + k % 250)


def mac(i):
    return bytes([0x02, 0x10]) + struct.pack("!I", i)


def mac_text(i):
    return ":".join("%02x" % b for b in mac(i))


def head(mbufs):
    return f"""eal:
  cores: [1]
  control_core: 0
  memory: {{ mode: no_huge, size_mb: {mem_mb} }}
  devices: {{ vdev: [ "{{UL}}", "{{ACC}}" ] }}
  file_prefix: {prefix}
  args: [--no-pci, --no-shconf]
ports:
  - {{ name: ul, role: underlay, device: {{ULDEV}}, mtu: 1500, mac: "02:00:00:00:01:01" }}
  - {{ name: acc, role: access, device: {{ACCDEV}}, mtu: 1400 }}
vtep:
  ipv4: 198.18.0.1/24
  next_hops: [ {{ via: 198.18.0.2, mac: "02:00:00:00:00:02", destinations: [198.19.0.0/16] }} ]
limits: {{ mbufs: {mbufs} }}
""" + ("metrics: { entry_counters: false }\n" if counters == "off" else "")


def config(n, pcap):
    mbufs = frames + 16384
    if case.startswith("encap"):
        ul, acc = "net_null0,no-rx=1", f"net_pcap0,rx_pcap={pcap},infinite_rx=1"
    else:
        ul, acc = f"net_pcap0,rx_pcap={pcap},infinite_rx=1", "net_null0,no-rx=1"
    h = (head(mbufs).replace("{UL}", ul).replace("{ACC}", acc)
         .replace("{ULDEV}", ul.split(",")[0]).replace("{ACCDEV}", acc.split(",")[0]))
    lines = [h]
    if case == "encap-l2":
        lines.append("l2:\n  learning: false\n  segments:\n    - port: acc\n      vni: 100\n      flood: []\n      static_macs:\n")
        lines.extend(f'        - {{ mac: "{mac_text(i)}", remote: {remote(i)} }}\n' for i in range(n))
    elif case == "encap-l3":
        t = min(n, remotes)
        lines.append("tunnels:\n")
        lines.extend(f"  - {{ name: t{k}, remote: {remote(k)}, vni: 100 }}\n" for k in range(t))
        lines.append('l3:\n  access: { port: acc, ipv4: 198.18.200.254/24, next_hop_mac: "02:00:00:00:0a:01" }\n  routes:\n')
        lines.extend(f"    - {{ prefix: 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/32, tunnel: t{i % t} }}\n" for i in range(n))
    else:
        lines.append("decap:\n")
        lines.extend(f"  - {{ vni: {1000 + i}, port: acc }}\n" for i in range(n))
    return "".join(lines)


def frame_for(dest, flow):
    if case == "encap-l2":
        return inner_frame(mac(dest), a4("198.19.0.1"), flow)
    if case == "encap-l3":
        return inner_frame(bytes.fromhex("02000000 0c01".replace(" ", "")),
                           bytes([10, dest >> 16 & 255, dest >> 8 & 255, dest & 255]), flow)
    inner = inner_frame(bytes.fromhex("020000000b01"), a4("198.19.0.1"), flow)
    return geneve_frame(1000 + dest, inner, flow)


def order():
    """Every destination once per `entries` frames, each round shuffled."""
    out = []
    while len(out) < frames:
        r = list(range(entries))
        rng.shuffle(r)
        out.extend(r)
    return out[:frames]


for kind, n in (("one", 1), ("many", entries)):
    pcap = f"{out}/{case}-{kind}.pcap"
    dests = order() if kind == "many" else [0] * frames
    write_pcap(pcap, (frame_for(d, i) for i, d in enumerate(dests)))
    with open(f"{out}/{case}-{kind}.yaml", "w") as f:
        f.write(config(n, pcap))
