#!/usr/bin/env bash
# The VXLAN/Geneve stitching bed for geneve-gw (config/demo-stitch.yaml):
# two Open vSwitch userspace (netdev) instances in network namespaces, one a
# VXLAN VTEP and one a Geneve VTEP, and the gateway between them stitching
# VXLAN VNI 5000 to Geneve VNI 1000 in one L2 segment.
#
#   [sx-ul] Linux bridge br0 (the underlay): ulg -- gws0 (root ns, the
#           gateway's underlay port, no IP; VTEP 198.18.0.1 / 2001:db8:18::1)
#                                            ulx -- ovsx0 [sx-vx]
#                                            uln -- ovsn0 [sx-gn]
#   [sx-vx] OVS: br-ul 198.18.0.3 / 2001:db8:18::3 (VXLAN VTEP), br0: vx0
#           (vxlan, remote the gateway, key 5000) + ovshx0 -- hx0 [sx-hx]
#           198.19.0.3 / 2001:db8:19::3 (the host behind the VXLAN VTEP)
#   [sx-gn] OVS: br-ul 198.18.0.2 / 2001:db8:18::2 (Geneve VTEP), br0: gn0
#           (geneve, remote the gateway, key 1000) + ovshg0 -- hg0 [sx-hg]
#           198.19.0.2 / 2001:db8:19::2 (the host behind the Geneve VTEP)
#   [sx-acc] acc0 198.19.0.1 / 2001:db8:19::1 -- gwb0 (root ns, the
#           gateway's access port, no IP)
#
# Usage (as root):
#   scripts/stitch-bed.sh up [4|6] [kernel]
#                                    build it; the VTEPs' tunnels run over
#                                    the IPv4 (default) or IPv6 underlay;
#                                    `kernel`: the VXLAN VTEP is a Linux
#                                    vxlan device and bridge instead of OVS
#   scripts/stitch-bed.sh down       tear everything down (safe to repeat)
#   scripts/stitch-bed.sh status     exit 0 when up
#   scripts/stitch-bed.sh config [4|6]  print the gateway configuration
#   scripts/stitch-bed.sh ovs vx|gn CMD...  an OVS tool against one instance
#
# Only 198.18.0.0/15 and 2001:db8::/32, only inside the namespaces made
# here (the gateway's ends gws0/gwb0 have no address). Each OVS runs from
# its own directory under $STITCH_BED_DIR (default
# /tmp/geneve-gw-stitch-bed), started by hand; `down` stops exactly the
# processes whose PIDs it recorded.
set -euo pipefail
cd "$(dirname "$0")/.."

BED_DIR="${STITCH_BED_DIR:-/tmp/geneve-gw-stitch-bed}"
NS_UL=sx-ul NS_VX=sx-vx NS_GN=sx-gn NS_HX=sx-hx NS_HG=sx-hg NS_ACC=sx-acc
ALL_NS="$NS_UL $NS_VX $NS_GN $NS_HX $NS_HG $NS_ACC"
MAC_GWS=02:00:c6:12:01:01   # gws0: the gateway's underlay port
MAC_GWB=02:00:c6:13:01:fe   # gwb0: the gateway's access port
MAC_ACC=02:00:c6:13:01:01   # acc0
MAC_HG=02:00:c6:13:01:02    # hg0: behind the Geneve VTEP
MAC_HX=02:00:c6:13:01:03    # hx0: behind the VXLAN VTEP
INNER_MTU=1400

log() { printf 'stitch-bed: %s\n' "$*" >&2 || true; }
die() { log "$*"; exit 1; }
need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces, OVS)"; }
ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }

# One OVS instance per VTEP: its directories and tools.
ovs_env() { # vx|gn
    local d="$BED_DIR/$1"
    export OVS_RUNDIR="$d/run" OVS_LOGDIR="$d/log" OVS_DBDIR="$d/db" \
        OVS_SYSCONFDIR="$d/etc" OVS_PKGDATADIR=/usr/share/openvswitch
}
vsctl() { ovs-vsctl --timeout=10 --db="unix:$OVS_RUNDIR/db.sock" "$@"; }

