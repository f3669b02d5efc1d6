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
    rm -f "$f"
}
for n in $SIZES; do
    measure l3 "$n" --tunnels "$n" --routes4 "$n" --routes6 $((n / 4))
    measure l2 "$n" --macs "$n" --tunnels 4096 --segments 64
done
for n in ${DECAP_SIZES:-10000 65536}; do
    measure decap "$n" --vnis "$n" --tunnels 0
done
echo "wrote $CSV" >&2
