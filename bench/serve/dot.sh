#!/usr/bin/env bash
# DNS-over-TLS upstreams: the cache-miss path of `dnspect serve` to one upstream over UDP, TCP
# (force_tcp) and TLS (tls://...), and Unbound forwarding over TLS (forward-tls-upstream) as the
# peer, in the same run, interleaved over ROUNDS rounds; medians printed.
#
#   bench/serve/dot.sh                 ROUNDS=3 SECS=5 (about 2 minutes once built)
#
# The upstream is Unbound answering every name under miss.bench. from local data (a redirect
# zone), over plain DNS on one port and DNS over TLS on another (a test CA made here by
# openssl). dnsperf sends unique names (every query a cache miss) from one closed loop with
# Q queries outstanding (300,000 names per run).
# Servers have one worker / thread. Environment: ROUNDS, SECS, Q,
# DNSPECT_BIN (skip the release build), DNSPECT_BASE_BIN (another build, run as base-tcp and
# base-tls with the same settings: a before/after comparison within the run).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-5}
Q=${Q:-20}
W=$(mktemp -d /tmp/dnspect-dot-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
if [[ -z "${DNSPECT_BIN:-}" ]]; then
    cargo build --release -q -p dnspect --bin dnspect
    DNSPECT_BIN=target/release/dnspect
fi
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

cd "$W"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
    -days 2 -subj "/CN=bench CA" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr \
    -subj "/CN=dns.example" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:dns.example\n' >server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 \
    -extfile server.ext 2>/dev/null

TLS=$(port); PLAIN=$(port)
cat >up.conf <<EOF
server:
  interface: 127.0.0.1@$TLS
  interface: 127.0.0.1@$PLAIN
  tls-port: $TLS
  tls-service-key: "$W/server.key"
  tls-service-pem: "$W/server.pem"
  port: $PLAIN
  username: ""
  chroot: ""
  directory: "$W"
  pidfile: "$W/up.pid"
  use-syslog: no
  logfile: "$W/up.log"
  do-ip6: no
  do-daemonize: no
  num-threads: 1
  incoming-num-tcp: 100
  local-zone: "miss.bench." redirect
  local-data: "miss.bench. 300 IN A 192.0.2.1"
remote-control:
  control-enable: no
EOF
unbound -d -c up.conf >up.out 2>&1 &
PIDS+=($!)
sleep 1


start() { # mode -> starts the server on $SRV, sets SPID
    local mode=$1
    SRV=$(port)
    case $mode in
    dnspect-* | base-*)
        local up bin=$DNSPECT_BIN
        [[ $mode == base-* ]] && bin=$DNSPECT_BASE_BIN
        case $mode in
        *-udp) up="\"127.0.0.1:$PLAIN\"" ;;
        *-tcp) up="{ address = \"127.0.0.1:$PLAIN\", force_tcp = true }" ;;
        *-tls) up="\"tls://127.0.0.1:$TLS#dns.example\"" ;;
        esac
        MPORT=$(port)
        printf 'listen = ["127.0.0.1:%s"]\nupstreams = [%s]\ntls_ca = "%s/ca.pem"\nmetrics = "127.0.0.1:%s"\nworkers = 1\n' \
            "$SRV" "$up" "$W" "$MPORT" >"$mode.toml"
        [[ $bin == /* ]] || bin=$OLDPWD/$bin
        "$bin" serve --config "$mode.toml" >"$mode.log" 2>&1 &
        ;;
    unbound-tls)
        cat >fwd.conf <<EOF
server:
  interface: 127.0.0.1@$SRV
  port: $SRV
  username: ""
  chroot: ""
  directory: "$W"
  pidfile: "$W/fwd.pid"
  use-syslog: no
  do-ip6: no
  do-daemonize: no
  num-threads: 1
  do-not-query-localhost: no
  tls-cert-bundle: "$W/ca.pem"
  msg-cache-size: 64m
  rrset-cache-size: 64m
remote-control:
  control-enable: no
forward-zone:
  name: "."
  forward-tls-upstream: yes
  forward-addr: 127.0.0.1@$TLS#dns.example
EOF
        unbound -d -c fwd.conf >fwd.log 2>&1 &
        ;;
    esac
    SPID=$!
    PIDS+=("$SPID")
    for _ in $(seq 50); do
        dig +short +tries=1 +time=1 -p "$SRV" @127.0.0.1 warm.miss.bench A >/dev/null 2>&1 && return
        sleep 0.1
    done
    echo "$mode did not start" >&2
    exit 1
}

MODES="dnspect-udp dnspect-tcp dnspect-tls unbound-tls"
[[ -n "${DNSPECT_BASE_BIN:-}" ]] && MODES="$MODES base-tcp base-tls"
RUNS=$((ROUNDS * $(wc -w <<<"$MODES")))
# Unique names: 300,000 per run, more than one sends in SECS.
python3 -c "
import random
r = random.Random(7)
with open('names', 'w') as f:
    for i in range($RUNS * 300_000):
        f.write('q%d-%d.miss.bench A\n' % (i, r.randrange(1 << 30)))
"
OFFSET=0
for r in $(seq "$ROUNDS"); do
    for mode in $MODES; do
        start "$mode"
        # Each run its own slice of the names: every query a miss.
        sed -n "$((OFFSET + 1)),$((OFFSET + 300000))p" names >run.names
        OFFSET=$((OFFSET + 300000))
        out=$(dnsperf -s 127.0.0.1 -p "$SRV" -d run.names -l "$SECS" -q "$Q" -c 1 2>&1)
        qps=$(awk '/Queries per second/ {print $4}' <<<"$out")
        lat=$(awk '/Average Latency/ {print $4}' <<<"$out")
        lost=$(awk '/Queries lost/ {print $3}' <<<"$out")
        hs=""
        if [[ $mode == *-tls && $mode != unbound-tls ]]; then
            hs=$(curl -s "http://127.0.0.1:$MPORT/metrics" 2>/dev/null | awk '/^dnspect_upstream_tls_handshakes_total\{reason="ok"\}/ {print $2}' || true)
        fi
        echo "$r $mode $qps $lat $lost $hs" | tee -a results
        kill "$SPID"; wait "$SPID" 2>/dev/null || true
    done
done
echo
echo "median over $ROUNDS rounds (dnsperf -q $Q -l $SECS, unique names, one worker/thread):"
printf "%-12s %12s %14s %s\n" server "queries/s" "avg latency s" "TLS handshakes in a run"
for mode in $MODES; do
    awk -v m="$mode" '$2 == m' results | sort -k3 -n | awk -v n="$ROUNDS" -v m="$mode" \
        'NR == int((n + 1) / 2) {q = $3; l = $4} {h = $6} END {printf "%-12s %12s %14s %s\n", m, q, l, h}'
done
