#!/usr/bin/env bash
# Fuzz the Geneve decapsulator: replay the seed corpus, then fuzz for a
# bounded time.
#
#   scripts/fuzz.sh [SECONDS]      (default 60; FUZZ_SECONDS also works)
#
# Needs cargo-fuzz (installed here if missing). Only a stable toolchain is
# available, so libFuzzer's nightly-only flags are unlocked with
# RUSTC_BOOTSTRAP=1 and the toolchain is pinned to stable; the sanitizer is
# off (`-s none`: AddressSanitizer needs -Zsanitizer and a std built for it;
# the code under test has no `unsafe`, so bounds are checked anyway).
# The corpus is also replayed by a plain `cargo test` (tests/lib_fuzz_corpus.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-${FUZZ_SECONDS:-60}}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
tc=()
if command -v rustup >/dev/null 2>&1; then tc=(+stable); fi

corpus=fuzz/corpus/decap
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$corpus"/. "$work"/

echo "fuzz.sh: replaying $(ls "$corpus" | wc -l) seed inputs"
cargo "${tc[@]}" fuzz run -s none decap "$corpus" -- -runs=0

echo "fuzz.sh: fuzzing for ${secs}s"
# New inputs go to a scratch copy, so the checked-in corpus stays the seeds.
cargo "${tc[@]}" fuzz run -s none decap "$work" "$corpus" -- \
    -max_total_time="$secs" -max_len=9100 -rss_limit_mb=1024 -print_final_stats=1
echo "fuzz.sh: no crash in ${secs}s"
