#!/usr/bin/env bash
# Flat cost per packet at scale: the same gateway with one table entry and
# with ENTRIES entries (a million by default), side by side in one run, on
# the pcap -> null bed of scripts/bench.sh (net_pcap,infinite_rx=1 into the
# worker, net_null as the sink, one worker core, no hugepages: the pcap's
# frames are held in mbufs, about 2.3 KB each, 2^18 of them by default).
#
# Cases: encap-l2 (static MACs of one segment), encap-l3 (IPv4 /32
# routes), decap (VNIS VNIs, 65,536 by default). The large gateway's frames
# go each to a different entry, drawn at random from the whole table (every
# entry when FRAMES >= the entries); the small one's, the same number of
# frames of the same sizes and flows, all to its one entry
# (scripts/scale-bench-inputs.py). Encap destinations use REMOTES remote
# VTEPs (templates), 64,000 by default.
#
#   scripts/bench-scale.sh                               # all three cases
#   CASES=decap RUNS=5 scripts/bench-scale.sh
#   ENTRIES=100000 FRAMES=131072 scripts/bench-scale.sh  # another scale
#   INSTRUCTIONS=1 scripts/bench-scale.sh                # also callgrind
#   INSTRUCTIONS=1 CACHE_SIM=1 ENTRIES=100000 FRAMES=131072 RUNS=1 SECONDS_PER_RUN=1 \
#       scripts/bench-scale.sh                           # and cache misses per packet
#   ENTRY_COUNTERS=off scripts/bench-scale.sh            # per-entry counters off
#   scripts/bench.sh scale                               # the same
#
# Prints per case Mpps of each gateway (median of RUNS runs of
# SECONDS_PER_RUN seconds, the two alternating) and many/one, then the same
# per second of the worker thread's CPU time (packets received over the
# lcore thread's utime+stime: the rate with the core to itself, which a
# loaded host does not move by whole time slices); writes
# bench-results/scale.csv. With INSTRUCTIONS=1, also instructions per packet
# on the worker under callgrind (as scripts/bench-instructions.sh, over
# IR_PACKETS packets: by default as many as the large table has entries,
# so every entry is looked up once; the table's loading runs under
# valgrind too, which takes minutes at a million entries). CACHE_SIM=1
# adds callgrind's cache simulation (--cache-sim=yes with the D1 and LL
# caches given by CACHE_D1 and CACHE_LL, by default this host's 48 KiB L1
# data cache and 32 MiB L3) and prints after the instructions, per packet
# on the worker, the D1 misses (reads and writes) and the LL misses: the
# exact companion of the CPU-time ratio, which the host's other load moves.
# ENTRY_COUNTERS=off runs both gateways without their per-tunnel and per-VNI
# counters (`metrics: { entry_counters: false }`), to see the counters'
# share at scale; on by default, as the gateway.
#
# GW_B=<another geneve-gw binary> compares two builds instead, on the
# large table only: RUNS pairs, GW and GW_B alternating (which goes first
# alternates too), SECONDS_PER_RUN seconds each; prints per pair the rate
# per worker CPU second of each and their ratio, then the medians and the
# median of the pair ratios (a change of a few percent shows there, where
# the host's other load moves single runs by a third); writes
# bench-results/scale-ab.csv.
#   GW=target/release/geneve-gw GW_B=/path/to/other RUNS=8 SECONDS_PER_RUN=5 \
#       CASES=encap-l2 scripts/bench-scale.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

RUNS="${RUNS:-3}"
SECS="${SECONDS_PER_RUN:-6}"
CASES="${CASES:-encap-l2 encap-l3 decap}"
ENTRIES="${ENTRIES:-1000000}"
VNIS="${VNIS:-65536}"
# Frames in the pcap, each to its own entry (a random sample of the table
# when there are fewer frames than entries): net_pcap keeps every frame in
# an mbuf, and EAL without hugepages here makes no pool much over 300,000.
FRAMES="${FRAMES:-262144}"
REMOTES="${REMOTES:-64000}"
ENTRY_COUNTERS="${ENTRY_COUNTERS:-on}"
# Seconds a gateway may take to load its tables before it must report.
LOAD_SECS="${LOAD_SECS:-300}"
OUT="${BENCH_OUT:-bench-results}"
W="$OUT/work-scale"
PREFIX="bench-scale-$$"
trap 'rm -rf /var/run/dpdk/"$PREFIX"' EXIT
[ "${SKIP_SETUP:-0}" = 1 ] || bash scripts/setup.sh >/dev/null 2>&1
if [ -z "${GW:-}" ]; then
    cargo build --release --quiet
    GW="${CARGO_TARGET_DIR:-target}/release/geneve-gw"
fi
mkdir -p "$W"
# Mbufs for the frames plus the ports' and workers' own, with room.
MEM_MB=$(( (FRAMES + 16384) * 2432 / 1048576 + 512 ))

