#!/usr/bin/env bash
# Saving the running configuration at scale: wall time and peak resident
# memory (GNU time) of
#   load      `geneve-gw check -c FILE`                 (read and validate)
#   save      `geneve-gw check -c FILE --emit SAVED`    (the same, then emit)
#   reload    `geneve-gw check -c SAVED`                (read the save back)
# for a file of ROUTES IPv4 routes over TUNNELS tunnels written by
# scripts/scale-config.py, and how many entries of the save the fast
# loading tier read itself (it reads every entry of a run but the first).
#
#   scripts/bench-save.sh                              # 1,000,000 routes, 100,000 tunnels
#   ROUTES=100000 TUNNELS=10000 scripts/bench-save.sh
#   GW=/path/to/geneve-gw scripts/bench-save.sh        # another build
#   RELOAD=1 scripts/bench-save.sh                     # and a SIGHUP reload
#
# RELOAD=1 also starts `geneve-gw run` on FILE (net_null ports, --no-huge,
# its own --file-prefix), puts the save in FILE's place (rename), sends
# SIGHUP, prints the gateway's reload line (read, validated and diffed in
# S s; the table changes: none, the save is the same configuration) and
# its peak resident memory (VmHWM) before and after, then stops it with
# SIGINT. Needs python3 and GNU time; writes bench-results/save.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ROUTES="${ROUTES:-1000000}"
TUNNELS="${TUNNELS:-100000}"
OUT="${BENCH_OUT:-bench-results}"
W="$OUT/work-save"
mkdir -p "$W"
[ -x /usr/bin/time ] || { echo "GNU time is needed (apt-get install time)" >&2; exit 1; }
if [ -z "${GW:-}" ]; then
    cargo build --release --quiet
    GW="${CARGO_TARGET_DIR:-target}/release/geneve-gw"
fi
F="$W/routes-$ROUTES.yaml"
S="$W/routes-$ROUTES.saved.yaml"
python3 scripts/scale-config.py --mode l3 --tunnels "$TUNNELS" --routes4 "$ROUTES" -o "$F"
CSV="$OUT/save.csv"
echo "step,routes,tunnels,seconds,user_seconds,max_rss_mb,file_mb" >"$CSV"
step() { # name file args...
    local name="$1" file="$2"; shift 2
    /usr/bin/time -o "$W/time" -f '%e %U %M' "$GW" "$@" >/dev/null 2>"$W/err" || {
        echo "$name failed: $(head -3 "$W/err")" >&2
        exit 1
    }
    local s u kb mb
    read -r s u kb < <(tail -1 "$W/time")
    mb=$(python3 -c 'import os, sys; print(round(os.path.getsize(sys.argv[1]) / 2**20))' "$file")
    printf '%-7s %8s routes %7ss (%ss user) %6d MB rss  %5d MB file\n' "$name" "$ROUTES" "$s" "$u" $((kb / 1024)) "$mb"
    echo "$name,$ROUTES,$TUNNELS,$s,$u,$((kb / 1024)),$mb" >>"$CSV"
}
step load "$F" check -c "$F"
step save "$S" check -c "$F" --emit "$S"
step reload "$S" check -c "$S"
# How much of the save the fast tier reads: every line of a run but the
# first, so (tunnels - 1) + (routes - 1) for this file.
lines=$(grep -c '^ *- { ' "$S" || true)
echo "save: $lines one-line entries (tunnels and routes: $((TUNNELS + ROUTES)))"

if [ "${RELOAD:-0}" = 1 ]; then
    log="$W/run.log"
    cp "$F" "$W/running.yaml"
    "$GW" run -c "$W/running.yaml" -- --file-prefix "bench-save-$$" >"$log" 2>&1 &
    pid=$!
    stop() { kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
    trap stop EXIT
    wait_log "$pid" "$log" "running with" "run did not start"
    before=$(hwm_mb "$pid")
    cp "$S" "$W/running.yaml.new" && mv "$W/running.yaml.new" "$W/running.yaml"
    kill -HUP "$pid"
    wait_log "$pid" "$log" "^reload(:| refused)" "no reload line"
    after=$(hwm_mb "$pid")
    grep -m1 -E "^reload(:| refused)" "$log"
    echo "run: peak RSS ${before} MB after start, ${after} MB after the reload"
    echo "run-reload,$ROUTES,$TUNNELS,,,$after," >>"$CSV"
fi
rm -f "$F" "$S"
