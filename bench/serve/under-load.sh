# Sourced by syscalls.sh, profile.sh and cpu.sh: NSD on CPU 1 and a server on CPU 0 on the ports of a
# kept bench scratch directory, the hit names warmed, then dnsperf (CPU 1, 16 sockets, 200
# outstanding, or RATE q/s) on hits or unique miss names while the caller measures the server.
#
#   under_load_setup WORK hit|miss SECS     checks WORK; sets PORT, OUT (removed on exit)
#   under_load_start COMMAND...             starts NSD and the server (PID in S), warms, makes
#                                           the queries (Q, N)
#   under_load_run                          dnsperf for SECS; prints the queries completed

under_load_setup() {
    WORK=$1 WL=$2 SECS=$3
    [[ -d $WORK/nsd && -f $WORK/dnspect.toml && -f $WORK/q/hit.txt ]] || { echo "not a kept bench scratch dir: $WORK" >&2; exit 2; }
    [[ $WL == hit || $WL == miss ]] || { echo "workload: hit or miss" >&2; exit 2; }
    PORT=$(awk -F'[:"]' '/^listen/ { print $(NF-1) }' "$WORK/dnspect.toml")
    OUT=$(mktemp -d)
    trap under_load_cleanup EXIT
}

under_load_cleanup() {
    [[ -n ${S:-} ]] && kill "$S" 2>/dev/null
    [[ -n ${NSD:-} ]] && kill "$NSD" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$OUT"
}

under_load_start() {
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
}

under_load_run() {
    timeout $((SECS + 30)) taskset -c 1 dnsperf -s 127.0.0.1 -p "$PORT" -d "$Q" -c 16 -T 1 -t 2 -b 4096 -q 200 \
        ${RATE:+-Q "$RATE"} -l "$SECS" "${N[@]}" >"$OUT/dnsperf.txt" 2>&1 || true
    awk '/Queries completed:/ { print $3 }' "$OUT/dnsperf.txt"
}
