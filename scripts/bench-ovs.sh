#!/usr/bin/env bash
# Geneve encap and decap through Open vSwitch + DPDK and through geneve-gw,
# side by side on the same bed, back to back:
#
#   geneve-gw gen (one lcore, core 0: generator and sink)
#        | memif acc.sock (inner frames)     | memif ul.sock (Geneve)
#   device under test on core 1, memif server ports:
#     testpmd-io  dpdk-testpmd io forwarding acc <-> ul (the bed's ceiling)
#     ovs-dpdk    ovs-vswitchd-dpdk: netdev br-int (acc + type=geneve port),
#                 netdev br-ul (ul + VTEP 198.18.0.1 on its internal port),
#                 PMD on core 1 (pmd-cpu-mask=0x2)
#     geneve-gw   geneve-gw run, worker on core 1
#
# encap: gen sends inner frames into acc, receives Geneve from ul.
# decap: gen sends Geneve (VNI 100, 198.18.0.2 -> 198.18.0.1) into ul,
#        receives inner frames from acc.
# Each run: gen at full speed for SECONDS_PER_RUN s, 256 flows, 64-byte inner
# frames; Mpps = packets back at the generator per second. Median of RUNS.
# Then latency through geneve-gw (and OVS) at 50% and 90% (LOADS) of its measured
# maximum encap rate.
#
# Rows go to bench-results/latest.csv (cases encap-ipv4-memif and
# decap-ipv4-memif; impls testpmd-io, ovs-dpdk, geneve-gw; earlier rows of
# these cases are replaced, others kept) and latency rows to
# bench-results/latency.csv.
#
#   scripts/bench-ovs.sh                 # as root; ~3 minutes
#   RUNS=1 SECONDS_PER_RUN=4 scripts/bench-ovs.sh
#
# OVS runs by hand from its own directory (/tmp/geneve-gw-bench-ovs) inside its
# own network namespace (gwb-ovs), apart from scripts/ovs-bed.sh's; it is
# stopped by PID after each measurement (its PMD busy-polls core 1).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

RUNS="${RUNS:-3}"
SECS="${SECONDS_PER_RUN:-6}"
FLOWS="${FLOWS:-256}"
OUT="${BENCH_OUT:-bench-results}"
LAT_IMPLS="${LAT_IMPLS:-geneve-gw ovs-dpdk}"
# Latency loads, % of each implementation's measured maximum.
LOADS="${LOADS:-50 90}"
OVS_VSWITCHD=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk

[ "$(id -u)" -eq 0 ] || { echo "bench-ovs: must run as root (OVS, network namespace)" >&2; exit 1; }
[ "${SKIP_SETUP:-0}" = 1 ] || bash scripts/setup.sh >/dev/null 2>&1
[ -x "$OVS_VSWITCHD" ] || { echo "bench-ovs: $OVS_VSWITCHD missing (apt-get install openvswitch-switch-dpdk)" >&2; exit 1; }
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release --quiet
GW="${CARGO_TARGET_DIR:-target}/release/geneve-gw"
mkdir -p "$OUT"
W="$(cd "$OUT" && pwd)/work-ovs"
rm -rf "$W"
mkdir -p "$W"

OVS_DIR=/tmp/geneve-gw-bench-ovs
NS=gwb-ovs
export OVS_RUNDIR="$OVS_DIR/run" OVS_LOGDIR="$OVS_DIR/log" OVS_DBDIR="$OVS_DIR/db" \
    OVS_SYSCONFDIR="$OVS_DIR/etc" OVS_PKGDATADIR=/usr/share/openvswitch
vsctl() { ovs-vsctl --timeout=20 --db="unix:$OVS_RUNDIR/db.sock" "$@"; }
# The DPDK build names itself ovs-vswitchd-dpdk: give its control socket a
# fixed name instead of relying on ovs-appctl's default lookup.
appctl() { ovs-appctl -t "$OVS_RUNDIR/ovs-vswitchd.ctl" "$@"; }
log() { printf 'bench-ovs: %s\n' "$*" >&2; }

