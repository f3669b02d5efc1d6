#!/usr/bin/env bash
# The Open vSwitch demo bed for geneve-gw (config/demo-ovs.yaml), built from
# network namespaces, veths and OVS's userspace datapath (this machine's kernel
# has no Geneve module, so OVS runs with datapath_type=netdev).
#
#   [gw-acc] acc0 198.19.0.1/24 ---- gwa0 (root ns, no IP)  \
#                                                            geneve-gw
#   [gw-ovs] ovsu0 ---------------- gwu0 (root ns, no IP)  /  VTEP 198.18.0.1
#      br-ul (netdev): ovsu0 + internal port br-ul 198.18.0.2/24 (OVS's VTEP)
#      br0   (netdev): gnv0 (geneve, remote 198.18.0.1, VNI 100) + ovsv0
#   [gw-vm]  vm0 198.19.0.2/24 ---- ovsv0 (gw-ovs)
#
# Usage (as root):
#   scripts/ovs-bed.sh up          build the bed (nothing to do if it is up)
#   scripts/ovs-bed.sh down        tear everything down (safe to repeat)
#   scripts/ovs-bed.sh status      show it; exit 0 when up and healthy
#   scripts/ovs-bed.sh arp-set [MAC]  tell OVS 198.18.0.1 is at MAC (default:
#                                  gwu0's) for a check without a gateway
#   scripts/ovs-bed.sh arp-flush   forget OVS's tunnel neighbours (the gateway
#                                  must then answer OVS's ARP itself)
#   scripts/ovs-bed.sh send-geneve [--to-gateway] ARGS
#                                  inject Geneve frames with chosen options
#                                  (tests/scapy/ovs_inject.py ARGS) into OVS
#                                  on gwu0, or into the gateway on ovsu0
#   scripts/ovs-bed.sh ovs CMD...  run an OVS tool against this bed's OVS,
#                                  e.g. `ovs ovs-ofctl dump-flows br0`
#   scripts/ovs-bed.sh env         print the OVS_* exports for a shell
#
# Only 198.18.0.0/15 and 2001:db8::/32 are used, only on veths inside the
# namespaces made here (the gateway's ends gwu0/gwa0 have no address at all).
# OVS runs from its own run/db/log directory ($OVS_BED_DIR, default
# /tmp/geneve-gw-ovs-bed), started by hand (no systemd); `down` stops exactly
# the ovsdb-server and ovs-vswitchd whose PIDs it recorded.
set -euo pipefail
cd "$(dirname "$0")/.."

BED_DIR="${OVS_BED_DIR:-/tmp/geneve-gw-ovs-bed}"
export OVS_RUNDIR="$BED_DIR/run" OVS_LOGDIR="$BED_DIR/log" OVS_DBDIR="$BED_DIR/db" \
    OVS_SYSCONFDIR="$BED_DIR/etc" OVS_PKGDATADIR=/usr/share/openvswitch

NS_ACC=gw-acc NS_OVS=gw-ovs NS_VM=gw-vm
# Fixed MACs so captures and checks can name them.
MAC_GWU=02:00:c6:12:00:01   # gwu0: the gateway's underlay port, VTEP 198.18.0.1
MAC_OVSU=02:00:c6:12:00:fe  # ovsu0: OVS's port on the underlay veth
MAC_BRUL=02:00:c6:12:00:02  # br-ul: OVS's VTEP 198.18.0.2
MAC_GWA=02:00:c6:13:00:fe   # gwa0: the gateway's access port
MAC_ACC=02:00:c6:13:00:01   # acc0: access host 198.19.0.1
MAC_VM=02:00:c6:13:00:02    # vm0: VM 198.19.0.2
MAC_OVSV=02:00:c6:13:00:fd  # ovsv0: OVS's port to the VM
INNER_MTU=1400              # the gateway's access MTU; leaves room for Geneve on 1500

log() { printf 'ovs-bed: %s\n' "$*" >&2 || true; }
die() { log "$*"; exit 1; }

need_root() { [ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces, OVS)"; }

ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }
in_ovs() { ip netns exec "$NS_OVS" "$@"; }
vsctl() { ovs-vsctl --timeout=10 --db="unix:$OVS_RUNDIR/db.sock" "$@"; }

