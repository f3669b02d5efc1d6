# The benchmark cases shared by scripts/bench.sh (wall clock, beside
# dpdk-testpmd) and scripts/bench-instructions.sh (callgrind). Source it after
# scripts/lib.sh, with W set to a work folder.

# Names: direction, then the underlay (ipv4 / ipv6), then what differs from
# the plain L2 case: -2opt (two 4-byte options, sent and required known),
# -inner6 (inner frames carry IPv6), l3 (an L3 tunnel: IP payload, route
# lookup on encap, Ethernet header rebuilt on decap; IPv4 underlay);
# vxlan-to-geneve / geneve-to-vxlan: one segment stitched across both.
BENCH_CASES_ALL="encap-ipv4 decap-ipv4 encap-ipv4-2opt decap-ipv4-2opt encap-ipv6 decap-ipv6 encap-ipv6-2opt decap-ipv6-2opt encap-l3 decap-l3 encap-ipv4-inner6 decap-ipv4-inner6 vxlan-to-geneve geneve-to-vxlan"

# Inputs: 64-byte inner frames over 256 flows, built by scapy (IPv6 inner
# frames are 20 bytes longer: the same UDP payload).
bench_inputs() {
    python3 - "$W" <<'PY'
import sys
from scapy.all import Ether, IP, IPv6, UDP, Raw, wrpcap
from scapy.contrib.geneve import GENEVE, GeneveOptions
from scapy.layers.vxlan import VXLAN
d = sys.argv[1]
def inner(i):
    return (Ether(src="02:00:00:00:0a:01", dst="02:00:00:00:0b:01")
            / IP(src="198.19.0.1", dst="198.19.%d.%d" % (1 + i // 200, 1 + i % 200))
            / UDP(sport=1024 + i, dport=5001) / Raw(b"x" * 18))
opts = [GeneveOptions(classid=0x0102, type=0x01, length=1, data=b"\0\0\0\x2a"),
        GeneveOptions(classid=0x0102, type=0x02, length=1, data=b"\0\0\0\x07")]
def inner6(i):
    return (Ether(src="02:00:00:00:0a:01", dst="02:00:00:00:0b:01")
            / IPv6(src="2001:db8:19::1", dst="2001:db8:19:%x::%x" % (1 + i // 200, 1 + i % 200))
            / UDP(sport=1024 + i, dport=5001) / Raw(b"x" * 18))
def gen(i, o, payload=None, proto=0x6558):
    payload = inner(i) if payload is None else payload
    return (Ether(src="02:00:00:00:00:02", dst="02:00:00:00:01:01") / IP(src="198.18.0.2", dst="198.18.0.1", flags="DF")
            / UDP(sport=49152 + i, dport=6081, chksum=0)
            / GENEVE(vni=100, proto=proto, optionlen=sum(len(bytes(x)) for x in o) // 4, options=o) / payload)
# Over IPv6 the UDP checksum is computed (a zero one is dropped by default).
def gen6(i, o):
    return (Ether(src="02:00:00:00:00:02", dst="02:00:00:00:01:01")
            / IPv6(src="2001:db8:18::2", dst="2001:db8:18::1")
            / UDP(sport=49152 + i, dport=6081)
            / GENEVE(vni=100, proto=0x6558, optionlen=sum(len(bytes(x)) for x in o) // 4, options=o) / inner(i))
wrpcap(d + "/inner.pcap", [inner(i) for i in range(256)])
wrpcap(d + "/inner6.pcap", [inner6(i) for i in range(256)])
wrpcap(d + "/geneve.pcap", [gen(i, []) for i in range(256)])
wrpcap(d + "/geneve-2opt.pcap", [gen(i, opts) for i in range(256)])
wrpcap(d + "/geneve-inner6.pcap", [gen(i, [], inner6(i)) for i in range(256)])
# L3 tunnel: the inner IP packet alone, protocol type 0x0800.
wrpcap(d + "/geneve-l3.pcap", [gen(i, [], inner(i)[IP], 0x0800) for i in range(256)])
wrpcap(d + "/geneve6.pcap", [gen6(i, []) for i in range(256)])
wrpcap(d + "/geneve6-2opt.pcap", [gen6(i, opts) for i in range(256)])
# VXLAN from the fabric's VTEP 198.18.0.3 (stitched to Geneve).
wrpcap(d + "/vxlan.pcap", [Ether(src="02:00:00:00:00:03", dst="02:00:00:00:01:01")
                           / IP(src="198.18.0.3", dst="198.18.0.1", flags="DF")
                           / UDP(sport=49152 + i, dport=4789, chksum=0)
                           / VXLAN(vni=5000, flags=0x08) / inner(i) for i in range(256)])
PY
}


# gateway config for a case: $1 = case, $2 = pcap, $3 = file prefix.
# BENCH_NO_HUGE=1 forces `--no-huge --no-shconf` (what callgrind runs on).
bench_config() {
    local case="$1" pcap="$2" prefix="$3" mem private="--in-memory"
    if [ "${BENCH_NO_HUGE:-0}" = 1 ] || echo "$(eal_mem_args x)" | grep -q no-huge; then mem="{ mode: no_huge, size_mb: 512 }"; else mem="{ mode: hugepages, size_mb: 512 }"; fi
    [ "${BENCH_NO_HUGE:-0}" = 1 ] && private="--no-shconf"
    local ul_dev acc_dev
    case "$case" in
        encap-*) ul_dev="net_null0,no-rx=1"; acc_dev="net_pcap0,rx_pcap=$pcap,infinite_rx=1" ;;
        decap-*|*-to-*) ul_dev="net_pcap0,rx_pcap=$pcap,infinite_rx=1"; acc_dev="net_null0,no-rx=1" ;;
    esac
    local opts="" reg=""
    case "$case" in *2opt*)
        opts='options: [ { class: 0x0102, type: 0x01, data: "0000002a" }, { class: 0x0102, type: 0x02, data: "00000007" } ]'
        reg='options: { registry: [ { name: a, class: 0x0102, type: 0x01, length: 4 }, { name: b, class: 0x0102, type: 0x02, length: 4 } ] }' ;;
    esac
    local remote="198.18.0.2" nh='{ via: 198.18.0.2, mac: "02:00:00:00:00:02", destinations: [198.18.0.2/32] }'
    if [[ "$case" == *-ipv6* ]]; then
        remote='"2001:db8:18::2"'; nh='{ via: "2001:db8:18::2", mac: "02:00:00:00:00:02", destinations: ["2001:db8:18::2/128"] }'
    fi
    cat <<YAML
eal:
  cores: [1]
  control_core: 0
  memory: $mem
  devices: { vdev: [ "$ul_dev", "$acc_dev" ] }
  file_prefix: $prefix
  args: [--no-pci, $private]
ports:
  - { name: ul, role: underlay, device: $(echo "$ul_dev" | cut -d, -f1), mtu: 1500, mac: "02:00:00:00:01:01" }
  - { name: acc, role: access, device: $(echo "$acc_dev" | cut -d, -f1), mtu: 1400 }
vtep:
  ipv4: 198.18.0.1/24
  ipv6: 2001:db8:18::1/64
YAML
    if [ "$case" = vxlan-to-geneve ] || [ "$case" = geneve-to-vxlan ]; then
        # One segment stitched: Geneve VNI 100 to 198.18.0.2 (mesh overlay),
        # VXLAN VNI 5000 to 198.18.0.3 (mesh fabric); the inner destination
        # lives behind the other side's VTEP.
        local behind=198.18.0.2
        [ "$case" = geneve-to-vxlan ] && behind=198.18.0.3
        cat <<YAML
  vxlan_port: 4789
  next_hops: [ { via: 198.18.0.2, mac: "02:00:00:00:00:02", destinations: [198.18.0.2/32, 198.18.0.3/32] } ]
tunnels:
  - { name: t, remote: 198.18.0.2, vni: 100, mesh: overlay }
  - { name: tor, remote: 198.18.0.3, vni: 5000, encapsulation: vxlan, mesh: fabric }
l2:
  learning: false
  segments:
    - { port: acc, vni: 100, vxlan_vni: 5000, flood: [], static_macs: [ { mac: "02:00:00:00:0b:01", remote: $behind } ] }
YAML
        return
    fi
    cat <<YAML
  next_hops: [ $nh ]
$reg
tunnels:
  - { name: t, remote: $remote, vni: 100, $opts }
YAML
    if [[ "$case" == *-l3 ]]; then
        cat <<YAML
l3:
  access: { port: acc, ipv4: 198.19.0.254/24, next_hop_mac: "02:00:00:00:0a:01" }
  routes: [ { prefix: 198.19.0.0/16, tunnel: t } ]
YAML
    else
        cat <<YAML
l2:
  learning: false
  segments:
    - { port: acc, vni: 100, flood: [], static_macs: [ { mac: "02:00:00:00:0b:01", remote: $remote } ] }
YAML
    fi
}

bench_pcap_for() {
    case "$1" in
        encap-*-inner6) echo "$W/inner6.pcap" ;;
        encap-*) echo "$W/inner.pcap" ;;
        decap-ipv6-2opt) echo "$W/geneve6-2opt.pcap" ;;
        decap-*2opt) echo "$W/geneve-2opt.pcap" ;;
        decap-ipv6) echo "$W/geneve6.pcap" ;;
        decap-l3) echo "$W/geneve-l3.pcap" ;;
        decap-*-inner6) echo "$W/geneve-inner6.pcap" ;;
        decap-*|geneve-to-vxlan) echo "$W/geneve.pcap" ;;
        vxlan-to-geneve) echo "$W/vxlan.pcap" ;;
    esac
}

