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
WORK=$1 BIN=$2 WL=$3 SECS=${4:-4}
[[ -d $WORK/nsd && -f $WORK/dnspect.toml && -f $WORK/q/hit.txt ]] || { echo "not a kept bench scratch dir: $WORK" >&2; exit 2; }
[[ $WL == hit || $WL == miss ]] || { echo "workload: hit or miss" >&2; exit 2; }
PORT=$(awk -F'[:"]' '/^listen/ { print $(NF-1) }' "$WORK/dnspect.toml")
OUT=$(mktemp -d)
cleanup() { [[ -n ${S:-} ]] && kill "$S" 2>/dev/null; [[ -n ${NSD:-} ]] && kill "$NSD" 2>/dev/null; wait 2>/dev/null; rm -rf "$OUT"; }
trap cleanup EXIT
taskset -c 1 nsd -d -c "$WORK/nsd/nsd.conf" >"$OUT/nsd.log" 2>&1 & NSD=$!
sleep 0.5
taskset -c 0 "$BIN" serve --config "$WORK/dnspect.toml" >"$OUT/srv.log" 2>&1 & S=$!
sleep 0.5
timeout 60 dnsperf -s 127.0.0.1 -p "$PORT" -d "$WORK/q/hit.txt" -n 4 -Q 20000 -t 2 >/dev/null 2>&1 || true
if [[ $WL == miss ]]; then
    python3 -c "
import random
for i in range(100000 * $SECS): print(f's{random.getrandbits(48):x}.miss.bench A')" >"$OUT/q.txt"
    Q=$OUT/q.txt N=(-n 1)
else
    Q=$WORK/q/hit.txt N=()
fi
perf stat -e 'syscalls:sys_enter_*' -p "$S" -o "$OUT/sys.txt" -- sleep "$SECS" >/dev/null 2>&1 & P=$!
timeout $((SECS + 30)) taskset -c 1 dnsperf -s 127.0.0.1 -p "$PORT" -d "$Q" -c 16 -T 1 -t 2 -b 4096 -q 200 ${RATE:+-Q "$RATE"} -l "$SECS" "${N[@]}" >"$OUT/dnsperf.txt" 2>&1 || true
wait "$P" || true
done=$(awk '/Queries completed:/ { print $3 }' "$OUT/dnsperf.txt")
echo "$WL $(basename "$BIN"): $done queries completed; system calls per query:"
awk -v d="$done" '$1 ~ /^[0-9,]+$/ { gsub(",", "", $1); if ($1 > 0) printf "  %-14s %8.3f\n", substr($2, 20), $1 / d }' "$OUT/sys.txt" | sort -k2 -g -r | head -12