# PID from a pidfile if that process is alive and is the named program.
live_pid() { # NAME PIDFILE
    local pid
    [ -r "$2" ] || return 1
    pid=$(tr -dc 0-9 <"$2")
    [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] || return 1
    # comm is cut at 15 characters ("ovs-vswitchd" and "ovsdb-server" fit).
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
    log "$1 (pid $pid) ignored SIGTERM: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
}

healthy() {
    ns_exists "$NS_ACC" && ns_exists "$NS_OVS" && ns_exists "$NS_VM" || return 1
    ip link show gwu0 >/dev/null 2>&1 && ip link show gwa0 >/dev/null 2>&1 || return 1
    live_pid ovsdb-server "$OVS_RUNDIR/ovsdb-server.pid" >/dev/null || return 1
    live_pid ovs-vswitchd "$OVS_RUNDIR/ovs-vswitchd.pid" >/dev/null || return 1
    vsctl br-exists br0 && vsctl br-exists br-ul || return 1
    [ -f "$BED_DIR/ready" ]
}

down() {
    need_root
    stop_pid ovs-vswitchd "$OVS_RUNDIR/ovs-vswitchd.pid"
    stop_pid ovsdb-server "$OVS_RUNDIR/ovsdb-server.pid"
    local ns
    for ns in "$NS_ACC" "$NS_OVS" "$NS_VM"; do
        if ns_exists "$ns"; then
            log "deleting namespace $ns"
            ip netns del "$ns"
        fi
    done
    # Deleting a namespace deletes its veth ends and so their peers; this
    # covers a half-built bed.
    local l
    for l in gwu0 gwa0; do
        ip link del "$l" 2>/dev/null || true
    done
    rm -rf "$BED_DIR"
}

# Veth pair A (namespace NA, "" = root) <-> B (namespace NB) with fixed MACs.
veth() { # A NA MACA B NB MACB
    ip link add "$1" address "$3" type veth peer name "$4" address "$6"
    [ -z "$2" ] || ip link set "$1" netns "$2"
    [ -z "$5" ] || ip link set "$4" netns "$5"
}

# An interface no kernel stack may speak on: no IPv4, no IPv6 link-local.
quiet_up() { # NS IFACE
    local x=()
    [ -z "$1" ] || x=(ip netns exec "$1")
    "${x[@]}" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1"
    "${x[@]}" ip link set "$2" up promisc on
}

# No TX checksum offload: a veth hands CHECKSUM_PARTIAL frames (TCP/UDP
# checksum not filled in) to whoever reads the peer with a packet socket,
# which is what DPDK's net_af_packet and OVS's netdev ports do; carried through
# a tunnel such frames arrive with a bad checksum and TCP never connects.
no_tx_csum() { # NS IFACE
    if command -v ethtool >/dev/null; then
        ip netns exec "$1" ethtool -K "$2" tx off tso off gso off >/dev/null
    else
        # ETHTOOL_STXCSUM (0x17) through SIOCETHTOOL (0x8946), as `ethtool -K tx off`.
        ip netns exec "$1" python3 -c '
import array, fcntl, socket, struct, sys
buf = array.array("B", struct.pack("II", 0x17, 0))
req = struct.pack("16sP", sys.argv[1].encode(), buf.buffer_info()[0])
fcntl.ioctl(socket.socket(socket.AF_INET, socket.SOCK_DGRAM), 0x8946, req)' "$2"
    fi
}

host_up() { # NS IFACE V4 V6
    ip -n "$1" link set lo up
    ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.accept_ra=0" "net.ipv6.conf.$2.accept_dad=0"
    ip -n "$1" link set "$2" mtu "$INNER_MTU" up
    no_tx_csum "$1" "$2"
    ip -n "$1" addr add "$3" dev "$2"
    ip -n "$1" -6 addr add "$4" dev "$2" nodad
}

