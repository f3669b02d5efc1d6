#!/usr/bin/env bash
# Draws bench-results/latest.csv as a bar chart beside it (latest.png):
# Mpps per case, one bar per implementation. gnuplot (Debian's gnuplot-nox,
# installed by scripts/setup.sh) reads the CSV directly: no Python modules
# to match to whichever python3 is on PATH, and no extra Rust build.
#
#   scripts/bench-chart.sh [CSV [PNG]]
set -euo pipefail
cd "$(dirname "$0")/.."
CSV="${1:-bench-results/latest.csv}"
PNG="${2:-${CSV%.csv}.png}"
command -v gnuplot >/dev/null || { echo "bench-chart: gnuplot missing (scripts/setup.sh installs gnuplot-nox)" >&2; exit 1; }
[ -s "$CSV" ] || { echo "bench-chart: $CSV is empty or missing" >&2; exit 1; }

# Pivot case,impl,mpps -> one row per case, one column per impl (in the
# order they first appear), "?" (gnuplot's missing value) where a case has
# no row for an impl. Rows without Mpps (instruction counts only) are left out.
TABLE="$(mktemp)"
trap 'rm -f "$TABLE"' EXIT
awk -F, 'NR > 1 && NF >= 3 && $3 != "" {
    if (!($1 in seen_case)) { seen_case[$1] = 1; cases[nc++] = $1 }
    if (!($2 in seen_impl)) { seen_impl[$2] = 1; impls[ni++] = $2 }
    v[$1, $2] = $3
}
END {
    printf "case"; for (j = 0; j < ni; j++) printf " %s", impls[j]; printf "\n"
    for (i = 0; i < nc; i++) {
        printf "%s", cases[i]
        for (j = 0; j < ni; j++) printf " %s", ((cases[i], impls[j]) in v) ? v[cases[i], impls[j]] : "?"
        printf "\n"
    }
}' "$CSV" >"$TABLE"
NCOL=$(head -1 "$TABLE" | wc -w)

gnuplot <<GP
set terminal pngcairo size 1200,560 font "DejaVu Sans,10"
set output "$PNG"
set title "geneve-gw benchmarks: Mpps per case (64-byte inner frames, one worker core)\n$(basename "$CSV"), $(date -u +%Y-%m-%d)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set ylabel "Mpps"
set yrange [0:*]
set grid ytics
set key top right autotitle columnhead
set xtics rotate by -25 nomirror
set datafile missing "?"
plot for [c=2:$NCOL] "$TABLE" using c:xtic(1)
GP
echo "wrote $PNG" >&2
