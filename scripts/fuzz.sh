#!/usr/bin/env bash
# Fuzz the gateway's parsers: replay each target's seed corpus, then fuzz
# each target for a bounded time.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Default: every target (fuzz/Cargo.toml), 5 s each, which keeps CI's budget;
# FUZZ_SECONDS sets the time per target too (a longer run: FUZZ_SECONDS=600).
# Targets: decap, config, responder, encap_options, segment, access.
#
# Needs cargo-fuzz (installed here if missing). Only a stable toolchain is
# available, so libFuzzer's nightly-only flags are unlocked with
# RUSTC_BOOTSTRAP=1 and the toolchain is pinned to stable; the sanitizer is
# off (`-s none`: AddressSanitizer needs -Zsanitizer and a std built for it;
# the code under test has no `unsafe`, so bounds are checked anyway).
# The corpora are also replayed by a plain `cargo test`
# (tests/lib_fuzz_corpus.rs, through the same checks: fuzz/checks.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-${FUZZ_SECONDS:-5}}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(decap config responder encap_options segment access)
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
tc=()
if command -v rustup >/dev/null 2>&1; then tc=(+stable); fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo "${tc[@]}" fuzz build -s none
for t in "${targets[@]}"; do
    corpus=fuzz/corpus/$t
    mkdir -p "$work/$t"
    cp -r "$corpus"/. "$work/$t"/
    echo "fuzz.sh: $t: replaying $(ls "$corpus" | wc -l) seed inputs"
    cargo "${tc[@]}" fuzz run -s none "$t" "$corpus" -- -runs=0
    echo "fuzz.sh: $t: fuzzing for ${secs}s"
    # New inputs go to a scratch copy, so the checked-in corpus stays the seeds.
    cargo "${tc[@]}" fuzz run -s none "$t" "$work/$t" "$corpus" -- \
        -max_total_time="$secs" -max_len=9100 -rss_limit_mb=1024 -print_final_stats=1
    echo "fuzz.sh: $t: no crash in ${secs}s"
done
