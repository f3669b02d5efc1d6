#!/usr/bin/env bash
# The control API's cost per change at 1,000 and at 1,000,000 routes: what
# one call costs, request to reply, from a Python grpcio client on the
# gateway's Unix socket (scripts/bench_api.py), against `geneve-gw run` on
# a file of ROUTES IPv4 routes over TUNNELS tunnels written by
# scripts/scale-config.py (net_null ports, --no-huge, its own --file-prefix).
# Per size: the first change after the start, 200 route adds and deletes,
# 200 routes moved to another tunnel, 50 tunnel adds and deletes (each
# delete moves the last tunnel, which has a route, into the deleted one's
# place), 100 tunnel gets, 20 pages of 1,000 routes from the start and 20
# from the middle, a reload of the same file and the first change after it.
#
#   scripts/bench-api.sh                        # 1,000 and 1,000,000 routes
#   SIZES="1000 100000" scripts/bench-api.sh
#   GW=/path/to/geneve-gw scripts/bench-api.sh  # another build
#
# Prints and writes bench-results/api.csv:
# routes,op,calls,median_ms,p90_ms,max_ms; and the gateway's peak resident
# memory (VmHWM) after start and at the end. Needs python3 with grpcio and
# grpcio-tools (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
SIZES="${SIZES:-1000 1000000}"
TUNNELS="${TUNNELS:-1000}"
OUT="${BENCH_OUT:-bench-results}"
W="$OUT/work-api"
mkdir -p "$W"
python3 -c 'import grpc, grpc_tools' 2>/dev/null || {
    echo "python3 grpcio and grpcio-tools are needed (scripts/setup.sh installs them)" >&2
    exit 1
}
if [ -z "${GW:-}" ]; then
    cargo build --release --quiet
    GW="${CARGO_TARGET_DIR:-target}/release/geneve-gw"
fi
CSV="$OUT/api.csv"
echo "routes,op,calls,median_ms,p90_ms,max_ms" >"$CSV"
pid=
stop() { [ -n "$pid" ] && { kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }; pid=; }
trap stop EXIT
for n in $SIZES; do
    f="$W/routes-$n.yaml"
    log="$W/run-$n.log"
    python3 scripts/scale-config.py --mode l3 --tunnels "$TUNNELS" --routes4 "$n" \
        --file-prefix "bench-api-$$-$n" -o "$f"
    "$GW" run -c "$f" >"$log" 2>&1 &
    pid=$!
    wait_log "$pid" "$log" "running with" "run did not start"
    started=$(hwm_mb "$pid")
    sock=$(sed -n 's/^api: serving on \([^ ]*\).*/\1/p' "$log" | head -1)
    python3 scripts/bench_api.py "$sock" proto "$W/stubs" "$n" "$TUNNELS" | tee -a "$CSV"
    echo "$n routes: peak RSS $started MB after start, $(hwm_mb "$pid") MB at the end"
    grep -m1 "^reload" "$log" || true
    stop
    rm -f "$f"
done
