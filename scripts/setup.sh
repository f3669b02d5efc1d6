#!/usr/bin/env bash
# Installs what geneve-gw needs to build, run and test on Debian 12, reserves
# hugepages, and builds geneve-gw and installs it as /usr/local/bin/geneve-gw.
# Safe to run any number of times; quick when nothing changed.
#
#   scripts/setup.sh            # packages + hugepages + geneve-gw (as root)
#   GENEVE_GW_HUGEPAGES=0 ...   # skip hugepages; the tools then use --no-huge
#   GENEVE_GW_INSTALL=0 ...     # do not build and install geneve-gw
#   GENEVE_GW_BINDIR=DIR ...    # install it in DIR instead of /usr/local/bin
set -euo pipefail

log() { printf 'setup: %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        log "not root and no sudo: cannot install packages or reserve hugepages"
    fi
fi

# Debian packages: DPDK 22.11 runtime + headers, libclang for bindgen, and the
# outside tools the tests use as oracles and peers (OVS-DPDK is also the
# benchmark peer of scripts/bench-ovs.sh; gnuplot draws the benchmark chart).
PACKAGES=(
    dpdk dpdk-dev libdpdk-dev libclang-dev clang pkg-config
    tshark tcpdump iproute2 util-linux procps ethtool
    openvswitch-switch openvswitch-switch-dpdk
    gnuplot-nox
    python3 python3-pip
)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; answer no.
    echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections || true
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    log "Debian packages already installed"
fi

# scapy is the independent oracle for packet tests; the python3 on PATH may
# not be Debian's, so install it for whichever python3 runs the tests.
if ! python3 -c 'import scapy' >/dev/null 2>&1; then
    log "installing scapy for $(command -v python3)"
    python3 -m pip install -q scapy 2>/dev/null \
        || python3 -m pip install -q --break-system-packages scapy
fi

# grpcio and grpcio-tools: the control API's Python test client (stubs
# generated from proto/geneve_gw.proto); skipped by that test when absent.
if ! python3 -c 'import grpc, grpc_tools' >/dev/null 2>&1; then
    log "installing grpcio and grpcio-tools for $(command -v python3)"
    python3 -m pip install -q grpcio grpcio-tools 2>/dev/null \
        || python3 -m pip install -q --break-system-packages grpcio grpcio-tools
fi

# Rust toolchain: the machine's rustup toolchain; nothing to fetch here.
command -v cargo >/dev/null 2>&1 || log "cargo not found: install Rust (rustup) first"

# geneve-gw on the PATH: a release build (cargo rebuilds only what changed),
# copied to /usr/local/bin when it differs from the copy there.
bindir="${GENEVE_GW_BINDIR:-/usr/local/bin}"
if [ "${GENEVE_GW_INSTALL:-1}" != 0 ] && command -v cargo >/dev/null 2>&1; then
    cd "$(dirname "$0")/.."
    log "building geneve-gw (release)"
    cargo build --release --locked --quiet
    if cmp -s target/release/geneve-gw "$bindir/geneve-gw"; then
        log "$bindir/geneve-gw is up to date"
    else
        $SUDO install -D -m 0755 target/release/geneve-gw "$bindir/geneve-gw"
        log "installed $bindir/geneve-gw ($("$bindir/geneve-gw" --version))"
    fi
fi

# Hugepages: 512 x 2 MiB and a hugetlbfs mount. Without them every tool falls
# back to --no-huge (slower), see scripts/lib.sh.
want="${GENEVE_GW_HUGEPAGES:-512}"
if [ "$want" -gt 0 ] && { [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; }; then
    have=$(cat /proc/sys/vm/nr_hugepages)
    if [ "$have" -lt "$want" ]; then
        echo "$want" | $SUDO tee /proc/sys/vm/nr_hugepages >/dev/null 2>&1 || true
        log "hugepages: $(cat /proc/sys/vm/nr_hugepages) of $want reserved"
    fi
    if ! grep -qs ' hugetlbfs ' /proc/mounts; then
        $SUDO mkdir -p /dev/hugepages
        $SUDO mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || log "cannot mount hugetlbfs; tools will use --no-huge"
    fi
fi
free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
log "hugepages free: $free (2 MiB); hugetlbfs mounted: $(grep -qs ' hugetlbfs ' /proc/mounts && echo yes || echo no)"
