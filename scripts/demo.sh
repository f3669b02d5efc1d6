#!/usr/bin/env bash
# The main job on virtual devices, no NIC needed (as root): installs what it
# needs, builds geneve-gw and runs the gateway between an access namespace and
# Open vSwitch's userspace datapath (the remote VTEP) in network namespaces:
# ping and TCP cross it both ways, then its live summary runs until Ctrl-C,
# and everything is cleaned up.
#
#   scripts/demo.sh              # until Ctrl-C
#   scripts/demo.sh --seconds 10 # stop by itself after the checks
#   scripts/demo.sh --stitch [--ipv6] [--seconds N]
#                                # VXLAN and Geneve stitched: OVS as a VXLAN
#                                # VTEP and as a Geneve VTEP, one segment
#                                # across both (scripts/demo-stitch.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "${1:-}" = --stitch ]; then
    shift
    exec bash scripts/demo-stitch.sh "$@"
fi
exec bash scripts/demo-gateway.sh "$@"