live_pid() { # NAME PIDFILE
    local pid
    [ -r "$2" ] || return 1
    pid=$(tr -dc 0-9 <"$2")
    [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] || return 1
    [ "$(cat "/proc/$pid/comm")" = "$1" ] || return 1
    echo "$pid"
}

stop_pid() { # NAME PIDFILE
    local pid i
    pid=$(live_pid "$1" "$2") || return 0
    log "stopping $1 (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do
        [ -d "/proc/$pid" ] || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
}

healthy() {
    local ns k
    for ns in $ALL_NS; do ns_exists "$ns" || return 1; done
    ip link show gws0 >/dev/null 2>&1 && ip link show gwb0 >/dev/null 2>&1 || return 1
    ovs_env gn
    live_pid ovs-vswitchd "$OVS_RUNDIR/ovs-vswitchd.pid" >/dev/null || return 1
    [ -f "$BED_DIR/ready" ]
}

down() {
    need_root
    local k ns l
    for k in vx gn; do
        ovs_env "$k"
        stop_pid ovs-vswitchd "$OVS_RUNDIR/ovs-vswitchd.pid"
        stop_pid ovsdb-server "$OVS_RUNDIR/ovsdb-server.pid"
    done
    for ns in $ALL_NS; do
        if ns_exists "$ns"; then
            log "deleting namespace $ns"
            ip netns del "$ns"
        fi
    done
    for l in gws0 gwb0; do ip link del "$l" 2>/dev/null || true; done
    rm -rf "$BED_DIR"
}

veth() { # A NA MACA B NB MACB ("" = root namespace, "-" = any MAC)
    local a=(ip link add "$1") b=(peer name "$4")
    [ "$3" = - ] || a+=(address "$3")
    [ "$6" = - ] || b+=(address "$6")
    "${a[@]}" type veth "${b[@]}"
    [ -z "$2" ] || ip link set "$1" netns "$2"
    [ -z "$5" ] || ip link set "$4" netns "$5"
}

quiet_up() { # NS IFACE: no kernel stack speaks on it
    local x=()
    [ -z "$1" ] || x=(ip netns exec "$1")
    "${x[@]}" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1"
    "${x[@]}" ip link set "$2" up promisc on
}

# Hosts send with checksums filled in (see scripts/ovs-bed.sh: a veth read
# by a packet socket hands on CHECKSUM_PARTIAL frames).
host_up() { # NS IFACE MAC V4 V6
    ip -n "$1" link set lo up
    ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.accept_ra=0" "net.ipv6.conf.$2.accept_dad=0"
    ip -n "$1" link set "$2" address "$3" mtu "$INNER_MTU" up
    if command -v ethtool >/dev/null; then
        ip netns exec "$1" ethtool -K "$2" tx off tso off gso off >/dev/null
    fi
    ip -n "$1" addr add "$4" dev "$2"
    ip -n "$1" -6 addr add "$5" dev "$2" nodad
}

