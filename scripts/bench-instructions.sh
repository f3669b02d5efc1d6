#!/usr/bin/env bash
# Instructions per packet on the gateway's worker, PMDs included, for every
# benchmark case (scripts/bench-cases.sh), counted by callgrind: an exact
# figure a busy host cannot move, unlike the wall-clock ratios of
# scripts/bench.sh. Needs no quiet host and no hugepages.
#
#   scripts/bench-instructions.sh                      # every case
#   CASES="encap-ipv4 decap-ipv4" scripts/bench-instructions.sh
#   GW=/tmp/old/geneve-gw scripts/bench-instructions.sh  # another build, same cases
#
# Per case: `valgrind --tool=callgrind --fair-sched=yes
# --toggle-collect='*GatewayWorker*run*' geneve-gw run -c CFG
# --stop-after-packets N` (memory no_huge, --no-shconf), then the
# instructions collected inside the worker loop divided by the packets the
# gateway received. Prints `case instructions_per_packet` and writes
# bench-results/instructions.csv.
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

CSV="$OUT/instructions.csv"
echo "case,impl,instructions_per_packet" >"$CSV"
export BENCH_NO_HUGE=1
for c in $CASES; do
    cfg="$W/$c.yaml"
    bench_config "$c" "$(bench_pcap_for "$c")" "bench-ir-$$" >"$cfg"
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
    per=$(python3 -c 'import sys; print("%.1f" % (int(sys.argv[1]) / int(sys.argv[2])))' "$ir" "$rx")
    printf '%-18s %8s instructions per packet (%s instructions, %s packets)\n' "$c" "$per" "$ir" "$rx"
    echo "$c,geneve-gw,$per" >>"$CSV"
done
rm -rf /var/run/dpdk/bench-ir-"$$"
echo "wrote $CSV" >&2