entries_of() { if [ "$1" = decap ]; then echo "$VNIS"; else echo "$ENTRIES"; fi; }
frames_of() { if [ "$1" = decap ]; then echo $(( FRAMES < VNIS * 4 ? FRAMES : VNIS * 4 )); else echo "$FRAMES"; fi; }

# One run of CFG: starts the gateway, waits for its first live summary (the
# tables are loaded), lets it run SECS seconds more, stops it with SIGINT;
# prints the median rate (Mpps) of the seconds after the first two.
run_gw() { # case cfg
    local log="$W/gw.log" pid waited=0
    # Emptied here, not by the redirection below: the background job may
    # open it only after the first look for a summary line.
    : >"$log"
    "${RUN_GW:-$GW}" run -c "$2" --stats-interval 1 >>"$log" 2>&1 </dev/null &
    pid=$!
    until grep -q '^encap' "$log" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null || [ "$waited" -ge "$LOAD_SECS" ]; then
            kill -INT "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            echo "geneve-gw did not start on $2, see $log" >&2
            tail -5 "$log" >&2
            echo 0
            return
        fi
        sleep 1
        waited=$((waited + 1))
    done
    sleep "$((SECS + 2))"
    # CPU seconds of the worker (the EAL's lcore thread, rte-worker-N; it runs from the
    # first packet to the stop) so far.
    local cpu
    cpu=$(grep -hE '\((rte|lcore)-worker' /proc/"$pid"/task/*/stat 2>/dev/null | awk -v hz="$(getconf CLK_TCK)" \
        '{ sub(/^.*\) /, ""); t += $12 + $13 } END { printf "%.2f", t / hz }')
    # Until it stops (freeing a million entries takes a moment).
    while kill -INT "$pid" 2>/dev/null; do
        sleep 2
    done
    wait "$pid" 2>/dev/null || true
    local port wall rx
    case "$1" in encap-*) wall=$(rate_gw encap <"$log"); port=acc ;; *) wall=$(rate_gw decap <"$log"); port=ul ;; esac
    rx=$(awk -v p="($port):" '$1 == "port" && $3 == p { for (i = 3; i <= NF; i++) if ($i == "rx") { print $(i + 1); exit } }' "$log")
    # Packets per second of the worker's CPU time: what the rate would be
    # with the core to itself (the host's other load takes whole time
    # slices from the worker and moves the wall-clock rate by 2x or more).
    python3 -c 'import sys; w, r, c = sys.argv[1:]; print(w, "%.3f" % (int(r or 0) / float(c) / 1e6 if float(c or 0) > 0 else 0))' "$wall" "${rx:-0}" "${cpu:-0}"
}

CACHE_D1="${CACHE_D1:-49152,12,64}"
CACHE_LL="${CACHE_LL:-33554432,16,64}"
ipp() { # case cfg packets: instructions per packet on the worker (and with
        # CACHE_SIM=1 "ipp/D1 misses/LL misses" per packet)
    local cg="$W/callgrind.out" log="$W/ir.log" totals rx port sim=()
    [ "${CACHE_SIM:-0}" = 1 ] && sim=(--cache-sim=yes "--D1=$CACHE_D1" "--LL=$CACHE_LL")
    rm -f "$cg"
    valgrind --tool=callgrind --fair-sched=yes --toggle-collect='*GatewayWorker*run*' "${sim[@]}" \
        --callgrind-out-file="$cg" "$GW" run -c "$2" --stop-after-packets "$3" >"$log" 2>&1 </dev/null || {
        echo "nan"; return; }
    # The events line names the columns of the totals line.
    totals=$(callgrind_annotate "$cg" 2>/dev/null | awk '/^Events shown:/ && !e++ { sub(/^Events shown: */, ""); ev = $0 }
        /PROGRAM TOTALS/ && !n++ { gsub(",", ""); print ev; print; exit }')
    case "$1" in encap-*) port=acc ;; *) port=ul ;; esac
    rx=$(awk -v p="($port):" '$1 == "port" && $3 == p { for (i = 3; i <= NF; i++) if ($i == "rx") { print $(i + 1); exit } }' "$log")
    python3 - "${rx:-0}" "$totals" <<'PY'
import sys
rx = int(sys.argv[1] or 0)
lines = sys.argv[2].splitlines()
if rx == 0 or len(lines) < 2:
    print("nan"); sys.exit()
# Counts, then "(100.0%)" after each in newer valgrinds.
ev = dict(zip(lines[0].split(), (int(x) for x in lines[1].split() if x.isdigit())))
out = "%.1f" % (ev["Ir"] / rx)
if "D1mr" in ev:
    out += "/%.2f/%.2f" % ((ev["D1mr"] + ev["D1mw"]) / rx, (ev["DLmr"] + ev["DLmw"]) / rx)
print(out)
PY
}