# OVS in namespace NS: underlay bridge with VTEP addresses V4/V6 on UPLINK,
# overlay bridge with a TYPE tunnel port (key KEY) to the gateway at REMOTE
# and the host port HOSTPORT.
ovs_vtep() { # k ns uplink v4 v6 type key remote hostport
    local k=$1 ns=$2 up=$3 v4=$4 v6=$5 type=$6 key=$7 remote=$8 hp=$9 i
    ovs_env "$k"
    mkdir -p "$OVS_RUNDIR" "$OVS_LOGDIR" "$OVS_DBDIR" "$OVS_SYSCONFDIR"
    ovsdb-tool create "$OVS_DBDIR/conf.db" /usr/share/openvswitch/vswitch.ovsschema
    ip netns exec "$ns" ovsdb-server -vconsole:off "$OVS_DBDIR/conf.db" \
        --remote="punix:$OVS_RUNDIR/db.sock" --pidfile="$OVS_RUNDIR/ovsdb-server.pid" \
        --unixctl="$OVS_RUNDIR/ovsdb-server.ctl" \
        --log-file="$OVS_LOGDIR/ovsdb-server.log" --detach --no-chdir
    vsctl --no-wait init
    vsctl --no-wait set Open_vSwitch . other_config:hw-offload=false
    ip netns exec "$ns" ovs-vswitchd -vconsole:off "unix:$OVS_RUNDIR/db.sock" \
        --pidfile="$OVS_RUNDIR/ovs-vswitchd.pid" \
        --log-file="$OVS_LOGDIR/ovs-vswitchd.log" --detach --no-chdir
    log "$k: ovs-vswitchd pid $(live_pid ovs-vswitchd "$OVS_RUNDIR/ovs-vswitchd.pid")"
    vsctl add-br br-ul -- set bridge br-ul datapath_type=netdev fail-mode=standalone \
        -- add-port br-ul "$up"
    ip -n "$ns" link set br-ul up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.br-ul.accept_dad=0 net.ipv6.conf.br-ul.accept_ra=0
    ip -n "$ns" addr add "$v4/24" dev br-ul
    ip -n "$ns" -6 addr add "$v6/64" dev br-ul nodad
    local csum=()
    # Over IPv6 the UDP checksum is computed (RFC 8926 4.3.1, RFC 6935).
    [[ "$remote" == *:* ]] && csum=(options:csum=true)
    vsctl add-br br0 -- set bridge br0 datapath_type=netdev fail-mode=secure \
        -- add-port br0 "$hp" -- set interface "$hp" ofport_request=1 \
        -- add-port br0 tun0 -- set interface tun0 type="$type" ofport_request=10 \
        options:remote_ip="$remote" options:key="$key" "${csum[@]}"
    ip -n "$ns" link set br0 up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.br0.disable_ipv6=1
    ovs-ofctl del-flows br0
    ovs-ofctl add-flow br0 "priority=100,in_port=1,actions=output:10"
    ovs-ofctl add-flow br0 "priority=100,in_port=10,actions=output:1"
    for i in $(seq 50); do
        ovs-appctl ovs/route/show | grep -q 'br-ul' && break
        sleep 0.1
    done
    ovs-appctl ovs/route/show | grep -q '198.18.0.0/24 dev br-ul' ||
        ovs-appctl ovs/route/add 198.18.0.0/24 br-ul "$v4" >/dev/null
    ovs-appctl ovs/route/show | grep -q '2001:db8:18::/64 dev br-ul' ||
        ovs-appctl ovs/route/add 2001:db8:18::/64 br-ul "$v6" >/dev/null || true
}

# The Linux kernel as the VXLAN VTEP in NS: a vxlan device (VNI 5000, UDP
# 4789, no learning: the gateway is its one remote) bridged with HOSTPORT.
kernel_vtep() { # ns uplink v4 v6 remote hostport
    local ns=$1 up=$2 v4=$3 v6=$4 remote=$5 hp=$6 local_ip=$3 csum=()
    ip -n "$ns" link set "$up" up
    ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$up.disable_ipv6=0" \
        "net.ipv6.conf.$up.accept_dad=0" "net.ipv6.conf.$up.accept_ra=0"
    ip -n "$ns" addr add "$v4/24" dev "$up"
    ip -n "$ns" -6 addr add "$v6/64" dev "$up" nodad
    if [[ "$remote" == *:* ]]; then
        local_ip=$v6
        csum=(udp6zerocsumtx off udp6zerocsumrx off)
    fi
    # Checksums filled in on the veth (see host_up), else the kernel's
    # VXLAN leaves the outer UDP checksum to an offload nobody does.
    if command -v ethtool >/dev/null; then
        ip netns exec "$ns" ethtool -K "$up" tx off >/dev/null
    elif [[ "$remote" != *:* ]]; then
        csum=(noudpcsum)
    fi
    ip -n "$ns" link add vx0 type vxlan id 5000 dstport 4789 local "$local_ip" \
        remote "$remote" dev "$up" nolearning "${csum[@]}"
    ip -n "$ns" link add brx type bridge
    ip -n "$ns" link set vx0 master brx up
    ip -n "$ns" link set "$hp" master brx
    ip -n "$ns" link set brx up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.brx.disable_ipv6=1
}

