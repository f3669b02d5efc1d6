#!/usr/bin/env bash
# geneve-gw forward vs dpdk-testpmd --forward-mode=io on the same virtual
# devices, cores, memory mode and burst size, back to back, 3 runs each.
# Prints the median Mpps of each, the ratio of the medians and the median of
# the per-run (back-to-back) ratios. Target: ratio >= 0.97.
#
#   scripts/bench-forward.sh            # both beds
#   RUNS=5 SECONDS_PER_RUN=8 scripts/bench-forward.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

RUNS="${RUNS:-3}"
SECS="${SECONDS_PER_RUN:-6}"
CORES="${CORES:-0-1}"
bash scripts/setup.sh >/dev/null 2>&1
cargo build --release --quiet
GW=target/release/geneve-gw
OUT="${BENCH_OUT:-bench-results}"
mkdir -p "$OUT"
PCAP="$OUT/forward-64B.pcap"

# 64-byte frames over 1024 flows, the replay source for the pcap bed.
python3 - "$PCAP" <<'PY'
import sys
from scapy.all import Ether, IP, UDP, Raw, wrpcap
pk = [Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
      / IP(src="198.18.0.1", dst="198.19.%d.%d" % (i // 200, i % 200 + 1))
      / UDP(sport=1024 + i, dport=5001) / Raw(b"x" * 18) for i in range(1024)]
wrpcap(sys.argv[1], pk)
PY

# Median per-second RX rate (all ports summed), first second dropped.
median_rate() {
    python3 -c '
import re, statistics, sys
mode, text = sys.argv[1], sys.stdin.read()
rates = []
if mode == "testpmd":
    block = None
    for line in text.splitlines():
        if "Port statistics" in line:
            if block is not None: rates.append(block)
            block = 0.0
        m = re.search(r"Rx-pps:\s+(\d+)", line)
        if m and block is not None: block += float(m.group(1))
    if block is not None: rates.append(block)
else:
    unit = {"Mpps": 1e6, "kpps": 1e3, "pps": 1.0}
    for line in text.splitlines():
        if not line.startswith("port 0: rx"): continue
        tot = 0.0
        for v, u in re.findall(r"rx ([\d.]+) (Mpps|kpps|pps)", line):
            tot += float(v) * unit[u]
        rates.append(tot)
rates = [r for r in rates[2:] if r > 0] or [0.0]
print("%.3f" % (statistics.median(rates) / 1e6))
' "$1"
}

run_testpmd() { # bed prefix vdevs...
    local prefix="$1"; shift
    # shellcheck disable=SC2046
    timeout -s INT "$((SECS + 2))" dpdk-testpmd -l "$CORES" --no-pci $(eal_mem_args "$prefix") "$@" \
        -- --forward-mode=io --auto-start --stats-period 1 --burst=32 --rxd=1024 --txd=1024 \
        >"$OUT/last-testpmd.log" 2>&1 </dev/null || true
    median_rate testpmd <"$OUT/last-testpmd.log"
}

run_gw() { # prefix vdevs...
    local prefix="$1"; shift
    # shellcheck disable=SC2046
    timeout -s INT "$((SECS + 2))" "$GW" forward --stats-interval 1 --rxd 1024 --txd 1024 \
        -- -l "$CORES" --no-pci $(eal_mem_args "$prefix") "$@" >"$OUT/last-gw.log" 2>&1 </dev/null || true
    median_rate gw <"$OUT/last-gw.log"
}

median() { python3 -c 'import statistics,sys; print("%.3f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

bench_bed() { # name vdev-args...
    local name="$1"; shift
    local tp=() gw=() ratios=()
    for i in $(seq 1 "$RUNS"); do
        tp+=("$(run_testpmd "bench-tp-$$" "$@")")
        gw+=("$(run_gw "bench-gw-$$" "$@")")
        ratios+=("$(python3 -c 'import sys; t,g=map(float,sys.argv[1:]); print("%.3f" % (g/t if t else 0))' "${tp[-1]}" "${gw[-1]}")")
        echo "  $name run $i: testpmd io ${tp[-1]} Mpps, geneve-gw forward ${gw[-1]} Mpps, ratio ${ratios[-1]}" >&2
    done
    # Runs alternate, so each ratio compares two neighbours in time: the
    # median of those ratios is steadier on a shared machine than the ratio
    # of the medians (both are printed).
    printf '%-26s %10s %12s %8s %8s\n' "$name" "$(median "${tp[@]}")" "$(median "${gw[@]}")" \
        "$(python3 -c 'import sys; t,g=map(float,sys.argv[1:]); print("%.3f" % (g/t if t else 0))' "$(median "${tp[@]}")" "$(median "${gw[@]}")")" \
        "$(median "${ratios[@]}")"
}

echo "bench-forward: $RUNS runs x ${SECS}s per implementation, cores $CORES, $(eal_mem_args x | grep -q no-huge && echo no-huge || echo hugepages)" >&2
printf '%-26s %10s %12s %8s %8s\n' "bed (median Mpps)" "testpmd io" "geneve-gw" "ratio" "pairwise"
bench_bed "net_null pair" --vdev net_null0 --vdev net_null1
bench_bed "pcap infinite -> null" --vdev "net_pcap0,rx_pcap=$PCAP,infinite_rx=1" --vdev net_null1,no-rx=1
