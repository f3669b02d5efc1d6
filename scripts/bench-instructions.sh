#!/usr/bin/env bash
# Instructions per packet on the gateway's worker, PMDs included, for every
# benchmark case (scripts/bench-cases.sh), counted by callgrind: an exact
# figure a busy host cannot move, unlike the wall-clock ratios of
# scripts/bench.sh. Needs no quiet host and no hugepages.
#
#   scripts/bench-instructions.sh                      # every case
#   CASES="encap-ipv4 decap-ipv4" scripts/bench-instructions.sh
#   GW=/tmp/old/geneve-gw scripts/bench-instructions.sh  # another build, same cases
#   TESTPMD=1 scripts/bench-instructions.sh            # and dpdk-testpmd io per case
#   ENTRY_COUNTERS=on scripts/bench-instructions.sh     # skip the no-counters runs
#
# Every encap and decap case (stitching included) runs twice, side by
# side: as configured (per-tunnel and per-VNI counters on), then with
# `metrics.entry_counters: false` appended to its configuration (impl
# `geneve-gw-no-entry-counters`): what the per-entry counters cost, in one
# run. ENTRY_COUNTERS="on" (or "off") runs one of the two only; "on" for a
# build older than the switch.
#
# Per case: `valgrind --tool=callgrind --fair-sched=yes
# --toggle-collect='*GatewayWorker*run*' geneve-gw run -c CFG
# --stop-after-packets N` (memory no_huge, --no-shconf), then the
# instructions collected inside the worker loop divided by the packets the
# gateway received. Prints `case instructions_per_packet` and writes
# bench-results/instructions.csv (case,impl,instructions_per_packet).
#
# With TESTPMD=1 (what `scripts/bench.sh --instructions` sets), also
# dpdk-testpmd io on the case's input, same vdevs and memory mode:
# `valgrind --tool=callgrind --separate-threads=yes`, the forwarding
# thread's instructions (the busiest thread) divided by the packets it
# forwarded. Its count depends only on the input file, so cases that share
# one share the run.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. scripts/bench-cases.sh

PACKETS="${PACKETS:-1000000}"
CASES="${CASES:-$BENCH_CASES_ALL}"
OUT="${BENCH_OUT:-bench-results}"
[ "${SKIP_SETUP:-0}" = 1 ] || bash scripts/setup.sh >/dev/null 2>&1
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
if [ -z "${GW:-}" ]; then
    cargo build --release --quiet
    GW="${CARGO_TARGET_DIR:-target}/release/geneve-gw"
fi
W="$OUT/work-instructions"
mkdir -p "$W"
bench_inputs

# dpdk-testpmd io under callgrind on $1 (a pcap): instructions per packet of
# the forwarding thread. SIGINT after TESTPMD_SECONDS (startup under
# valgrind takes about 15 of them).
testpmd_ir() {
    local pcap="$1" log="$W/testpmd-ir.log"
    rm -f "$W"/callgrind.tp.out*
    timeout -s INT "${TESTPMD_SECONDS:-30}" valgrind --tool=callgrind --separate-threads=yes \
        --fair-sched=yes --callgrind-out-file="$W/callgrind.tp.out" \
        dpdk-testpmd -l 0-1 --no-pci --no-huge --no-shconf -m 1024 --file-prefix "bench-tp-ir-$$" \
        --vdev "net_pcap0,rx_pcap=$pcap,infinite_rx=1" --vdev net_null1,no-rx=1 \
        -- --forward-mode=io --auto-start --stats-period 5 --burst=32 --rxd=1024 --txd=1024 \
        --total-num-mbufs=16384 >"$log" 2>&1 </dev/null || true
    python3 - "$log" "$W"/callgrind.tp.out-* <<'PY'
import re, sys
log = open(sys.argv[1]).read()
m = re.findall(r"Accumulated forward statistics.*?TX-packets:\s+(\d+)", log, re.S)
best = 0
for f in sys.argv[2:]:
    for line in open(f):
        if line.startswith("summary:") or line.startswith("totals:"):
            best = max(best, int(line.split()[1]))
            break
tx = int(m[-1]) if m else 0
print("%.1f" % (best / tx) if tx and best else "")
PY
}

CSV="$OUT/instructions.csv"
declare -A TP_IR=()
echo "case,impl,instructions_per_packet" >"$CSV"
export BENCH_NO_HUGE=1
for c in $CASES; do
  modes="${ENTRY_COUNTERS:-on off}"
  case "$c" in encap-*|decap-*|*-to-*) ;; *) modes=on ;; esac
  for counters in $modes; do
    cfg="$W/$c.yaml"
    bench_config "$c" "$(bench_pcap_for "$c")" "bench-ir-$$" >"$cfg"
    impl=geneve-gw note=""
    if [ "$counters" = off ]; then
        printf 'metrics:\n  entry_counters: false\n' >>"$cfg"
        impl=geneve-gw-no-entry-counters note=", entry_counters: false"
    fi
    rm -f "$W/callgrind.out"
    valgrind --tool=callgrind --fair-sched=yes --toggle-collect='*GatewayWorker*run*' \
        --callgrind-out-file="$W/callgrind.out" \
        "$GW" run -c "$cfg" --stop-after-packets "$PACKETS" >"$W/$c.log" 2>&1 </dev/null || {
        echo "$c: geneve-gw failed under valgrind, see $W/$c.log" >&2; exit 1; }
    ir=$(callgrind_annotate "$W/callgrind.out" 2>/dev/null | awk '/PROGRAM TOTALS/ && !n++ { gsub(",", "", $1); print $1 }')
    # Packets the worker received: the underlay port's rx for decap, the access port's for encap.
    case "$c" in encap-*) port=acc ;; *) port=ul ;; esac
    rx=$(awk -v p="($port):" '$1 == "port" && $3 == p { for (i = 3; i <= NF; i++) if ($i == "rx") { print $(i + 1); exit } }' "$W/$c.log")
    if [ -z "$ir" ] || [ -z "$rx" ] || [ "$rx" = 0 ]; then
        echo "$c: no instruction total or rx count, see $W/$c.log" >&2; exit 1
    fi
    # A case whose packets are dropped measures the drop, not the path.
    drops=$(awk '$1 == "drops" && $2 == "total" { print $3; exit }' "$W/$c.log")
    if [ "${drops:-1}" != 0 ]; then
        echo "$c: the gateway dropped $drops packets, see $W/$c.log" >&2; exit 1
    fi
    per=$(python3 -c 'import sys; print("%.1f" % (int(sys.argv[1]) / int(sys.argv[2])))' "$ir" "$rx")
    printf '%-18s %8s instructions per packet (%s instructions, %s packets%s)\n' "$c" "$per" "$ir" "$rx" "$note"
    echo "$c,$impl,$per" >>"$CSV"
  done
    if [ "${TESTPMD:-0}" = 1 ]; then
        pcap="$(bench_pcap_for "$c")"
        [ -n "${TP_IR[$pcap]:-}" ] || TP_IR[$pcap]="$(testpmd_ir "$pcap")"
        [ -n "${TP_IR[$pcap]}" ] || { echo "$c: no testpmd instruction count, see $W/testpmd-ir.log" >&2; exit 1; }
        printf '%-18s %8s instructions per packet (dpdk-testpmd io, same input)\n' "$c" "${TP_IR[$pcap]}"
        echo "$c,testpmd-io,${TP_IR[$pcap]}" >>"$CSV"
    fi
done
rm -rf /var/run/dpdk/bench-ir-"$$" /var/run/dpdk/bench-tp-ir-"$$"
echo "wrote $CSV" >&2