up() {
    need_root
    local fam="${1:-4}" peer="${2:-ovs}"
    [ "$fam" = 4 ] || [ "$fam" = 6 ] || die "up 4 or up 6"
    command -v ovs-vswitchd >/dev/null || die "ovs-vswitchd not found (apt-get install openvswitch-switch)"
    down
    log "building the bed (IPv$fam underlay) in $BED_DIR"
    mkdir -p "$BED_DIR"
    local ns
    for ns in $ALL_NS; do ip netns add "$ns"; done
    ip -n "$NS_UL" link add br0 type bridge
    ip -n "$NS_UL" link set br0 up
    veth gws0 "" "$MAC_GWS" ulg "$NS_UL" -
    veth ovsx0 "$NS_VX" - ulx "$NS_UL" -
    veth ovsn0 "$NS_GN" - uln "$NS_UL" -
    for l in ulg ulx uln; do
        ip -n "$NS_UL" link set "$l" master br0
        quiet_up "$NS_UL" "$l"
    done
    quiet_up "" gws0
    veth gwb0 "" "$MAC_GWB" acc0 "$NS_ACC" -
    quiet_up "" gwb0
    veth hx0 "$NS_HX" - ovshx0 "$NS_VX" -
    veth hg0 "$NS_HG" - ovshg0 "$NS_GN" -
    for x in "$NS_VX ovsx0" "$NS_VX ovshx0" "$NS_GN ovsn0" "$NS_GN ovshg0"; do
        set -- $x
        ip -n "$1" link set lo up
        quiet_up "$1" "$2"
    done
    ip -n "$NS_VX" link set ovshx0 mtu "$INNER_MTU"
    ip -n "$NS_GN" link set ovshg0 mtu "$INNER_MTU"
    host_up "$NS_ACC" acc0 "$MAC_ACC" 198.19.0.1/24 2001:db8:19::1/64
    host_up "$NS_HG" hg0 "$MAC_HG" 198.19.0.2/24 2001:db8:19::2/64
    host_up "$NS_HX" hx0 "$MAC_HX" 198.19.0.3/24 2001:db8:19::3/64
    local gw=198.18.0.1
    [ "$fam" = 6 ] && gw=2001:db8:18::1
    if [ "$peer" = kernel ]; then
        # No stack on ovsx0 yet: quiet_up turned IPv6 off; kernel_vtep turns it on.
        kernel_vtep "$NS_VX" ovsx0 198.18.0.3 2001:db8:18::3 "$gw" ovshx0
        mkdir -p "$BED_DIR/vx"
    else
        ovs_vtep vx "$NS_VX" ovsx0 198.18.0.3 2001:db8:18::3 vxlan 5000 "$gw" ovshx0
    fi
    ovs_vtep gn "$NS_GN" ovsn0 198.18.0.2 2001:db8:18::2 geneve 1000 "$gw" ovshg0
    echo "$fam" >"$BED_DIR/ready"
    log "up: hg0 198.19.0.2 behind Geneve VTEP 198.18.0.2 (VNI 1000), hx0 198.19.0.3" \
        "behind VXLAN VTEP 198.18.0.3 (VNI 5000), acc0 198.19.0.1; gateway ports gws0, gwb0"
}

config() { # 4|6: the gateway's configuration for this bed
    local fam="${1:-4}" g=198.18.0.2 x=198.18.0.3
    if [ "$fam" = 6 ]; then g='"2001:db8:18::2"'; x='"2001:db8:18::3"'; fi
    sed -e "s/198\.18\.0\.2 *# geneve-vtep/$g/; s/198\.18\.0\.3 *# vxlan-vtep/$x/" \
        -e "s/\[198\.18\.0\.2, 198\.18\.0\.3\]/[$g, $x]/" config/demo-stitch.yaml
}

case "${1:-}" in
    up) up "${2:-4}" "${3:-ovs}" ;;
    down) down ;;
    status) healthy && { echo "up (IPv$(cat "$BED_DIR/ready") underlay)"; exit 0; }; echo "down"; exit 1 ;;
    config) config "${2:-4}" ;;
    ovs)
        ovs_env "${2:?vx or gn}"
        shift 2
        # The tools find this instance through OVS_RUNDIR.
        exec "$@"
        ;;
    *)
        sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
