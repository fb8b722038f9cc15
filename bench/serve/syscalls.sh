#!/usr/bin/env bash
# System calls per query of one dnspect build, by name (issue 11: batching).
#
#   bench/serve/syscalls.sh WORK BIN hit|miss [SECS]
#   RATE=20000 bench/serve/syscalls.sh ...   (dnsperf at a fixed rate instead of saturation: most
#                                             wake-ups then carry one datagram)
#
# WORK: a scratch directory kept by `KEEP_WORK=1 bench/serve/run.sh` (its NSD config, zone,
# dnspect.toml and q/hit.txt). Starts NSD (CPU 1) and BIN (CPU 0) on the bench ports, warms the
# hit names, runs dnsperf (CPU 1, 16 sockets, 200 outstanding) for SECS seconds on hits or on
# unique miss names while `perf stat` counts every syscall of BIN, and prints the counts divided
# by the queries dnsperf completed. Counts, unlike CPU time, do not move with the machine's load.
set -euo pipefail
BIN=$2
source "$(dirname "$0")/under-load.sh"
under_load_setup "$1" "$3" "${4:-4}"
under_load_start "$BIN" serve --config "$WORK/dnspect.toml"
perf stat -e 'syscalls:sys_enter_*' -p "$S" -o "$OUT/sys.txt" -- sleep "$SECS" >/dev/null 2>&1 & P=$!
done=$(under_load_run)
wait "$P" || true
echo "$WL $(basename "$BIN"): $done queries completed; system calls per query:"
awk -v d="$done" '$1 ~ /^[0-9,]+$/ { gsub(",", "", $1); if ($1 > 0) printf "  %-14s %8.3f\n", substr($2, 20), $1 / d }' "$OUT/sys.txt" | sort -k2 -g -r | head -12