TSC_HZ=$(awk -F: '/^cpu MHz/ { printf "%.0f\n", $2 * 1e6; exit }' /proc/cpuinfo)

# Only these PIDs are ever stopped.
DUT_PID=""
OVSDB_PID=""
stop_pid() { # PID [SIGNAL]
    local pid="$1" i
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 0
    kill "-${2:-TERM}" "$pid" 2>/dev/null || true
    for i in $(seq 100); do
        [ -d "/proc/$pid" ] || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}
pid_of() { [ -r "$1" ] && tr -dc 0-9 <"$1"; }

ovs_down() {
    stop_pid "$(pid_of "$OVS_RUNDIR/ovs-vswitchd.pid" || true)"
    stop_pid "$(pid_of "$OVS_RUNDIR/ovsdb-server.pid" || true)"
    ip netns del "$NS" 2>/dev/null || true
    [ ! -d "$OVS_LOGDIR" ] || cp "$OVS_LOGDIR"/*.log "$W"/ 2>/dev/null || true
    rm -rf "$OVS_DIR"
}

cleanup() {
    stop_pid "$DUT_PID" INT
    ovs_down
    # DPDK 22.11 leaves a runtime directory per file prefix; ours end in $$
    # and their processes are stopped by now.
    rm -rf /var/run/dpdk/gwb-*-"$$"
}
trap cleanup EXIT

memif() { # INDEX NAME ROLE
    echo "net_memif$1,role=$3,socket=$W/$2.sock,socket-abstract=no,rsize=${MEMIF_RSIZE:-14}"
}

# --- devices under test -------------------------------------------------

testpmd_up() {
    rm -f "$W"/*.sock
    # shellcheck disable=SC2046
    dpdk-testpmd -l 0-1 --main-lcore 0 --no-pci $(eal_mem_args "gwb-tp-$$" 512) \
        --vdev "$(memif 0 ul server)" --vdev "$(memif 1 acc server)" \
        -- --forward-mode=io --auto-start --stats-period 5 --burst=32 --rxd=1024 --txd=1024 \
        >"$W/testpmd.log" 2>&1 </dev/null &
    DUT_PID=$!
    sleep 2
}

gw_config() {
    local mem
    if echo "$(eal_mem_args x)" | grep -q no-huge; then mem="{ mode: no_huge, size_mb: 512 }"; else mem="{ mode: hugepages, size_mb: 512 }"; fi
    cat <<YAML
eal:
  cores: [1]
  control_core: 0
  memory: $mem
  devices: { vdev: [ "$(memif 0 ul server)", "$(memif 1 acc server)" ] }
  file_prefix: gwb-gw-$$
  args: [--no-pci, --in-memory]
ports:
  - { name: ul, role: underlay, device: net_memif0, mtu: 1500, mac: "02:00:00:00:01:01" }
  - { name: acc, role: access, device: net_memif1, mtu: 1400 }
vtep:
  ipv4: 198.18.0.1/24
  next_hops: [ { via: 198.18.0.2, mac: "02:00:00:00:00:02", destinations: [198.18.0.2/32] } ]
tunnels:
  - { name: t, remote: 198.18.0.2, vni: 100 }
l2:
  learning: false
  segments:
    - { port: acc, vni: 100, flood: [], static_macs: [ { mac: "02:00:00:00:0b:01", remote: 198.18.0.2 } ] }
YAML
}

gw_up() {
    rm -f "$W"/*.sock
    gw_config >"$W/gw.yaml"
    "$GW" run -c "$W/gw.yaml" --stats-interval 0 >"$W/gw.log" 2>&1 </dev/null &
    DUT_PID=$!
    sleep 2
}

ovs_up() {
    ovs_down
    rm -f "$W"/*.sock
    mkdir -p "$OVS_RUNDIR" "$OVS_LOGDIR" "$OVS_DBDIR" "$OVS_SYSCONFDIR"
    ip netns add "$NS"
    ip -n "$NS" link set lo up
    ovsdb-tool create "$OVS_DBDIR/conf.db" /usr/share/openvswitch/vswitch.ovsschema
    ip netns exec "$NS" ovsdb-server -vconsole:off "$OVS_DBDIR/conf.db" \
        --remote="punix:$OVS_RUNDIR/db.sock" --pidfile="$OVS_RUNDIR/ovsdb-server.pid" \
        --unixctl="$OVS_RUNDIR/ovsdb-server.ctl" --log-file="$OVS_LOGDIR/ovsdb-server.log" \
        --detach --no-chdir
    vsctl --no-wait init
    # OVS-DPDK forces --in-memory itself; it needs hugepages.
    vsctl --no-wait set Open_vSwitch . other_config:dpdk-init=true \
        other_config:dpdk-socket-mem=512 other_config:pmd-cpu-mask=0x2 \
        other_config:hw-offload=false "other_config:dpdk-extra=--no-pci --file-prefix gwb-ovs-$$"
    ip netns exec "$NS" "$OVS_VSWITCHD" -vconsole:off "unix:$OVS_RUNDIR/db.sock" \
        --pidfile="$OVS_RUNDIR/ovs-vswitchd.pid" --log-file="$OVS_LOGDIR/ovs-vswitchd.log" \
        --unixctl="$OVS_RUNDIR/ovs-vswitchd.ctl" --detach --no-chdir
    DUT_PID=""
    # Underlay: the VTEP address lives on br-ul's internal port (in $NS).
    vsctl add-br br-ul -- set bridge br-ul datapath_type=netdev \
        other-config:hwaddr=02:00:00:00:01:01 fail-mode=secure \
        -- add-port br-ul ul -- set interface ul type=dpdk ofport_request=1 \
        "options:dpdk-devargs=${OVS_UL_DEV:-$(memif 0 ul server)}"
    ip -n "$NS" link set br-ul up
    ip -n "$NS" addr add 198.18.0.1/24 dev br-ul
    vsctl add-br br-int -- set bridge br-int datapath_type=netdev fail-mode=secure \
        -- add-port br-int acc -- set interface acc type=dpdk ofport_request=1 \
        "options:dpdk-devargs=${OVS_ACC_DEV:-$(memif 1 acc server)}" \
        -- add-port br-int gnv0 -- set interface gnv0 type=geneve ofport_request=10 \
        options:remote_ip=198.18.0.2 options:key=100
    ovs-ofctl del-flows br-int
    ovs-ofctl add-flow br-int "in_port=1,actions=output:10"
    ovs-ofctl add-flow br-int "in_port=10,actions=output:1"
    # br-ul: Geneve from the wire goes to the VTEP's internal port (where the
    # userspace datapath pops it); what the tunnel sends goes out of ul.
    ovs-ofctl del-flows br-ul
    ovs-ofctl add-flow br-ul "in_port=1,actions=LOCAL"
    ovs-ofctl add-flow br-ul "in_port=LOCAL,actions=output:1"
    local i
    for i in $(seq 50); do
        appctl ovs/route/show 2>/dev/null | grep -q '198.18.0.0/24 dev br-ul' && break
        sleep 0.1
    done
    appctl ovs/route/show | grep -q '198.18.0.0/24 dev br-ul' \
        || appctl ovs/route/add 198.18.0.0/24 br-ul >/dev/null
    appctl tnl/arp/set br-ul 198.18.0.2 02:00:00:00:00:02 >/dev/null
    DUT_PID=$(pid_of "$OVS_RUNDIR/ovs-vswitchd.pid")
    OVSDB_PID=$(pid_of "$OVS_RUNDIR/ovsdb-server.pid")
    log "ovs-vswitchd-dpdk pid $DUT_PID, ovsdb-server pid $OVSDB_PID"
    sleep 1
}

# OVS-DPDK has a TX queue per PMD thread plus one for its main thread and
# sends from the PMD's; memif only connects rings both ends have, so the
# generator opens as many RX queues (and polls them all).
GEN_RXQ=1
dut_up() {
    GEN_RXQ=1
    case "$1" in testpmd-io) testpmd_up ;; geneve-gw) gw_up ;; ovs-dpdk) ovs_up; GEN_RXQ=2 ;; esac
}
dut_down() {
    case "$1" in
        ovs-dpdk) appctl dpif-netdev/pmd-stats-show >"$W/ovs-pmd-stats-$2.txt" 2>&1 || true
                  ovs_down ;;
        *) stop_pid "$DUT_PID" INT ;;
    esac
    DUT_PID=""
}

# `bench-ovs.sh ovs-up` leaves the OVS-DPDK bed up to look at (ovs-appctl -t
# /tmp/geneve-gw-bench-ovs/run/ovs-vswitchd.ctl ...); `ovs-down` removes it.
case "${1:-}" in
    ovs-up) trap - EXIT; ovs_up; exit 0 ;;
    ovs-down) trap - EXIT; ovs_down; exit 0 ;;
esac

# --- generator ----------------------------------------------------------

# gen CASE RATE SECS -> its output in $W/gen.log; prints the gen-result line
gen() {
    local case="$1" rate="$2" secs="$3" tx rx mode
    case "$case" in
        encap*) tx=net_memif1 rx=net_memif0 mode=inner ;;
        decap*) tx=net_memif0 rx=net_memif1 mode=geneve ;;
    esac
    # shellcheck disable=SC2046
    timeout -s INT "$((secs + 40))" "$GW" gen --tx-port "$tx" --rx-port "$rx" --mode "$mode" \
        --flows "$FLOWS" --size 64 --rate "$rate" --duration "$secs" --stats-interval 0 --rx-queues "$GEN_RXQ" \
        --link-timeout 20 -- -l 0 --no-pci $(eal_mem_args "gwb-gen-$$" 256) \
        --vdev "$(memif 0 ul client)" --vdev "$(memif 1 acc client)" >"$W/gen.log" 2>&1 </dev/null || true
    grep '^gen-result ' "$W/gen.log" || { log "gen failed:"; tail -5 "$W/gen.log" >&2; echo "gen-result rx_mpps=0"; }
}
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }

median() { python3 -c 'import statistics,sys; print("%.3f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

IMPLS="${IMPLS:-testpmd-io ovs-dpdk geneve-gw}"
CASES="encap-ipv4-memif decap-ipv4-memif"
declare -A R
# A fresh device under test for every measurement: testpmd's memif server
# does not survive a client leaving, and nothing carries over between cases.
for run in $(seq 1 "$RUNS"); do
    for c in $CASES; do
        for impl in $IMPLS; do
            dut_up "$impl"
            line=$(gen "$c" 0 "$SECS")
            m=$(echo "$line" | field rx_mpps)
            lost=$(echo "$line" | field lost)
            R[$c,$impl]="${R[$c,$impl]:-} ${m:-0}"
            log "run $run $c $impl: ${m:-0} Mpps (lost ${lost:-?})"
            dut_down "$impl" "$run-$c"
        done
    done
done

CSV="$OUT/latest.csv"
[ -f "$CSV" ] || echo "case,impl,mpps,cycles_per_packet,ratio_to_testpmd_io" >"$CSV"
grep -v -- '-memif,' "$CSV" >"$W/csv.keep" || true
cp "$W/csv.keep" "$CSV"
printf '%-18s %-11s %8s %8s %9s\n' case impl Mpps cyc/pkt ratio-io
declare -A MED
for c in $CASES; do
    # shellcheck disable=SC2086
    for impl in $IMPLS; do MED[$c,$impl]=$(median ${R[$c,$impl]}); done
    for impl in $IMPLS; do
        m=${MED[$c,$impl]}
        cy=$(python3 -c 'import sys; h,m=float(sys.argv[1]),float(sys.argv[2]); print("%.1f" % (h/(m*1e6)) if m else "nan")' "$TSC_HZ" "$m")
        ratio=$(python3 -c 'import sys; a,b=map(float,sys.argv[1:]); print("%.3f" % (a/b if b else 0))' "$m" "${MED[$c,testpmd-io]:-0}")
        printf '%-18s %-11s %8s %8s %9s\n' "$c" "$impl" "$m" "$cy" "$ratio"
        echo "$c,$impl,$m,$cy,$ratio" >>"$CSV"
    done
    python3 -c 'import sys; g,o=map(float,sys.argv[2:]); print("%s: geneve-gw / ovs-dpdk = %.2fx" % (sys.argv[1], g/o if o else 0))' \
        "$c" "${MED[$c,geneve-gw]:-0}" "${MED[$c,ovs-dpdk]:-0}"
done
for f in "$W"/ovs-pmd-stats-*.txt; do
    [ -f "$f" ] || continue
    # A file without statistics (ovs-appctl could not reach OVS) is
    # reported, not fatal: the rates above do not depend on it.
    grep -E 'packets received|avg processing cycles per packet|processing cycles' "$f" |
        sed "s|^|  $(basename "$f" .txt): |" >&2 ||
        log "$(basename "$f" .txt): no PMD statistics: $(tail -1 "$f")"
done

# The generator above shares core 0 with two memif copies per packet, so it
# caps what any DUT can show on that bed. The bed of scripts/bench.sh has no
# such cap: net_pcap,infinite_rx=1 holding valid input -> DUT -> net_null.
# OVS-DPDK runs there too (same input frames, same single core), its rate
# read from the sink port's tx_packets over SECONDS_PER_RUN s after 2 s;
# geneve-gw is measured the same way here, back to back with OVS.
if [ "${WITH_PCAP_BED:-1}" = 1 ]; then
    # Input: 256 frames per case, written by the generator itself.
    python3 -c 'from scapy.all import wrpcap; wrpcap("'"$W"'/empty.pcap", [])' 2>/dev/null
    for mode in inner geneve; do
        # shellcheck disable=SC2046
        timeout 30 "$GW" gen --mode "$mode" --flows 256 --count 256 --drain-ms 0 --stats-interval 0 -- \
            -l 0 --no-pci --no-huge --no-shconf -m 256 --file-prefix "gwb-pcap-$$" \
            --vdev "net_pcap0,tx_pcap=$W/$mode.pcap,rx_pcap=$W/empty.pcap" >"$W/gen-pcap.log" 2>&1 \
            || { log "cannot write $mode.pcap:"; tail -3 "$W/gen-pcap.log" >&2; }
    done
    ovs_pcap_rate() { # CASE -> Mpps
        local in_dev sink
        case "$1" in
            encap*) OVS_ACC_DEV="net_pcap0,rx_pcap=$W/inner.pcap,infinite_rx=1"; OVS_UL_DEV="net_null0,no-rx=1"; sink=ul ;;
            decap*) OVS_UL_DEV="net_pcap0,rx_pcap=$W/geneve.pcap,infinite_rx=1"; OVS_ACC_DEV="net_null0,no-rx=1"; sink=acc ;;
        esac
        export OVS_UL_DEV OVS_ACC_DEV
        ovs_up >/dev/null 2>&1
        sleep 2
        local a b
        a=$(vsctl get interface "$sink" statistics:tx_packets)
        sleep "$SECS"
        b=$(vsctl get interface "$sink" statistics:tx_packets)
        dut_down ovs-dpdk "pcap-$1"
        unset OVS_UL_DEV OVS_ACC_DEV
        python3 -c 'import sys; print("%.3f" % ((int(sys.argv[2]) - int(sys.argv[1])) / float(sys.argv[3]) / 1e6))' "$a" "$b" "$SECS"
    }
    gw_pcap_rate() { # CASE -> Mpps (the gateway's own per-second encap/decap rates, median)
        local in_dev sink key
        case "$1" in
            encap*) key=encap; sed -e "s#\"$(memif 1 acc server)\"#\"net_pcap1,rx_pcap=$W/inner.pcap,infinite_rx=1\"#" \
                        -e "s#\"$(memif 0 ul server)\"#\"net_null0,no-rx=1\"#" -e 's/device: net_memif1/device: net_pcap1/' \
                        -e 's/device: net_memif0/device: net_null0/' ;;
            decap*) key=decap; sed -e "s#\"$(memif 0 ul server)\"#\"net_pcap0,rx_pcap=$W/geneve.pcap,infinite_rx=1\"#" \
                        -e "s#\"$(memif 1 acc server)\"#\"net_null1,no-rx=1\"#" -e 's/device: net_memif0/device: net_pcap0/' \
                        -e 's/device: net_memif1/device: net_null1/' ;;
        esac < <(gw_config) >"$W/gw-pcap.yaml"
        timeout -s INT "$((SECS + 3))" "$GW" run -c "$W/gw-pcap.yaml" --stats-interval 1 >"$W/gw-pcap.log" 2>&1 </dev/null || true
        rate_gw "$key" <"$W/gw-pcap.log"
    }
    declare -A P
    for run in $(seq 1 "$RUNS"); do
        for c in encap-ipv4 decap-ipv4; do
            o=$(ovs_pcap_rate "$c"); g=$(gw_pcap_rate "$c")
            P[$c,ovs-dpdk]="${P[$c,ovs-dpdk]:-} $o"; P[$c,geneve-gw]="${P[$c,geneve-gw]:-} $g"
            log "pcap bed run $run $c: ovs-dpdk $o Mpps, geneve-gw $g Mpps"
        done
    done
    for c in encap-ipv4 decap-ipv4; do
        # shellcheck disable=SC2086
        o=$(median ${P[$c,ovs-dpdk]}); g=$(median ${P[$c,geneve-gw]})
        io=$(awk -F, -v c="$c" '$1 == c && $2 == "testpmd-io" { print $3 }' "$CSV")
        cy=$(python3 -c 'import sys; h,m=float(sys.argv[1]),float(sys.argv[2]); print("%.1f" % (h/(m*1e6)) if m else "nan")' "$TSC_HZ" "$o")
        ratio=$(python3 -c 'import sys; a=float(sys.argv[1]); b=float(sys.argv[2] or 0); print("%.3f" % (a/b if b else 0))' "$o" "${io:-0}")
        grep -v "^$c,ovs-dpdk," "$CSV" >"$W/csv.keep" || true
        cp "$W/csv.keep" "$CSV"
        echo "$c,ovs-dpdk,$o,$cy,$ratio" >>"$CSV"
        python3 -c 'import sys; g,o=map(float,sys.argv[2:]); print("%s (pcap -> null, one core): geneve-gw %.3f Mpps, ovs-dpdk %.3f Mpps: %.2fx" % (sys.argv[1], g, o, g/o if o else 0))' "$c" "$g" "$o"
    done
fi

# Latency at LOADS (50% and 90%) of each implementation's measured maximum (encap).
LAT="$OUT/latency.csv"
echo "case,impl,load,rate_pps,sent,lost,p50_us,p99_us,p999_us,max_us" >"$LAT"
for impl in $LAT_IMPLS; do
    max=${MED[encap-ipv4-memif,$impl]:-0}
    for load in $LOADS; do
        rate=$(python3 -c 'import sys; print(int(float(sys.argv[1]) * 1e6 * int(sys.argv[2]) / 100))' "$max" "$load")
        [ "$rate" -gt 0 ] || continue
        dut_up "$impl"
        line=$(gen encap-ipv4-memif "$rate" "$SECS")
        dut_down "$impl" "lat-$load"
        row="encap-ipv4-memif,$impl,$load%,$rate"
        for k in sent lost p50_us p99_us p999_us max_us; do row="$row,$(echo "$line" | field $k)"; done
        echo "$row" >>"$LAT"
        log "latency $impl at $load% ($rate pps): $(echo "$line" | cut -d' ' -f2-)"
        if [ "$impl" = geneve-gw ]; then
            # Its own residence time (RX burst to TX burst), from the exit report.
            log "  inside geneve-gw: $(grep -h 'latency p50' "$W/gw.log" | tail -1 | sed 's/^ *//')"
        fi
    done
done
column -s, -t <"$LAT"
echo "wrote $CSV and $LAT (TSC $TSC_HZ Hz)" >&2
