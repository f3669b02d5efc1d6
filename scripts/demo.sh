#!/usr/bin/env bash
# The main job on virtual devices, no NIC needed (as root): installs what it
# needs, builds geneve-gw and runs the gateway between an access namespace and
# Open vSwitch's userspace datapath (the remote VTEP) in network namespaces:
# ping and TCP cross it both ways, then its live summary runs until Ctrl-C,
# and everything is cleaned up.
#
#   scripts/demo.sh              # until Ctrl-C
#   scripts/demo.sh --seconds 10 # stop by itself after the checks
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec bash scripts/demo-gateway.sh "$@"
