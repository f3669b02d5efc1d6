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
