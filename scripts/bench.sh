#!/usr/bin/env bash
# Gateway benchmark, side by side with dpdk-testpmd on the same virtual
# devices (net_pcap,infinite_rx=1 holding valid input for the case -> net_null
# sink), same cores, same memory mode, back to back, RUNS runs each.
#
# Prints a table (median Mpps, TSC cycles per packet, ratio to testpmd io,
# cycles added over testpmd io) and writes bench-results/latest.csv with the
# columns case,impl,mpps,cycles_per_packet,ratio_to_testpmd_io,
# instructions_per_packet. The last column is exact and needs no quiet
# host: scripts/bench-instructions.sh with TESTPMD=1 (callgrind, the
# worker's instructions per packet, PMDs included, and dpdk-testpmd io's on
# the same input). Then (as root)
# scripts/bench-ovs.sh adds the OVS-DPDK comparison on the memif bed (rows
# *-memif, latency in bench-results/latency.csv; WITH_OVS=0 skips it), and
# scripts/bench-chart.sh draws bench-results/latest.png.
#
#   scripts/bench.sh                 # every case, 3 runs of 6 s each
#   RUNS=5 SECONDS_PER_RUN=8 CASES="encap-ipv4 decap-ipv4" scripts/bench.sh
#   GW_BASE=/tmp/before/geneve-gw WITH_OVS=0 scripts/bench.sh  # a second build, back to back
#   scripts/bench.sh --instructions  # only the callgrind part (any host); the
#                                    # wall-clock columns of latest.csv stay
#   scripts/bench.sh scale           # one table entry vs a million (scripts/bench-scale.sh)
#
# With GW_BASE, every run also measures that binary right after geneve-gw
# (rows `geneve-gw-base`): a before/after comparison measured in one run.
# Every run also measures geneve-gw with `metrics.entry_counters: false`
# right after it (rows `geneve-gw-no-entry-counters`): what the per-tunnel
# and per-VNI counters cost, side by side (ENTRY_COUNTERS=on skips them).
#
# Cycles per packet = TSC Hz / packets per second of the one busy-polling
# worker core: the same measure for testpmd and geneve-gw.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = scale ]; then
    shift
    exec bash scripts/bench-scale.sh "$@"
fi
. scripts/lib.sh
. scripts/bench-cases.sh

INSTRUCTIONS_ONLY=0
for a in "$@"; do
    case "$a" in
        --instructions) INSTRUCTIONS_ONLY=1 ;;
        *) echo "usage: scripts/bench.sh [--instructions | scale]" >&2; exit 2 ;;
    esac
done

# DPDK 22.11 leaves a runtime directory per file prefix (ours end in $$).
trap 'rm -rf /var/run/dpdk/bench-gw-"$$" /var/run/dpdk/bench-tp-"$$"' EXIT

RUNS="${RUNS:-3}"
SECS="${SECONDS_PER_RUN:-6}"
CASES="${CASES:-$BENCH_CASES_ALL}"
OUT="${BENCH_OUT:-bench-results}"
bash scripts/setup.sh >/dev/null 2>&1
cargo build --release --quiet
GW="${GW:-${CARGO_TARGET_DIR:-target}/release/geneve-gw}"
mkdir -p "$OUT"
CSV="$OUT/latest.csv"

# The instruction counts (scripts/bench-instructions.sh, which writes
# instructions.csv) merged into latest.csv: a row per case and impl keeps
# its wall-clock columns (empty for a row the wall-clock part has not
# measured) and gets instructions_per_packet.
instructions() {
    SKIP_SETUP=1 TESTPMD=1 GW="$GW" BENCH_OUT="$OUT" CASES="$CASES" bash scripts/bench-instructions.sh
    python3 - "$CSV" "$OUT/instructions.csv" <<'PY'
import csv, os, sys
latest, ir = sys.argv[1], sys.argv[2]
cols = ["case", "impl", "mpps", "cycles_per_packet", "ratio_to_testpmd_io", "instructions_per_packet"]
rows = []
if os.path.exists(latest):
    with open(latest) as f:
        rows = [dict(r) for r in csv.DictReader(f)]
index = {(r["case"], r["impl"]): r for r in rows}
with open(ir) as f:
    for r in csv.DictReader(f):
        key = (r["case"], r["impl"])
        if key not in index:
            index[key] = {"case": key[0], "impl": key[1]}
            rows.append(index[key])
        index[key]["instructions_per_packet"] = r["instructions_per_packet"]
with open(latest, "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore", restval="")
    w.writeheader()
    w.writerows(rows)
PY
    echo "instructions per packet merged into $CSV" >&2
}
if [ "$INSTRUCTIONS_ONLY" = 1 ]; then
    instructions
    exit 0
fi
W="$OUT/work"
mkdir -p "$W"

# TSC frequency as DPDK measures it (printed by the EAL at -v).
TSC_HZ=$(python3 - <<'PY'
import re
for l in open("/proc/cpuinfo"):
    m = re.match(r"cpu MHz\s*:\s*([\d.]+)", l)
    if m:
        print(int(float(m.group(1)) * 1e6)); break
PY
)

bench_inputs

