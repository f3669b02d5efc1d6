#!/usr/bin/env bash
# The gateway demo against Open vSwitch, as root:
#   1. builds the bed (scripts/ovs-bed.sh up): access host [gw-acc], OVS's
#      userspace datapath as the remote VTEP [gw-ovs], a VM behind it [gw-vm];
#   2. starts `geneve-gw run -c config/demo-ovs.yaml` on the veth ends gwu0
#      and gwa0 (net_af_packet);
#   3. pings and moves 1 MB over TCP both ways across it (encap by us, decap
#      by OVS, and back);
#   4. keeps the gateway in the foreground with its live summary until Ctrl-C,
#      then stops it (by PID) and tears the bed down.
#
# The cleanup survives a closed stdout (`scripts/demo.sh | tee log`, then
# Ctrl-C, which kills tee too): SIGPIPE is ignored, so a write to the closed
# pipe fails instead of killing the script, and the cleanup then writes to
# /dev/null. The gateway writes to a log file shown with `tail -f`, so a
# closed pipe never reaches it and it always exits through its own shutdown.
#
#   scripts/demo-gateway.sh                 # until Ctrl-C
#   scripts/demo-gateway.sh --seconds 10    # stop by itself after the checks
#   GENEVE_GW=path/to/geneve-gw scripts/demo-gateway.sh   # skip the build
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_TO_RUN=""
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) SECONDS_TO_RUN="$2"; shift 2 ;;
        *) echo "usage: $0 [--seconds N]" >&2; exit 2 ;;
    esac
done

log() { printf '\ndemo: %s\n' "$*" >&2; }
[ "$(id -u)" -eq 0 ] || { echo "demo: must run as root (namespaces, OVS, DPDK)" >&2; exit 1; }

BIN="${GENEVE_GW:-}"
if [ -z "$BIN" ]; then
    cargo build --release --quiet
    BIN=target/release/geneve-gw
fi

# A write to a closed stdout/stderr fails (EPIPE) instead of killing us: the
# script then ends through `set -e` and the EXIT trap, which cleans up.
trap '' PIPE

GW_PID=""
TAIL_PID=""
GW_LOG=""
# Where output can still go: a stream whose reader is gone becomes /dev/null.
usable_outputs() {
    { printf '\n' >&2; } 2>/dev/null || exec 2>/dev/null
    { printf '\n'; } 2>/dev/null || exec 1>/dev/null
}
cleanup() {
    trap - EXIT INT TERM
    set +e
    # A reader that got the same Ctrl-C (tee) is gone once this returns.
    sleep 0.2
    usable_outputs
    if [ -n "$GW_PID" ] && kill -0 "$GW_PID" 2>/dev/null; then
        log "stopping geneve-gw (pid $GW_PID)"
        kill -INT "$GW_PID" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$GW_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$GW_PID" 2>/dev/null; then
            log "geneve-gw still running after 10 s: SIGKILL"
            kill -KILL "$GW_PID" 2>/dev/null || true
        fi
        wait "$GW_PID" 2>/dev/null || true
    fi
    # The gateway's exit report (counters, drops, mbuf check): tail shows it
    # and ends by itself (--pid) unless Ctrl-C killed it; then print it here.
    if [ -n "$TAIL_PID" ] && kill -0 "$TAIL_PID" 2>/dev/null; then
        for _ in $(seq 30); do
            kill -0 "$TAIL_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill "$TAIL_PID" 2>/dev/null
        wait "$TAIL_PID" 2>/dev/null
    elif [ -n "$GW_LOG" ]; then
        sed -n '/^stopped:/,$p' "$GW_LOG"
    fi
    [ -z "$GW_LOG" ] || rm -f "$GW_LOG"
    usable_outputs
    log "tearing the bed down"
    bash scripts/ovs-bed.sh down || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash scripts/ovs-bed.sh up

if ! "$BIN" run --help >/dev/null 2>&1; then
    echo "demo: geneve-gw run not available yet ($BIN run --help fails)." >&2
    echo "demo: the bed was up; OVS alone can be checked with: cargo test --test interop_ovs" >&2
    exit 2
fi

# OVS must learn the gateway's VTEP (198.18.0.1) from the gateway's ARP replies.
bash scripts/ovs-bed.sh arp-flush

log "starting: $BIN run -c config/demo-ovs.yaml -- --no-pci"
# Its own session: Ctrl-C reaches it once, from cleanup, by PID. Its output
# goes to a file (a closed terminal pipe cannot touch it), shown live by tail.
GW_LOG=$(mktemp /tmp/geneve-gw-demo.XXXXXX.log)
setsid "$BIN" run -c config/demo-ovs.yaml -- --no-pci >"$GW_LOG" 2>&1 &
GW_PID=$!
tail -n +1 -f --pid="$GW_PID" "$GW_LOG" &
TAIL_PID=$!

net() { local ns="$1"; shift; ip netns exec "$ns" python3 tests/scapy/ovs_net.py "$@"; }

log "waiting for the access host to reach the VM through the gateway"
ready=""
for _ in $(seq 30); do
    kill -0 "$GW_PID" 2>/dev/null || { echo "demo: geneve-gw exited" >&2; exit 1; }
    if net gw-acc ping 198.19.0.2 --count 1 --timeout 1 >/dev/null; then ready=1; break; fi
done
[ -n "$ready" ] || { echo "demo: no path access -> VM after 30 s" >&2; exit 1; }

log "ping access 198.19.0.1 -> VM 198.19.0.2"
net gw-acc ping 198.19.0.2 --count 3
log "ping VM 198.19.0.2 -> access 198.19.0.1"
net gw-vm ping 198.19.0.1 --count 3
log "ping access 2001:db8:19::1 -> VM 2001:db8:19::2"
net gw-acc ping 2001:db8:19::2 --count 3 --need 2

tcp() { # SERVER_NS SERVER_IP CLIENT_NS PORT
    net "$1" tcp-recv "$2" "$4" --timeout 30 &
    local srv=$!
    net "$3" tcp-send "$2" "$4" 1000000 --timeout 30
    wait "$srv"
}
log "TCP 1 MB access -> VM"
tcp gw-vm 198.19.0.2 gw-acc 5201
log "TCP 1 MB VM -> access"
tcp gw-acc 198.19.0.1 gw-vm 5202

log "OVS's view: tunnel neighbours and datapath flows"
bash scripts/ovs-bed.sh ovs ovs-appctl tnl/neigh/show
bash scripts/ovs-bed.sh ovs ovs-appctl dpctl/dump-flows | cut -c1-200

if [ -n "$SECONDS_TO_RUN" ]; then
    log "checks done; gateway runs $SECONDS_TO_RUN s more"
    sleep "$SECONDS_TO_RUN"
else
    log "checks done; the gateway keeps running with its live summary: Ctrl-C stops it and tears the bed down"
    wait "$GW_PID" || true
    GW_PID=""
fi