up() {
    need_root
    command -v ovs-vswitchd >/dev/null || die "ovs-vswitchd not found (apt-get install openvswitch-switch)"
    if healthy; then
        log "already up"
        return 0
    fi
    # Whatever is half there goes first: up is "make it exactly the bed".
    down
    log "building the bed in $BED_DIR"
    mkdir -p "$OVS_RUNDIR" "$OVS_LOGDIR" "$OVS_DBDIR" "$OVS_SYSCONFDIR"
    local ns
    for ns in "$NS_ACC" "$NS_OVS" "$NS_VM"; do
        ip netns add "$ns"
    done

    veth acc0 "$NS_ACC" "$MAC_ACC" gwa0 "" "$MAC_GWA"
    veth gwu0 "" "$MAC_GWU" ovsu0 "$NS_OVS" "$MAC_OVSU"
    veth vm0 "$NS_VM" "$MAC_VM" ovsv0 "$NS_OVS" "$MAC_OVSV"
    quiet_up "" gwa0
    quiet_up "" gwu0
    ip -n "$NS_OVS" link set lo up
    quiet_up "$NS_OVS" ovsu0
    quiet_up "$NS_OVS" ovsv0
    # OVS's side of the VM veth carries the VM's frames as they are.
    ip -n "$NS_OVS" link set ovsv0 mtu "$INNER_MTU"
    host_up "$NS_ACC" acc0 198.19.0.1/24 2001:db8:19::1/64
    host_up "$NS_VM" vm0 198.19.0.2/24 2001:db8:19::2/64

    # OVS, by hand, inside gw-ovs (ovs-vswitchd opens ovsu0/ovsv0 there and
    # makes its internal ports there).
    ovsdb-tool create "$OVS_DBDIR/conf.db" /usr/share/openvswitch/vswitch.ovsschema
    in_ovs ovsdb-server -vconsole:off "$OVS_DBDIR/conf.db" \
        --remote="punix:$OVS_RUNDIR/db.sock" \
        --pidfile="$OVS_RUNDIR/ovsdb-server.pid" \
        --unixctl="$OVS_RUNDIR/ovsdb-server.ctl" \
        --log-file="$OVS_LOGDIR/ovsdb-server.log" --detach --no-chdir
    vsctl --no-wait init
    vsctl --no-wait set Open_vSwitch . other_config:hw-offload=false
    in_ovs ovs-vswitchd -vconsole:off "unix:$OVS_RUNDIR/db.sock" \
        --pidfile="$OVS_RUNDIR/ovs-vswitchd.pid" \
        --log-file="$OVS_LOGDIR/ovs-vswitchd.log" --detach --no-chdir
    log "ovsdb-server pid $(live_pid ovsdb-server "$OVS_RUNDIR/ovsdb-server.pid")," \
        "ovs-vswitchd pid $(live_pid ovs-vswitchd "$OVS_RUNDIR/ovs-vswitchd.pid")"

    # Underlay bridge: owns OVS's VTEP address on its internal port. The
    # userspace datapath routes tunnel packets with its own table (learned
    # from the kernel routes of gw-ovs: 198.18.0.0/24 dev br-ul), resolves the
    # next hop with its own ARP cache (tnl/neigh, filled by snooping ARP
    # replies that cross br-ul) and sends them through br-ul's flows (NORMAL)
    # out of ovsu0. Geneve arriving for 198.18.0.2 is popped in br-ul's
    # NORMAL action and handed to br0's gnv0.
    vsctl add-br br-ul -- set bridge br-ul datapath_type=netdev \
        other-config:hwaddr="$MAC_BRUL" fail-mode=standalone \
        -- add-port br-ul ovsu0
    in_ovs ip link set br-ul up
    in_ovs sysctl -qw net.ipv6.conf.br-ul.accept_dad=0 net.ipv6.conf.br-ul.accept_ra=0
    in_ovs ip addr add 198.18.0.2/24 dev br-ul
    in_ovs ip -6 addr add 2001:db8:18::2/64 dev br-ul nodad

    # Overlay bridge: the Geneve port and the VM.
    vsctl add-br br0 -- set bridge br0 datapath_type=netdev fail-mode=secure \
        -- add-port br0 ovsv0 -- set interface ovsv0 ofport_request=1 \
        -- add-port br0 gnv0 -- set interface gnv0 type=geneve ofport_request=10 \
        options:remote_ip=198.18.0.1 options:key=100
    in_ovs ip link set br0 up
    in_ovs sysctl -qw net.ipv6.conf.br0.disable_ipv6=1
    ovs-ofctl add-tlv-map br0 "{class=0x0102,type=0x01,len=4}->tun_metadata0"
    ovs-ofctl del-flows br0
    # VM -> tunnel carries the demo option (0x0102/0x01 = 0x0000002a);
    # tunnel -> VM: everything that OVS accepted (unknown critical options
    # never get here: OVS drops them while decoding the tunnel metadata).
    ovs-ofctl add-flow br0 "priority=100,in_port=1,actions=set_field:0x2a->tun_metadata0,output:10"
    ovs-ofctl add-flow br0 "priority=100,in_port=10,actions=output:1"

    # The route to the gateway's VTEP must be in OVS's table (it is learned
    # from the kernel; add it by hand if the netlink notification was missed).
    local i
    for i in $(seq 50); do
        ovs-appctl ovs/route/show | grep -q 'br-ul' && break
        sleep 0.1
    done
    if ! ovs-appctl ovs/route/show | grep -q '198.18.0.0/24 dev br-ul'; then
        log "adding OVS route 198.18.0.0/24 dev br-ul by hand"
        ovs-appctl ovs/route/add 198.18.0.0/24 br-ul 198.18.0.2 >/dev/null
    fi
    touch "$BED_DIR/ready"
    log "up: VM 198.19.0.2 behind OVS VTEP 198.18.0.2 (VNI 100), access 198.19.0.1;" \
        "gateway ports gwu0 ($MAC_GWU) and gwa0 in the root namespace"
}

