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
WORK=$1 NAME=$2 WL=$3 SECS=$4
shift 4
[[ ${1:-} == -- ]] && shift
[[ -d $WORK/nsd && -f $WORK/dnspect.toml && -f $WORK/q/hit.txt && $# -gt 0 ]] || { echo "usage: $0 WORK NAME hit|miss SECS -- COMMAND..." >&2; exit 2; }
[[ $WL == hit || $WL == miss ]] || { echo "workload: hit or miss" >&2; exit 2; }
PORT=$(awk -F'[:"]' '/^listen/ { print $(NF-1) }' "$WORK/dnspect.toml")
OUT=$(mktemp -d)
cleanup() { [[ -n ${S:-} ]] && kill "$S" 2>/dev/null; [[ -n ${NSD:-} ]] && kill "$NSD" 2>/dev/null; wait 2>/dev/null; rm -rf "$OUT"; }
trap cleanup EXIT
taskset -c 1 nsd -d -c "$WORK/nsd/nsd.conf" >"$OUT/nsd.log" 2>&1 & NSD=$!
sleep 0.5
taskset -c 0 "$@" >"$OUT/srv.log" 2>&1 </dev/null & S=$!
sleep 1
timeout 60 dnsperf -s 127.0.0.1 -p "$PORT" -d "$WORK/q/hit.txt" -n 4 -Q 20000 -t 2 >/dev/null 2>&1 || true
if [[ $WL == miss ]]; then
    python3 -c "
import random
for i in range(100000 * $SECS): print(f's{random.getrandbits(48):x}.miss.bench A')" >"$OUT/q.txt"
    Q=$OUT/q.txt N=(-n 1)
else
    Q=$WORK/q/hit.txt N=()
fi
perf record -F 4999 -C 0 -o "/tmp/perf.$NAME.$WL.data" -- sleep "$SECS" >/dev/null 2>&1 & P=$!
timeout $((SECS + 30)) taskset -c 1 dnsperf -s 127.0.0.1 -p "$PORT" -d "$Q" -c 16 -T 1 -t 2 -b 4096 -q 200 -l "$SECS" "${N[@]}" >"$OUT/dnsperf.txt" 2>&1 || true
wait "$P" || true
echo "$NAME $WL: $(awk '/Queries completed:/ { print $3 }' "$OUT/dnsperf.txt") queries completed; samples in /tmp/perf.$NAME.$WL.data"
