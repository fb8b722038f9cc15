#!/usr/bin/env bash
# Server CPU per query of one server command under load, for quick A/B checks between two
# builds or configs (the peer run, `run.sh`, is what verdicts come from).
#
#   bench/serve/cpu.sh WORK hit|miss SECS -- SERVER COMMAND...
#   RATE=20000 bench/serve/cpu.sh ...     (dnsperf at a fixed rate instead of saturation)
#
# WORK: a scratch directory kept by `KEEP_WORK=1 bench/serve/run.sh`. Starts NSD (CPU 1) and
# the command (CPU 0), warms the hit names, runs dnsperf (CPU 1) for SECS seconds and prints
# the queries completed and the server's on-CPU time per query (all its threads'
# /proc/PID/task/*/schedstat field 1, after less before), as run.sh measures it.
set -uo pipefail
[[ $# -ge 5 && $4 == -- ]] || { echo "usage: $0 WORK hit|miss SECS -- COMMAND..." >&2; exit 2; }
source "$(dirname "$0")/under-load.sh"
under_load_setup "$1" "$2" "$3"
shift 4
under_load_start "$@"
oncpu() { cat /proc/"$S"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%d\n", s }'; }
before=$(oncpu)
done=$(under_load_run)
after=$(oncpu)
awk -v d="${done:-0}" -v ns=$((after - before)) -v wl="$WL" \
    'BEGIN { if (d > 0) printf "%s: %d queries, %.3f us server CPU per query\n", wl, d, ns / d / 1000; else print wl ": no queries completed"; }'
