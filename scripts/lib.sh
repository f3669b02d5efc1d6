#!/usr/bin/env bash
# Shared helpers for the scripts. Source it: `. scripts/lib.sh`.

# EAL memory arguments: hugepages when enough are free and mounted, else
# --no-huge. Every process also gets its own --file-prefix.
#   eal_mem_args PREFIX [MB]
eal_mem_args() {
    local prefix="$1" mb="${2:-512}"
    local free
    free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
    if [ "$free" -ge $(( mb / 2 )) ] && grep -qs ' hugetlbfs ' /proc/mounts; then
        echo "--in-memory --file-prefix $prefix -m $mb"
    else
        echo "--no-huge --no-shconf -m $mb --file-prefix $prefix"
    fi
}

# Median encap or decap rate (Mpps) from the live summary lines of
# `geneve-gw run --stats-interval 1` on stdin, the first two seconds left out.
rate_gw() { # $1 = encap|decap
    python3 -c '
import re, statistics, sys
key, unit = sys.argv[1], {"Mpps": 1e6, "kpps": 1e3, "pps": 1.0}
rates = []
for line in sys.stdin:
    m = re.search(key + r" ([\d.]+) (Mpps|kpps|pps)", line)
    if m and line.startswith("encap"): rates.append(float(m.group(1)) * unit[m.group(2)])
rates = [r for r in rates[2:] if r > 0] or [0.0]
print("%.3f" % (statistics.median(rates) / 1e6))' "$1"
}

# Waits until the log LOG of the process PID has a line matching the
# extended regex PATTERN, STARTUP_TIMEOUT seconds (600) at most; if PID
# exits or time runs out, prints WHAT and the log's tail and exits 1.
#   wait_log PID LOG PATTERN WHAT
wait_log() {
    local pid="$1" log="$2" pattern="$3" what="$4"
    local deadline=$(( $(date +%s) + ${STARTUP_TIMEOUT:-600} ))
    until grep -qE "$pattern" "$log"; do
        kill -0 "$pid" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ] || { echo "$what:"; tail -5 "$log"; exit 1; }
        sleep 0.2
    done
}

# Peak resident memory (VmHWM) of the process PID, in MB.
hwm_mb() { awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$1/status"; }
