#!/usr/bin/env bash
# The stitching demo, as root: one L2 segment across VXLAN and Geneve.
#   1. builds the bed (scripts/stitch-bed.sh up): OVS as a VXLAN VTEP
#      (VNI 5000) with a host behind it [sx-hx 198.19.0.3], OVS as a Geneve
#      VTEP (VNI 1000) with a host behind it [sx-hg 198.19.0.2];
#   2. starts geneve-gw with config/demo-stitch.yaml between them;
#   3. pings and moves 1 MB over TCP both ways between the two hosts, and
#      shows with tshark VXLAN on one VTEP's link and Geneve on the other's;
#   4. keeps the gateway in the foreground with its live summary until
#      Ctrl-C (or --seconds N), then stops it (by PID) and tears the bed down.
#
#   scripts/demo-stitch.sh [--ipv6] [--seconds N]
#   GENEVE_GW=path/to/geneve-gw scripts/demo-stitch.sh   # skip the build
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TO_RUN="" FAMILY=4
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) SECONDS_TO_RUN="$2"; shift 2 ;;
        --ipv6) FAMILY=6; shift ;;
        *) echo "usage: $0 [--ipv6] [--seconds N]" >&2; exit 2 ;;
    esac
done

log() { printf '\ndemo: %s\n' "$*" >&2; }
[ "$(id -u)" -eq 0 ] || { echo "demo: must run as root (namespaces, OVS, DPDK)" >&2; exit 1; }

BIN="${GENEVE_GW:-}"
if [ -z "$BIN" ]; then
    cargo build --release --quiet
    BIN=target/release/geneve-gw
fi

trap '' PIPE
GW_PID="" TAIL_PID="" GW_LOG="" CFG=""
cleanup() {
    trap - EXIT INT TERM
    set +e
    sleep 0.2
    { printf '\n' >&2; } 2>/dev/null || exec 2>/dev/null
    { printf '\n'; } 2>/dev/null || exec 1>/dev/null
    if [ -n "$GW_PID" ] && kill -0 "$GW_PID" 2>/dev/null; then
        log "stopping geneve-gw (pid $GW_PID)"
        kill -INT "$GW_PID" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$GW_PID" 2>/dev/null && kill -KILL "$GW_PID" 2>/dev/null
        wait "$GW_PID" 2>/dev/null
    fi
    if [ -n "$TAIL_PID" ] && kill -0 "$TAIL_PID" 2>/dev/null; then
        for _ in $(seq 30); do kill -0 "$TAIL_PID" 2>/dev/null || break; sleep 0.1; done
        kill "$TAIL_PID" 2>/dev/null
        wait "$TAIL_PID" 2>/dev/null
    elif [ -n "$GW_LOG" ]; then
        sed -n '/^stopped:/,$p' "$GW_LOG"
    fi
    rm -f "$GW_LOG" "$CFG"
    log "tearing the bed down"
    bash scripts/stitch-bed.sh down || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash scripts/stitch-bed.sh up "$FAMILY"
CFG=$(mktemp /tmp/geneve-gw-stitch.XXXXXX.yaml)
bash scripts/stitch-bed.sh config "$FAMILY" >"$CFG"
"$BIN" check -c "$CFG"

log "starting: $BIN run -c config/demo-stitch.yaml (IPv$FAMILY underlay) -- --no-pci"
GW_LOG=$(mktemp /tmp/geneve-gw-stitch.XXXXXX.log)
setsid "$BIN" run -c "$CFG" -- --no-pci >"$GW_LOG" 2>&1 &
GW_PID=$!
tail -n +1 -f --pid="$GW_PID" "$GW_LOG" &
TAIL_PID=$!

net() { local ns="$1"; shift; ip netns exec "$ns" python3 tests/scapy/ovs_net.py "$@"; }

log "waiting for the VXLAN side's host to reach the Geneve side's host"
ready=""
for _ in $(seq 30); do
    kill -0 "$GW_PID" 2>/dev/null || { echo "demo: geneve-gw exited" >&2; exit 1; }
    if net sx-hx ping 198.19.0.2 --count 1 --timeout 1 >/dev/null; then ready=1; break; fi
done
[ -n "$ready" ] || { echo "demo: no path VXLAN side -> Geneve side after 30 s" >&2; exit 1; }

log "what the two VTEPs' links carry during one ping 198.19.0.3 -> 198.19.0.2 (tshark)"
CAPS=()
for l in ulx uln; do
    ip netns exec sx-ul timeout 6 tshark -q -i "$l" -f udp -c 2 -w "/tmp/geneve-gw-stitch-$l.pcapng" 2>/dev/null &
    CAPS+=($!)
done
sleep 1.5
net sx-hx ping 198.19.0.2 --count 1
wait "${CAPS[@]}" 2>/dev/null || true
for l in ulx uln; do
    echo "-- link $l ($([ $l = ulx ] && echo 'VXLAN VTEP 198.18.0.3' || echo 'Geneve VTEP 198.18.0.2'))"
    echo "   outer src        outer dst        udp dport  vxlan vni  geneve vni  inner"
    tshark -r "/tmp/geneve-gw-stitch-$l.pcapng" -d udp.port==4789,vxlan -T fields -E occurrence=f \
        -e ip.src -e ip.dst -e udp.dstport -e vxlan.vni -e geneve.vni -e _ws.col.Info 2>/dev/null |
        awk -F'\t' '{ printf "   %-16s %-16s %-10s %-10s %-11s %s\n", $1, $2, $3, ($4 == "" ? "-" : $4), ($5 == "" ? "-" : $5), $6 }'
    rm -f "/tmp/geneve-gw-stitch-$l.pcapng"
done

log "ping 198.19.0.3 (behind VXLAN) -> 198.19.0.2 (behind Geneve), and back"
net sx-hx ping 198.19.0.2 --count 3
net sx-hg ping 198.19.0.3 --count 3
log "ping over IPv6 inside: 2001:db8:19::3 -> 2001:db8:19::2"
net sx-hx ping 2001:db8:19::2 --count 3 --need 2

tcp() { # SERVER_NS SERVER_IP CLIENT_NS PORT
    net "$1" tcp-recv "$2" "$4" --timeout 30 &
    local srv=$!
    net "$3" tcp-send "$2" "$4" 1000000 --timeout 30
    wait "$srv"
}
log "TCP 1 MB VXLAN side -> Geneve side"
tcp sx-hg 198.19.0.2 sx-hx 5301
log "TCP 1 MB Geneve side -> VXLAN side"
tcp sx-hx 198.19.0.3 sx-hg 5302

if [ -n "$SECONDS_TO_RUN" ]; then
    log "checks done; gateway runs $SECONDS_TO_RUN s more"
    sleep "$SECONDS_TO_RUN"
else
    log "checks done; the gateway keeps running with its live summary: Ctrl-C stops it and tears the bed down"
    wait "$GW_PID" || true
fi