status() {
    local ok=0
    healthy || ok=1
    echo "bed dir: $BED_DIR ($([ $ok -eq 0 ] && echo up || echo 'down or partial'))"
    echo "namespaces: $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^gw-(acc|ovs|vm)$' | tr '\n' ' ')"
    echo "ovsdb-server: $(live_pid ovsdb-server "$OVS_RUNDIR/ovsdb-server.pid" || echo none)"
    echo "ovs-vswitchd: $(live_pid ovs-vswitchd "$OVS_RUNDIR/ovs-vswitchd.pid" || echo none)"
    ip -br link show gwu0 2>/dev/null || true
    ip -br link show gwa0 2>/dev/null || true
    if [ $ok -eq 0 ]; then
        vsctl show
        ovs-ofctl dump-flows br0
        ovs-ofctl dump-tlv-map br0 | tail -n +2
        echo "-- OVS routes"
        ovs-appctl ovs/route/show | grep -E 'br-ul|Cached' || true
        echo "-- OVS tunnel neighbours"
        ovs-appctl tnl/neigh/show
    fi
    return $ok
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    arp-set)
        healthy || die "bed is not up"
        ovs-appctl tnl/arp/set br-ul 198.18.0.1 "${2:-$MAC_GWU}" >/dev/null
        ;;
    arp-flush)
        healthy || die "bed is not up"
        ovs-appctl tnl/neigh/flush >/dev/null
        ;;
    send-geneve)
        shift
        healthy || die "bed is not up"
        if [ "${1:-}" = "--to-gateway" ]; then
            # From OVS's side toward the gateway: out of ovsu0 (OVS's own
            # veth end, shared with its af_packet socket) into gwu0.
            shift
            exec ip netns exec "$NS_OVS" python3 tests/scapy/ovs_inject.py --iface ovsu0 \
                --src-mac "$MAC_BRUL" --dst-mac "$MAC_GWU" --src 198.18.0.2 --dst 198.18.0.1 \
                --inner-src-mac "$MAC_VM" --inner-dst-mac "$MAC_ACC" \
                --inner-src 198.19.0.2 --inner-dst 198.19.0.1 "$@"
        fi
        # Toward OVS, as the gateway would send. OVS's userspace datapath
        # caches its verdict on a packet's options in a megaflow that
        # wildcards them (per VNI and outer addresses, 10 s idle): an unknown
        # critical option's drop would also drop the next good packets, and a
        # good packet's forward would let a same-length critical one through.
        # So the datapath flows are flushed before and after.
        ovs-appctl dpctl/del-flows >/dev/null
        python3 tests/scapy/ovs_inject.py --iface gwu0 --src-mac "$MAC_GWU" \
            --dst-mac "$MAC_BRUL" --inner-src-mac "$MAC_ACC" --inner-dst-mac "$MAC_VM" "$@"
        sleep 0.5
        ovs-appctl dpctl/del-flows >/dev/null
        ;;
    ovs)
        shift
        exec "$@"
        ;;
    env)
        echo "export OVS_RUNDIR=$OVS_RUNDIR OVS_LOGDIR=$OVS_LOGDIR OVS_DBDIR=$OVS_DBDIR OVS_SYSCONFDIR=$OVS_SYSCONFDIR"
        ;;
    *)
        sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