# median of the per-second rates (first two dropped), in Mpps
rate_testpmd() {
    python3 -c '
import re, statistics, sys
rates, block = [], None
for line in sys.stdin:
    if "Port statistics" in line:
        if block is not None: rates.append(block)
        block = 0.0
    m = re.search(r"Tx-pps:\s+(\d+)", line)
    if m and block is not None: block += float(m.group(1))
if block is not None: rates.append(block)
rates = [r for r in rates[2:] if r > 0] or [0.0]
print("%.3f" % (statistics.median(rates) / 1e6))'
}
run_testpmd() { # mode pcap
    # shellcheck disable=SC2046
    timeout -s INT "$((SECS + 2))" dpdk-testpmd -l 0-1 --no-pci $(eal_mem_args "bench-tp-$$") \
        --vdev "net_pcap0,rx_pcap=$2,infinite_rx=1" --vdev net_null1,no-rx=1 \
        -- --forward-mode="$1" --auto-start --stats-period 1 --burst=32 --rxd=1024 --txd=1024 \
        >"$W/testpmd.log" 2>&1 </dev/null || true
    rate_testpmd <"$W/testpmd.log"
}

run_gw() { # case [binary] [off: metrics.entry_counters: false]
    local cfg="$W/$1.yaml"
    bench_config "$1" "$(bench_pcap_for "$1")" "bench-gw-$$" >"$cfg"
    [ "${3:-}" = off ] && printf 'metrics:\n  entry_counters: false\n' >>"$cfg"
    timeout -s INT "$((SECS + 2))" "${2:-$GW}" run -c "$cfg" --stats-interval 1 >"$W/gw.log" 2>&1 </dev/null || true
    # Stitched frames leave encapsulated: their rate is the encap rate.
    case "$1" in encap-*|*-to-*) rate_gw encap ;; *) rate_gw decap ;; esac <"$W/gw.log"
}

median() { python3 -c 'import statistics,sys; print("%.3f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
cycles() { python3 -c 'import sys; hz,m=float(sys.argv[1]),float(sys.argv[2]); print("%.1f" % (hz/(m*1e6)) if m else "nan")' "$TSC_HZ" "$1"; }

echo "case,impl,mpps,cycles_per_packet,ratio_to_testpmd_io,instructions_per_packet" >"$CSV"
printf '%-18s %-14s %8s %8s %8s %8s\n' case impl Mpps cyc/pkt ratio +cycles
for c in $CASES; do
    io=() ms=() gw=() base=() nc=()
    impls="testpmd-io testpmd-macswap geneve-gw"
    for i in $(seq 1 "$RUNS"); do
        io+=("$(run_testpmd io "$(bench_pcap_for "$c")")")
        ms+=("$(run_testpmd macswap "$(bench_pcap_for "$c")")")
        gw+=("$(run_gw "$c")")
        msg="  $c run $i: testpmd io ${io[-1]}, macswap ${ms[-1]}, geneve-gw ${gw[-1]} Mpps"
        if [ "${ENTRY_COUNTERS:-on off}" != on ]; then
            nc+=("$(run_gw "$c" "$GW" off)")
            msg="$msg, without entry counters ${nc[-1]} Mpps"
            impls="testpmd-io testpmd-macswap geneve-gw geneve-gw-no-entry-counters"
        fi
        if [ -n "${GW_BASE:-}" ]; then
            base+=("$(run_gw "$c" "$GW_BASE")")
            msg="$msg, geneve-gw-base ${base[-1]} Mpps"
            impls="$impls geneve-gw-base"
        fi
        echo "$msg" >&2
    done
    mio=$(median "${io[@]}"); cio=$(cycles "$mio")
    for impl in $impls; do
        case $impl in
            testpmd-io) m=$mio ;;
            testpmd-macswap) m=$(median "${ms[@]}") ;;
            geneve-gw) m=$(median "${gw[@]}") ;;
            geneve-gw-base) m=$(median "${base[@]}") ;;
            geneve-gw-no-entry-counters) m=$(median "${nc[@]}") ;;
        esac
        cy=$(cycles "$m")
        ratio=$(python3 -c 'import sys; a,b=map(float,sys.argv[1:]); print("%.3f" % (a/b if b else 0))' "$m" "$mio")
        added=$(python3 -c 'import sys; a,b=sys.argv[1:]; print("%.1f" % (float(a)-float(b)) if "nan" not in (a,b) else "nan")' "$cy" "$cio")
        printf '%-18s %-14s %8s %8s %8s %8s\n' "$c" "$impl" "$m" "$cy" "$ratio" "$added"
        echo "$c,$impl,$m,$cy,$ratio," >>"$CSV"
    done
done
echo "wrote $CSV (TSC $TSC_HZ Hz)" >&2
instructions

# OVS-DPDK vs geneve-gw on the memif bed (needs root), then the chart.
if [ "${WITH_OVS:-1}" = 1 ] && [ "$(id -u)" -eq 0 ]; then
    SKIP_SETUP=1 SKIP_BUILD=1 BENCH_OUT="$OUT" RUNS="$RUNS" SECONDS_PER_RUN="$SECS" bash scripts/bench-ovs.sh
fi
bash scripts/bench-chart.sh "$CSV" "${CSV%.csv}.png"
