#!/usr/bin/env bash
# Runs every check and test of geneve-gw. Installs what it needs first
# (scripts/setup.sh: DPDK, libclang, tshark, scapy, Open vSwitch, hugepages).
# Safe to run again and again.
set -euo pipefail
cd "$(dirname "$0")/.."

# Not the release build and install of geneve-gw (GENEVE_GW_INSTALL=0): the
# tests run the binary `cargo test` builds, and the release build took about
# 4.5 minutes of a 2-core machine's time that no test used.
GENEVE_GW_INSTALL=0 bash scripts/setup.sh

step() { printf '\n== %s\n' "$*"; }

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --all-targets -- -D warnings

step "wire, tunnel and config build without DPDK"
cargo check --no-default-features --lib --quiet

step "fuzz corpus replay and a bounded fuzz run"
bash scripts/fuzz.sh

# Last, so that the test runner's summary closes the output. Benches are
# measurements, not tests: clippy --all-targets compiles them; `cargo bench`
# and scripts/bench*.sh run them.
step "tests"
cargo test --lib --bins --tests --no-fail-fast
