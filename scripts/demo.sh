#!/usr/bin/env bash
# The main job on virtual devices, no NIC needed: installs what it needs,
# builds geneve-gw and runs it with live counters until Ctrl-C.
#
#   scripts/demo.sh              # until Ctrl-C
#   scripts/demo.sh --seconds 10 # stop by itself
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

SECONDS_TO_RUN=""
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) SECONDS_TO_RUN="$2"; shift 2 ;;
        *) echo "usage: $0 [--seconds N]" >&2; exit 2 ;;
    esac
done

bash scripts/setup.sh
cargo build --release --quiet

cmd=(target/release/geneve-gw forward --stats-interval 1 --
     -l 0-1 --no-pci $(eal_mem_args "geneve-gw-demo-$$")
     --vdev net_null0 --vdev net_null1)
echo "demo: ${cmd[*]}" >&2
if [ -n "$SECONDS_TO_RUN" ]; then
    timeout -s INT "$SECONDS_TO_RUN" "${cmd[@]}" || [ $? -eq 124 ]
else
    exec "${cmd[@]}"
fi
