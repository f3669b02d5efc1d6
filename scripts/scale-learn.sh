#!/usr/bin/env bash
# MAC learning at scale: N distinct inner source MACs (default 1,000,000)
# in decapsulated Geneve traffic, fed PASSES times (default 40) through a
# FIFO into the underlay port (net_pcap; the access port is net_null), with
# limits.mac_table_size N. Reports how long after the start the MAC table
# was full (the gateway logs it once), the learning events the full queue
# refused (counted, the next packet of the MAC asks again), packet drops
# (must be 0) and the control loop's slowest turn.
#
#   scripts/scale-learn.sh
#   N=100000 PASSES=10 AGEING=5 scripts/scale-learn.sh    # ageing on, 5 s
#
# Needs python3 (standard library) and mkfifo; no hugepages (--no-huge).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-1000000}"
PASSES="${PASSES:-40}"
AGEING="${AGEING:-300}"
LIMIT="${LIMIT:-90}"
W="${BENCH_OUT:-bench-results}/work-scale-learn"
mkdir -p "$W"
if [ -z "${GW:-}" ]; then
    cargo build --release --quiet
    GW="${CARGO_TARGET_DIR:-target}/release/geneve-gw"
fi
W="$(cd "$W" && pwd)"
python3 - "$W/learn.pcap" "$N" <<'PY'
# N Geneve packets 198.18.0.2 -> 198.18.0.1, VNI 100, Ethernet payload;
# every inner source MAC different (02:5e:NN:NN:NN:NN).
import struct, sys
path, n = sys.argv[1], int(sys.argv[2])
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
tail = b"\x08\x00" + bytes.fromhex("45000014000100004011") + b"\x00\x00" + bytes([198, 19, 0, 1, 198, 19, 0, 2])
gen = bytes.fromhex("0000655800006400")
udp_len = 8 + len(gen) + 12 + len(tail)
ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 0, 0, 64, 17, 0,
                           bytes([198, 18, 0, 2]), bytes([198, 18, 0, 1])))
ip[10:12] = struct.pack("!H", csum(bytes(ip)))
outer = (bytes.fromhex("020000000101020000000002") + b"\x08\x00" + bytes(ip)
         + struct.pack("!HHHH", 49152, 6081, udp_len, 0) + gen)
with open(path, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i in range(n):
        p = outer + bytes.fromhex("020000000b01") + b"\x02\x5e" + struct.pack("!I", i) + tail
        f.write(struct.pack("<IIII", 0, 0, len(p), len(p)) + p)
PY
rm -f "$W/learn.fifo" && mkfifo "$W/learn.fifo"
cat >"$W/gw.yaml" <<YAML
eal: { cores: [1], control_core: 0, memory: { mode: no_huge, size_mb: 512 }, args: [--no-shconf, --no-pci], file_prefix: scale-learn-$$, devices: { vdev: ["net_pcap0,rx_pcap=$W/learn.fifo", "net_null1,no-rx=1"] } }
ports:
  - { name: ul, role: underlay, device: net_pcap0, mac: "02:00:00:00:01:01" }
  - { name: acc, role: access, device: net_null1 }
vtep:
  ipv4: 198.18.0.1/24
  next_hops:
    - { via: 198.18.0.2, mac: "02:00:00:00:00:02", destinations: [198.18.0.2/32] }
l2:
  learning: true
  ageing_seconds: $AGEING
  segments:
    - { port: acc, vni: 100, flood: [198.18.0.2] }
limits: { mac_table_size: $N }
YAML
# The feeder: the pcap's records PASSES times after one header.
python3 - "$W/learn.pcap" "$W/learn.fifo" "$PASSES" <<'PY' &
import sys
data = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "wb") as f:
    f.write(data[:24])
    for _ in range(int(sys.argv[3])):
        try:
            f.write(data[24:])
        except BrokenPipeError:
            break
PY
FEED=$!
"$GW" run -c "$W/gw.yaml" >"$W/run.out" 2>"$W/run.err" &
GP=$!
for _ in $(seq 1 "$LIMIT"); do
    sleep 1
    grep -q "MAC table full" "$W/run.err" && break
    kill -0 "$GP" 2>/dev/null || break
    kill -0 "$FEED" 2>/dev/null || break
done
[ "$AGEING" -lt 300 ] && sleep $((AGEING * 3))
kill -INT "$GP" 2>/dev/null || true
wait "$GP" || true
kill "$FEED" 2>/dev/null || true
wait "$FEED" 2>/dev/null || true
grep -E "MAC table full" "$W/run.err" || echo "MAC table not full: $(grep 'learned macs' "$W/run.out")"
grep -E "^decap |learned macs|macs aged|event queue full|drops total|slowest turn" "$W/run.out"
rm -f "$W/learn.fifo"
