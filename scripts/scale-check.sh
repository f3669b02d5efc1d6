#!/usr/bin/env bash
# `geneve-gw check` at scale: wall time and peak resident memory for
# configurations written by scripts/scale-config.py (L3 tunnels + IPv4 +
# IPv6 routes, L2 static MACs, decap VNIs), one line per file.
#
#   scripts/scale-check.sh                     # 10k, 100k and 1M (decap: 10k, 65,536)
#   SIZES="10000 100000" scripts/scale-check.sh
#   GW=/tmp/old/geneve-gw scripts/scale-check.sh   # another build
#
# Prints `mode size seconds max_rss_MB file_MB result` and writes
# bench-results/scale-check.csv. Needs python3 and GNU time (/usr/bin/time).
#
# STARTUP=1 also starts `geneve-gw run` on each L3 and L2 file (net_null
# ports, --no-huge, its own --file-prefix) and reports the seconds until it
# says it is running and its peak resident memory then (VmHWM; the mbuf
# pool is part of it), then stops it with SIGINT (after STARTUP_TIMEOUT
# seconds, default 300, if it never says so).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES="${SIZES:-10000 100000 1000000}"
OUT="${BENCH_OUT:-bench-results}"
W="$OUT/work-scale"
mkdir -p "$W"
[ -x /usr/bin/time ] || { echo "GNU time is needed (apt-get install time)" >&2; exit 1; }
if [ -z "${GW:-}" ]; then
    cargo build --release --quiet
    GW="${CARGO_TARGET_DIR:-target}/release/geneve-gw"
fi
CSV="$OUT/scale-check.csv"
echo "mode,size,seconds,max_rss_mb,file_mb,result" >"$CSV"
measure() { # mode size generator-args...
    local mode="$1" size="$2"; shift 2
    local f="$W/$mode-$size.yaml"
    python3 scripts/scale-config.py --mode "$mode" "$@" -o "$f"
    local t rc=0
    /usr/bin/time -o "$W/time" -f '%e %M' "$GW" check -c "$f" >/dev/null 2>"$W/err" || rc=$?
    t=$(tail -1 "$W/time")
    local s=${t% *} kb=${t#* } mb
    mb=$(python3 -c 'import os, sys; print(round(os.path.getsize(sys.argv[1]) / 2**20))' "$f")
    local res=ok; [ "$rc" = 0 ] || res="exit $rc: $(head -1 "$W/err")"
    printf '%-6s %8s %7ss %6d MB rss  %5d MB file  %s\n' "$mode" "$size" "$s" $((kb / 1024)) "$mb" "$res"
    echo "$mode,$size,$s,$((kb / 1024)),$mb,$res" >>"$CSV"
    if [ "${STARTUP:-0}" = 1 ] && [ "$mode" != decap ]; then startup "$mode" "$size" "$f"; fi
    rm -f "$f"
}
startup() { # mode size file
    local log="$W/run-$1-$2.log" pid t0 t1 hwm=0 line=""
    rm -f "$log"
    t0=$(date +%s.%N)
    "$GW" run -c "$3" -- --file-prefix "scale-$$" >"$log" 2>&1 &
    pid=$!
    local deadline=$(( $(date +%s) + ${STARTUP_TIMEOUT:-300} ))
    while kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do
        line=$(grep -m1 "running with" "$log" || true)
        [ -n "$line" ] && break
        sleep 0.05
    done
    t1=$(date +%s.%N)
    local secs
    secs=$(python3 -c 'import sys; print("%.2f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$t0" "$t1")
    [ -r "/proc/$pid/status" ] && hwm=$(awk '/VmHWM/ { print int($2 / 1024) }' "/proc/$pid/status")
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if [ -n "$line" ]; then
        printf '%-6s %8s run: running after %ss, %d MB rss (mbuf pool included)\n' "$1" "$2" "$secs" "$hwm"
        echo "$1-run,$2,$secs,$hwm,," >>"$CSV"
    else
        echo "$1 $2 run: not running after ${STARTUP_TIMEOUT:-300}s or failed, see $log" >&2
    fi
}
for n in $SIZES; do
    measure l3 "$n" --tunnels "$n" --routes4 "$n" --routes6 $((n / 4))
    measure l2 "$n" --macs "$n" --tunnels 4096 --segments 64
done
for n in ${DECAP_SIZES:-10000 65536}; do
    measure decap "$n" --vnis "$n" --tunnels 0
done
echo "wrote $CSV" >&2