median() { python3 -c 'import statistics,sys; print("%.3f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

# Two builds on the large table (GW_B, see the top).
if [ -n "${GW_B:-}" ]; then
    [ -x "$GW_B" ] || { echo "GW_B=$GW_B is not an executable" >&2; exit 1; }
    CSV="$OUT/scale-ab.csv"
    echo "counters: $ENTRY_COUNTERS; A: $GW; B: $GW_B" >&2
    echo "case,entries,pair,cpu_mpps_a,cpu_mpps_b,b_over_a" >"$CSV"
    for c in $CASES; do
        n=$(entries_of "$c")
        f=$(frames_of "$c")
        echo "  $c: writing $n entries and $f frames" >&2
        python3 scripts/scale-bench-inputs.py "$c" "$n" "$f" "$REMOTES" "$W" "$PREFIX" "$MEM_MB" "$ENTRY_COUNTERS"
        a=() b=() r=()
        for i in $(seq 1 "$RUNS"); do
            if [ $((i % 2)) = 1 ]; then
                ra=$(RUN_GW="$GW" run_gw "$c" "$W/$c-many.yaml"); rb=$(RUN_GW="$GW_B" run_gw "$c" "$W/$c-many.yaml")
            else
                rb=$(RUN_GW="$GW_B" run_gw "$c" "$W/$c-many.yaml"); ra=$(RUN_GW="$GW" run_gw "$c" "$W/$c-many.yaml")
            fi
            a+=("${ra#* }"); b+=("${rb#* }")
            r+=("$(python3 -c 'import sys; a,b=map(float,sys.argv[1:]); print("%.3f" % (b/a if a else 0))' "${a[-1]}" "${b[-1]}")")
            echo "  $c pair $i: per worker CPU second A ${a[-1]} / B ${b[-1]} Mpps, B/A ${r[-1]}" >&2
            echo "$c,$n,$i,${a[-1]},${b[-1]},${r[-1]}" >>"$CSV"
        done
        echo "$c $n entries: median A $(median "${a[@]}") Mpps, B $(median "${b[@]}") Mpps; median of B/A $(median "${r[@]}")"
        rm -f "$W/$c-one.pcap" "$W/$c-many.pcap"
    done
    echo "wrote $CSV" >&2
    exit 0
fi

CSV="$OUT/scale.csv"
echo "counters: $ENTRY_COUNTERS" >&2
echo "case,entries,mpps_one,mpps_many,many_over_one,cpu_mpps_one,cpu_mpps_many,cpu_many_over_one,ipp_one,ipp_many" >"$CSV"
printf '%-10s %9s %10s %10s %9s %9s %9s %9s %9s %9s\n' case entries "Mpps 1" "Mpps many" many/one "cpu 1" "cpu many" many/one "ipp 1" "ipp many"
for c in $CASES; do
    n=$(entries_of "$c")
    f=$(frames_of "$c")
    echo "  $c: writing $n entries and $f frames" >&2
    python3 scripts/scale-bench-inputs.py "$c" "$n" "$f" "$REMOTES" "$W" "$PREFIX" "$MEM_MB" "$ENTRY_COUNTERS"
    one=() many=() cone=() cmany=()
    for i in $(seq 1 "$RUNS"); do
        # Alternate which goes first, so neither always follows the other.
        if [ $((i % 2)) = 1 ]; then
            r1=$(run_gw "$c" "$W/$c-one.yaml"); rn=$(run_gw "$c" "$W/$c-many.yaml")
        else
            rn=$(run_gw "$c" "$W/$c-many.yaml"); r1=$(run_gw "$c" "$W/$c-one.yaml")
        fi
        one+=("${r1% *}"); many+=("${rn% *}"); cone+=("${r1#* }"); cmany+=("${rn#* }")
        echo "  $c run $i: one entry ${one[-1]} Mpps, $n entries ${many[-1]} Mpps;" \
            "per worker CPU second ${cone[-1]} / ${cmany[-1]} Mpps" >&2
    done
    m1=$(median "${one[@]}"); mn=$(median "${many[@]}")
    ratio=$(python3 -c 'import sys; a,b=map(float,sys.argv[1:]); print("%.3f" % (b/a if a else 0))' "$m1" "$mn")
    c1=$(median "${cone[@]}"); cn=$(median "${cmany[@]}")
    cratio=$(python3 -c 'import sys; a,b=map(float,sys.argv[1:]); print("%.3f" % (b/a if a else 0))' "$c1" "$cn")
    i1=- in=-
    if [ "${INSTRUCTIONS:-0}" = 1 ]; then
        command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
        p="${IR_PACKETS:-$n}"
        i1=$(ipp "$c" "$W/$c-one.yaml" "$p"); in=$(ipp "$c" "$W/$c-many.yaml" "$p")
    fi
    printf '%-10s %9s %10s %10s %9s %9s %9s %9s %9s %9s\n' "$c" "$n" "$m1" "$mn" "$ratio" "$c1" "$cn" "$cratio" "$i1" "$in"
    echo "$c,$n,$m1,$mn,$ratio,$c1,$cn,$cratio,$i1,$in" >>"$CSV"
    rm -f "$W/$c-one.pcap" "$W/$c-many.pcap"
done
echo "wrote $CSV" >&2
