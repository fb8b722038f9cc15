#!/usr/bin/env bash
# Where a server's CPU goes under load: `perf record` of CPU 0 while dnsperf saturates it.
#
#   bench/serve/profile.sh WORK NAME hit|miss SECS -- SERVER COMMAND...
#   perf report -i /tmp/perf.NAME.WL.data --no-children --sort sym -g none -n
#
# WORK: a scratch directory kept by `KEEP_WORK=1 bench/serve/run.sh` (its NSD config, zone,
# dnspect.toml for the port, q/hit.txt). Starts NSD (CPU 1) and the server command (CPU 0; it
# must listen on the port in WORK/dnspect.toml, as every config in WORK does), warms the hit
# names, runs dnsperf (CPU 1, 16 sockets, 200 outstanding) on hits or unique miss names while
# perf samples CPU 0, and prints the queries completed: divide sample counts by it to compare
# two servers per query, e.g.
#   bench/serve/profile.sh $W dnspect miss 4 -- target/release/dnspect serve --config $W/dnspect.toml
#   bench/serve/profile.sh $W dnsdist miss 4 -- dnsdist --supervised --disable-syslog -C $W/dnsdist.conf
set -uo pipefail
[[ $# -ge 6 && $5 == -- ]] || { echo "usage: $0 WORK NAME hit|miss SECS -- COMMAND..." >&2; exit 2; }
NAME=$2
source "$(dirname "$0")/under-load.sh"
under_load_setup "$1" "$3" "$4"
shift 5
under_load_start "$@"
perf record -F 4999 -C 0 -o "/tmp/perf.$NAME.$WL.data" -- sleep "$SECS" >/dev/null 2>&1 & P=$!
done=$(under_load_run)
wait "$P" || true
echo "$NAME $WL: $done queries completed; samples in /tmp/perf.$NAME.$WL.data"
