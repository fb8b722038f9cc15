#!/usr/bin/env bash
# dnspect serve against its peers (issue 4, "Benchmark against peers").
#
#   bench/serve/run.sh            full run: 5 interleaved rounds (~40 minutes), writes
#                                 bench/results/serve-<date>.md
#   bench/serve/run.sh --smoke    every server and workload for 2 seconds, 1 round, no re-runs,
#                                 report on stdout only (under 3 minutes once installed and built)
#
# Environment: ROUNDS, CAP_SECS (capacity run length), LAT_SECS (fixed-rate run length), LAT_RATE
# (20000), SERVERS (subset of "dnspect dnsdist unbound dnsmasq kresd echo dnspect-w2 dnspect-base"),
# OUT (report path), DNSPECT_BIN (skip the cargo build), DNSPECT_BASE_BIN (the binary "dnspect-base"
# runs: an older build, same config as "dnspect", for a before/after comparison within one run),
# DNSPECT_BASE_CONFIG_STYLE ("same", the default; "pre-10": that config in the format of builds
# before issue 10's one Config, [cache] size_mb = 1024),
# WORKLOADS (subset of "hit mix miss", the default, in that order; echo runs "hit" whatever it says),
# KEEP_WORK=1 (keep the scratch directory), MAX_SECS (hard bound on the whole script), DISTURB
# (foreign CPU, in cores, above which a run is disturbed).
#
# What it does (see bench/serve/README.md for the reasoning):
# - installs what is missing with apt-get (nsd, dnsperf, dnsdist, unbound, dnsmasq-base,
#   knot-resolver), after `apt-cache policy` says Debian has it; a peer Debian lacks is skipped
#   and the report says so;
# - builds `dnspect` (cargo build --release -p dnspect) once and runs a copy of the binary, and
#   bench/serve/echo.c (gcc), a trivial UDP echo server: the CPU-per-packet ceiling;
# - generates a zone `bench.` (1000 names h0..h999 for cache hits, a wildcard *.miss.bench for
#   unique miss names) and starts NSD on 127.0.0.1:$NSD_PORT, pinned to CPU 1, as every server's
#   upstream;
# - each round, round-robin over the servers (the order rotates every round), starts the server
#   pinned to CPU 0 with one worker and its cache on, listening on 127.0.0.1:$SRV_PORT, then for
#   each workload (hit: the 1000 warm names, warmed first; mix: 90% warm names, 10% unique; miss:
#   unique names only) runs dnsperf pinned to CPU 1:
#     capacity: closed loop (-q outstanding 200, then 100, 50, 20 while loss >= 0.1%) for
#               CAP_SECS; reports queries/s and the server's on-CPU time per answered query
#               (sum of /proc/PID/task/*/schedstat field 1 before/after, over completed queries);
#     latency:  -Q LAT_RATE for LAT_SECS with -v; average and p99 computed offline from the
#               per-query lines; also the server's CPU per query at that rate;
#   and records the server's VmHWM when it stops. "dnspect-w2" is dnspect with --workers 2, not
#   pinned (CPUs 0-1), dnsperf and NSD still on CPU 1: the scaling figure.
# - every measurement records the load average before it and the CPU used by processes other
#   than the server, NSD and dnsperf during it (from /proc/stat less theirs); above DISTURB cores
#   the run is disturbed and is re-run (up to 2 times, after waiting for a quiet second).
# - every process started is killed by PID on exit, error or signal; every command is bounded.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
export LC_ALL=C

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

# The knobs the caller set, for the report's exact command line.
CMD_ENV=""
for v in ROUNDS CAP_SECS LAT_SECS LAT_RATE RETRIES CAP_QS QUIET_WAIT WAIT_BUDGET DISTURB CLIENTS SERVERS WORKLOADS MAX_SECS DNSPECT_BIN DNSPECT_BASE_BIN DNSPECT_BASE_CONFIG_STYLE KEEP_WORK OUT; do
    [[ -n "${!v+x}" && -z "${_SERVE_BENCH_INNER:-}" ]] && CMD_ENV+="$v=$(printf '%q' "${!v}") "
done
export _SERVE_BENCH_CMD_ENV="${_SERVE_BENCH_CMD_ENV:-$CMD_ENV}"

MODE=full
for a in "$@"; do
    case "$a" in
        --smoke) MODE=smoke ;;
        -h | --help) sed -n '2,37p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "unknown argument: $a (try --help)" >&2; exit 2 ;;
    esac
done

if [[ $MODE == smoke ]]; then
    ROUNDS="${ROUNDS:-1}"; CAP_SECS="${CAP_SECS:-2}"; LAT_SECS="${LAT_SECS:-2}"; RETRIES="${RETRIES:-0}"
    MAX_SECS="${MAX_SECS:-900}"; CAP_QS="${CAP_QS:-200}"; QUIET_WAIT="${QUIET_WAIT:-0}"
else
    ROUNDS="${ROUNDS:-5}"; CAP_SECS="${CAP_SECS:-10}"; LAT_SECS="${LAT_SECS:-5}"; RETRIES="${RETRIES:-2}"
    MAX_SECS="${MAX_SECS:-10800}"; CAP_QS="${CAP_QS:-200 100 50 20}"; QUIET_WAIT="${QUIET_WAIT:-60}"
fi
# Seconds the whole run may spend waiting for quiet and re-running disturbed measurements; past
# that, measurements are taken as they come (and marked disturbed in the report).
WAIT_BUDGET="${WAIT_BUDGET:-$([[ $MODE == smoke ]] && echo 0 || echo 2400)}"
WASTED=0
BUDGET_LOGGED=0
LAT_RATE="${LAT_RATE:-20000}"
NSD_PORT="${NSD_PORT:-53530}"
SRV_PORT="${SRV_PORT:-53531}"
SERVER_CPU=0
LOAD_CPU=1
CLIENTS="${CLIENTS:-16}"          # dnsperf sockets (one thread): spread over SO_REUSEPORT workers
DISTURB="${DISTURB:-0.10}"        # foreign CPU in cores above which a run counts as disturbed
MAX_LOSS=0.1                      # percent
SERVERS="${SERVERS:-dnspect dnsdist unbound dnsmasq kresd echo dnspect-w2}"
WORKLOADS="${WORKLOADS:-hit mix miss}"
for w in $WORKLOADS; do
    case "$w" in hit | mix | miss) ;; *) echo "WORKLOADS: unknown workload '$w' (hit, mix, miss)" >&2; exit 2 ;; esac
done
# dnspect-base's config: "same" (dnspect.toml) or "pre-10" (the format before issue 10's one Config).
DNSPECT_BASE_CONFIG_STYLE="${DNSPECT_BASE_CONFIG_STYLE:-same}"
DATE="$(date +%F)"

# The whole script is bounded: re-run under timeout(1), which sends TERM (cleanup runs) at the end.
if [[ -z "${_SERVE_BENCH_INNER:-}" ]]; then
    export _SERVE_BENCH_INNER=1
    exec timeout --foreground -k 60 "$MAX_SECS" "$BASH" "${BASH_SOURCE[0]}" "$@"
fi

log() { printf '[serve-bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [[ -d /dev/shm && -w /dev/shm ]]; then WORK="$(mktemp -d /dev/shm/dnspect-bench-serve.XXXXXX)"
else WORK="$(mktemp -d)"; fi
RESULTS="$WORK/results.tsv"
META="$WORK/meta.txt"
if [[ $MODE == smoke ]]; then OUT="${OUT:-$WORK/report.md}"; else OUT="${OUT:-$ROOT/bench/results/serve-$DATE.md}"; fi

PIDS=()      # every long-running process started, killed by PID at the end
SPID=""      # the server under test
NSD_PID=""

descendants() { # pid -> its descendants' pids (from /proc, by parent pid)
    local p kids
    kids="$(awk -v p="$1" '{ pid = $1; sub(/^.*\) /, ""); if ($2 == p) print pid }' /proc/[0-9]*/stat 2>/dev/null || true)"
    for p in $kids; do echo "$p"; descendants "$p"; done
}

stop_pid() { # pid: TERM it and its descendants, wait up to 5 s, then KILL what is left
    local pid="$1" all p i
    [[ -n "$pid" && -d /proc/$pid ]] || return 0
    all="$pid $(descendants "$pid" | tr '\n' ' ')"
    for p in $all; do kill -TERM "$p" 2>/dev/null || true; done
    for i in $(seq 50); do
        local alive=0
        for p in $all; do [[ -d /proc/$p ]] && [[ "$(awk '{print $3}' /proc/$p/stat 2>/dev/null)" != Z ]] && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
    for p in $all; do kill -KILL "$p" 2>/dev/null || true; done
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    if [[ "${KEEP_WORK:-0}" == 1 ]]; then log "scratch kept in $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated (time limit MAX_SECS=$MAX_SECS or a signal)"; exit 143' TERM

# ---------------------------------------------------------------------------------------------
# Installs (apt-get only when missing, after apt-cache policy says Debian has the package).
APT_UPDATED=0
SKIPPED=()
have_or_install() { # binary package -> 0 when the binary is there (installed if needed)
    local bin="$1" pkg="$2" cand
    command -v "$bin" >/dev/null 2>&1 && return 0
    if ((!APT_UPDATED)); then
        log "apt-get update"
        timeout 300 apt-get update -qq >&2 || log "apt-get update failed; trying with the lists at hand"
        APT_UPDATED=1
    fi
    cand="$(timeout 60 apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ { print $2 }')"
    if [[ -z "$cand" || "$cand" == "(none)" ]]; then
        log "Debian here has no package $pkg (apt-cache policy: no candidate)"
        return 1
    fi
    log "installing $pkg $cand"
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends "$pkg" >&2 \
        || { log "apt-get install $pkg failed"; return 1; }
    command -v "$bin" >/dev/null 2>&1
}

have_or_install nsd nsd || die "NSD is required (the shared upstream)"
have_or_install dnsperf dnsperf || die "dnsperf is required (the load)"
have_or_install taskset util-linux || die "taskset is required"
have_or_install gcc gcc || die "gcc is required (echo server)"
have_or_install python3 python3 || die "python3 is required (report)"
declare -A PEER_BIN=([dnsdist]=dnsdist [unbound]=unbound [dnsmasq]=dnsmasq [kresd]=kresd)
declare -A PEER_PKG=([dnsdist]=dnsdist [unbound]=unbound [dnsmasq]=dnsmasq-base [kresd]=knot-resolver)
run_servers=()
for s in $SERVERS; do
    if [[ -n "${PEER_BIN[$s]:-}" ]] && ! have_or_install "${PEER_BIN[$s]}" "${PEER_PKG[$s]}"; then
        SKIPPED+=("$s (package ${PEER_PKG[$s]} not available or not installable here)")
        continue
    fi
    run_servers+=("$s")
done

# ---------------------------------------------------------------------------------------------
# Builds: dnspect once (a copy of the binary is what runs), the echo server.
if [[ -n "${DNSPECT_BIN:-}" ]]; then
    cp "$DNSPECT_BIN" "$WORK/dnspect"
else
    log "building dnspect (cargo build --release -p dnspect)"
    timeout 1800 cargo build --release -p dnspect >&2 || die "cargo build failed"
    cp "${CARGO_TARGET_DIR:-$ROOT/target}/release/dnspect" "$WORK/dnspect"
fi
if [[ " ${run_servers[*]} " == *" dnspect-base "* ]]; then
    [[ -n "${DNSPECT_BASE_BIN:-}" && -x "${DNSPECT_BASE_BIN}" ]] || die "dnspect-base needs DNSPECT_BASE_BIN (an executable dnspect binary)"
    cp "$DNSPECT_BASE_BIN" "$WORK/dnspect-base"
fi
timeout 120 gcc -O2 -Wall -o "$WORK/echo" "$HERE/echo.c" || die "cannot build the echo server"

# ---------------------------------------------------------------------------------------------
# Machine and versions.
{
    echo "mode=$MODE"
    echo "command=${_SERVE_BENCH_CMD_ENV}bench/serve/run.sh $*"
    echo "env=ROUNDS=$ROUNDS CAP_SECS=$CAP_SECS LAT_SECS=$LAT_SECS LAT_RATE=$LAT_RATE CLIENTS=$CLIENTS WORKLOADS='$WORKLOADS' RETRIES=$RETRIES CAP_QS='$CAP_QS' QUIET_WAIT=$QUIET_WAIT WAIT_BUDGET=$WAIT_BUDGET DISTURB=$DISTURB"
    echo "started=$(date -u +%FT%TZ)"
    echo "nproc=$(nproc)"
    echo "cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
    echo "mem=$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "kernel=$(uname -r)"
    echo "virt=$(lscpu 2>/dev/null | awk -F': +' '/Hypervisor vendor/ { print $2 }')"
    echo "sockbuf=net.core.rmem_max $(cat /proc/sys/net/core/rmem_max), rmem_default $(cat /proc/sys/net/core/rmem_default)"
    echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "dnspect=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null) ($(git -C "$ROOT" status --porcelain -- native core 2>/dev/null | wc -l) file(s) under native/ core/ modified in the work tree at build time)"
    echo "dnspect_bin=${DNSPECT_BIN:-(built here)} sha256 $(sha256sum "$WORK/dnspect" | cut -c1-16)"
    [[ -x "$WORK/dnspect-base" ]] && echo "dnspect_base=${DNSPECT_BASE_BIN} sha256 $(sha256sum "$WORK/dnspect-base" | cut -c1-16)"
    [[ -x "$WORK/dnspect-base" ]] && echo "dnspect_base_config=$DNSPECT_BASE_CONFIG_STYLE"
    echo "rustc=$(rustc --version 2>/dev/null)"
    echo "nsd=$(nsd -v 2>&1 | head -1)"
    echo "dnsperf=$(dnsperf -h 2>&1 | awk '/^Version/ { print $2 }')"
    for s in "${run_servers[@]}"; do
        case "$s" in
            dnsdist) echo "dnsdist=$(dnsdist --version 2>&1 | head -1)" ;;
            unbound) echo "unbound=$(unbound -V 2>&1 | head -1)" ;;
            dnsmasq) echo "dnsmasq=$(dnsmasq --version 2>&1 | head -1)" ;;
            kresd) echo "kresd=$(kresd --version 2>&1 | head -1)" ;;
        esac
    done
    for s in "${SKIPPED[@]}"; do echo "skipped=$s"; done
} >"$META"

# ---------------------------------------------------------------------------------------------
# Zone and query files.
mkdir -p "$WORK/nsd" "$WORK/q"
{
    echo '$TTL 86400'
    echo '@ SOA ns.bench. hostmaster.bench. 1 3600 600 86400 3600'
    echo '@ NS ns.bench.'
    echo 'ns A 127.0.0.1'
    awk 'BEGIN { for (i = 0; i < 1000; i++) printf "h%d A 10.0.%d.%d\n", i, int(i / 256), i % 256 }'
    echo '*.miss A 192.0.2.1'
} >"$WORK/nsd/bench.zone"
awk 'BEGIN { for (i = 0; i < 1000; i++) printf "h%d.bench A\n", i }' >"$WORK/q/hit.txt"
echo "h0.bench A" >"$WORK/q/probe.txt"

gen_queries() { # workload tag count file: unique names under miss.bench (mix: 1 in 10)
    awk -v w="$1" -v t="$2" -v n="$3" 'BEGIN {
        for (i = 0; i < n; i++) {
            if (w == "miss" || i % 10 == 9) printf "%s-%d.miss.bench A\n", t, i
            else printf "h%d.bench A\n", (i * 37) % 1000
        }
    }' >"$4"
}

# ---------------------------------------------------------------------------------------------
# NSD, the shared authoritative upstream, on CPU 1 with dnsperf (CPU 0 is the server's alone).
cat >"$WORK/nsd/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@$NSD_PORT
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "$WORK/nsd"
    database: ""
    zonelistfile: "$WORK/nsd/zone.list"
    xfrdfile: "$WORK/nsd/xfrd.state"
    pidfile: "$WORK/nsd/nsd.pid"
    logfile: "$WORK/nsd/nsd.log"
    verbosity: 0
    hide-version: yes
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
    refuse-any: yes
remote-control:
    control-enable: no
zone:
    name: "bench."
    zonefile: "bench.zone"
EOF
timeout 30 nsd-checkconf "$WORK/nsd/nsd.conf" || die "bad nsd.conf"

ask_once() { # port -> 0 when the probe name is answered
    timeout 5 dnsperf -s 127.0.0.1 -p "$1" -d "$WORK/q/probe.txt" -n 1 -t 1 2>/dev/null |
        grep -q 'Queries completed: *1 '
}
wait_ready() { # port pid what
    local i
    for i in $(seq 100); do
        ask_once "$1" && return 0
        [[ -d /proc/$2 ]] || die "$3 exited at start (log: $(tail -5 "$WORK"/*.log 2>/dev/null | tr '\n' ' '))"
        sleep 0.2
    done
    die "$3 does not answer on port $1"
}

for port in "$NSD_PORT" "$SRV_PORT"; do
    ask_once "$port" && die "something already answers on 127.0.0.1:$port (set NSD_PORT / SRV_PORT)"
done
taskset -c "$LOAD_CPU" nsd -d -c "$WORK/nsd/nsd.conf" >"$WORK/nsd.log" 2>&1 &
NSD_PID=$!
PIDS+=("$NSD_PID")
wait_ready "$NSD_PORT" "$NSD_PID" nsd
log "NSD up (pid $NSD_PID, CPU $LOAD_CPU) on 127.0.0.1:$NSD_PORT"

# ---------------------------------------------------------------------------------------------
# Servers: one worker, cache on, no DNSSEC validation, logging off, big cache.
write_configs() {
    cat >"$WORK/dnspect.toml" <<EOF
listen = ["127.0.0.1:$SRV_PORT"]
upstreams = ["127.0.0.1:$NSD_PORT"]
metrics = ""
workers = 1
log_queries = false
[engine.cache]
size = "1GiB"
EOF
    sed 's/^workers = 1/workers = 2/' "$WORK/dnspect.toml" >"$WORK/dnspect-w2.toml"
    # dnspect-base: the same meaning, in the format its (older) build reads.
    case "$DNSPECT_BASE_CONFIG_STYLE" in
        same) cp "$WORK/dnspect.toml" "$WORK/dnspect-base.toml" ;;
        pre-10) # before issue 10's one Config: [cache] size_mb (MiB), no [engine.cache]
            cat >"$WORK/dnspect-base.toml" <<EOF
listen = ["127.0.0.1:$SRV_PORT"]
upstreams = ["127.0.0.1:$NSD_PORT"]
metrics = ""
workers = 1
log_queries = false
[cache]
size_mb = 1024
EOF
            ;;
        *) die "DNSPECT_BASE_CONFIG_STYLE must be same or pre-10, not '$DNSPECT_BASE_CONFIG_STYLE'" ;;
    esac
    cat >"$WORK/dnsdist.conf" <<EOF
-- no security polling (it would query outside), one UDP listener thread, one backend socket
setSecurityPollSuffix("")
setLocal("127.0.0.1:$SRV_PORT")
setMaxTCPClientThreads(1)
setUDPSocketBufferSizes(4194304, 4194304)
newServer({address="127.0.0.1:$NSD_PORT", sockets=1, checkInterval=60})
pc = newPacketCache(2000000, {maxTTL=86400})
getPool(""):setCache(pc)
EOF
    mkdir -p "$WORK/unbound" "$WORK/kresd"
    cat >"$WORK/unbound.conf" <<EOF
server:
    interface: 127.0.0.1@$SRV_PORT
    num-threads: 1
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "$WORK/unbound"
    pidfile: ""
    logfile: ""
    use-syslog: no
    verbosity: 0
    log-queries: no
    log-replies: no
    module-config: "iterator"
    do-not-query-localhost: no
    msg-cache-size: 512m
    msg-cache-slabs: 1
    rrset-cache-size: 1024m
    rrset-cache-slabs: 1
    infra-cache-slabs: 1
    key-cache-slabs: 1
    num-queries-per-thread: 4096
    outgoing-range: 8192
    so-rcvbuf: 4m
    so-sndbuf: 4m
    statistics-interval: 0
    access-control: 127.0.0.0/8 allow
forward-zone:
    name: "."
    forward-addr: 127.0.0.1@$NSD_PORT
remote-control:
    control-enable: no
EOF
    cat >"$WORK/kresd.conf" <<EOF
net.listen('127.0.0.1', $SRV_PORT, { kind = 'dns' })
cache.size = 1024 * MB
trust_anchors.remove('.')
modules.unload('priming')
modules.unload('detect_time_skew')
modules.unload('ta_update')
policy.add(policy.all(policy.FORWARD('127.0.0.1@$NSD_PORT')))
log_level('warning')
EOF
}
write_configs
[[ " ${run_servers[*]} " == *" unbound "* ]] && { timeout 30 unbound-checkconf "$WORK/unbound.conf" >&2 || die "bad unbound.conf"; }
[[ " ${run_servers[*]} " == *" dnspect "* ]] && { timeout 30 "$WORK/dnspect" check-config "$WORK/dnspect.toml" >&2 || die "bad dnspect.toml"; }
# dnspect-base gets dnspect-base.toml (the same file, or the same meaning in its older format).
[[ " ${run_servers[*]} " == *" dnspect-base "* ]] && { timeout 30 "$WORK/dnspect-base" check-config "$WORK/dnspect-base.toml" >&2 || die "bad dnspect-base.toml (DNSPECT_BASE_CONFIG_STYLE=$DNSPECT_BASE_CONFIG_STYLE) for dnspect-base"; }

start_server() { # name -> SPID
    local s="$1" cpus="$SERVER_CPU"
    [[ "$s" == dnspect-w2 ]] && cpus="0,1"
    case "$s" in
        dnspect) taskset -c "$cpus" "$WORK/dnspect" serve --config "$WORK/dnspect.toml" >"$WORK/$s.log" 2>&1 & ;;
        dnspect-w2) taskset -c "$cpus" "$WORK/dnspect" serve --config "$WORK/dnspect-w2.toml" >"$WORK/$s.log" 2>&1 & ;;
        dnspect-base) taskset -c "$cpus" "$WORK/dnspect-base" serve --config "$WORK/dnspect-base.toml" >"$WORK/$s.log" 2>&1 & ;;
        dnsdist) taskset -c "$cpus" dnsdist --supervised --disable-syslog -C "$WORK/dnsdist.conf" >"$WORK/$s.log" 2>&1 </dev/null & ;;
        unbound) taskset -c "$cpus" unbound -d -c "$WORK/unbound.conf" >"$WORK/$s.log" 2>&1 & ;;
        dnsmasq)
            taskset -c "$cpus" dnsmasq -k --conf-file=/dev/null --no-resolv --no-hosts --no-poll \
                --server="127.0.0.1#$NSD_PORT" --listen-address=127.0.0.1 --bind-interfaces \
                --port="$SRV_PORT" --cache-size=1000000 --dns-forward-max=4096 --pid-file= \
                --log-facility=- >"$WORK/$s.log" 2>&1 & ;;
        kresd) rm -rf "$WORK/kresd"; mkdir -p "$WORK/kresd"
            taskset -c "$cpus" kresd -n -c "$WORK/kresd.conf" "$WORK/kresd" >"$WORK/$s.log" 2>&1 </dev/null & ;;
        echo) taskset -c "$cpus" "$WORK/echo" 127.0.0.1 "$SRV_PORT" >"$WORK/$s.log" 2>&1 & ;;
        *) die "unknown server $s" ;;
    esac
    SPID=$!
    PIDS+=("$SPID")
    wait_ready "$SRV_PORT" "$SPID" "$s"
}

stop_server() {
    stop_pid "$SPID"
    local p keep=()
    for p in "${PIDS[@]}"; do [[ "$p" != "$SPID" ]] && keep+=("$p"); done
    PIDS=("${keep[@]}")
    SPID=""
}

# ---------------------------------------------------------------------------------------------
# Measurement helpers. CPU time: ns on CPU from schedstat (per thread, summed), ticks from stat.
task_ns() { # pid -> ns on CPU, all its live threads
    cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'
}
tree_ticks() { # pid... -> utime+stime ticks (incl. exited threads) of them and their descendants
    local p all=""
    for p in "$@"; do all="$all $p $(descendants "$p" | tr '\n' ' ')"; done
    for p in $all; do cat /proc/"$p"/stat 2>/dev/null; done |
        awk '{ sub(/^.*\) /, ""); s += $12 + $13 } END { printf "%.0f\n", s }'
}
cpu_ticks() { # -> "busy0 busy1 all0 all1 steal": busy = user+nice+system+irq+softirq (what task times
    # include here), all = busy + idle + iowait + steal; ticks of /proc/stat
    awk '/^cpu[01] / { b = $2 + $3 + $4 + $7 + $8; a = b + $5 + $6 + $9; s += $9
                       if ($1 == "cpu0") { b0 = b; a0 = a } else { b1 = b; a1 = a } }
         END { print b0, b1, a0, a1, s }' /proc/stat
}
times_file() { # -> the shell's waited children's user+sys (bash `times`, second line) into $WORK/times
    times >"$WORK/times" # not in $( ): a subshell has no children of its own yet
}
children_ticks() { # -> ticks in $WORK/times
    awk 'NR == 2 { n = split($0, f, " "); s = 0
        for (i = 1; i <= n; i++) { split(f[i], ms, "m"); sub("s", "", ms[2]); s += ms[1] * 60 + ms[2] }
        printf "%.0f\n", s * 100 + 0.5 }' "$WORK/times"
}
thread_split() { # pid -> "comm#tid:ns,..." for its threads
    local t
    for t in /proc/"$1"/task/*; do
        printf '%s#%s\t%s\n' "$(tr ' ' _ <"$t/comm" 2>/dev/null)" "${t##*/}" "$(cut -d' ' -f1 "$t/schedstat" 2>/dev/null)"
    done | awk -F'\t' '{ n[$1] += $2 } END { for (k in n) printf "%s:%.0f,", k, n[k] }'
}
foreign_now() { # -> cores busy over 1 s outside the server, NSD and this script's children
    local a b o0 o1
    read -r a _ < <(cpu_ticks | awk '{ print $1 + $2 }')
    o0="$(tree_ticks "$NSD_PID" ${SPID:+"$SPID"})"
    sleep 1
    read -r b _ < <(cpu_ticks | awk '{ print $1 + $2 }')
    o1="$(tree_ticks "$NSD_PID" ${SPID:+"$SPID"})"
    awk -v a="$a" -v b="$b" -v o0="$o0" -v o1="$o1" 'BEGIN { f = (b - a - (o1 - o0)) / 100; if (f < 0) f = 0; printf "%.2f\n", f }'
}
wait_quiet() { # wait (up to QUIET_WAIT s) for a second in which other jobs use < DISTURB cores
    local waited=0 f
    ((QUIET_WAIT > 0 && WASTED < WAIT_BUDGET)) || return 0
    while ((waited < QUIET_WAIT)); do
        f="$(foreign_now)"
        awk -v f="$f" -v d="$DISTURB" 'BEGIN { exit !(f < d) }' && return 0
        waited=$((waited + 1))
        WASTED=$((WASTED + 1))
    done
    log "machine still busy after ${QUIET_WAIT}s (other jobs: $f cores); measuring anyway"
}

echo -e "round\tserver\tworkload\tphase\tattempt\toutstanding\trate\tsent\tcompleted\tlost\tloss_pct\tqps\truntime\tnoerror_pct\tsrv_ns\tsrv_us_q\tnsd_us_q\tperf_us_q\tlat_n\tlat_avg_us\tlat_p50_us\tlat_p99_us\tlat_max_us\tload1\tforeign_cores\tcpu0_busy\tcpu1_busy\tsteal_pct\tdisturbed\tchosen\tthreads" >"$RESULTS"

LAST_LOSS=100
LAST_DISTURBED=0
LAST_ROW=""
# measure round server workload phase attempt outstanding rate qfile dnsperf-args...
measure() {
    local round="$1" server="$2" workload="$3" phase="$4" attempt="$5" q="$6" rate="$7" qfile="$8"
    shift 8
    local out="$WORK/out.$round.$server.$workload.$phase.$attempt.$q"
    local load1 s0 s1 n0 n1 c0 c1 p0 p1 t0 t1 ts0 ts1 dur lat
    local -a st0 st1
    load1="$(cut -d' ' -f1 /proc/loadavg)"
    ts0="$(thread_split "$SPID")"
    s0="$(task_ns "$SPID")"; n0="$(tree_ticks "$NSD_PID")"; c0="$(tree_ticks "$SPID")"; times_file; p0="$(children_ticks)"
    read -r -a st0 < <(cpu_ticks)
    t0="$(date +%s.%N)"
    timeout -k 5 $((CAP_SECS > LAT_SECS ? CAP_SECS + 60 : LAT_SECS + 60)) \
        taskset -c "$LOAD_CPU" dnsperf -s 127.0.0.1 -p "$SRV_PORT" -d "$qfile" -c "$CLIENTS" -T 1 \
        -t 2 -b 4096 -q "$q" "$@" >"$out" 2>&1 || log "dnsperf exited with $? ($server $workload $phase)"
    t1="$(date +%s.%N)"
    read -r -a st1 < <(cpu_ticks)
    s1="$(task_ns "$SPID")"; n1="$(tree_ticks "$NSD_PID")"; c1="$(tree_ticks "$SPID")"; times_file; p1="$(children_ticks)"
    ts1="$(thread_split "$SPID")"
    lat="-	-	-	-	-"
    if [[ "$phase" == latency ]]; then lat="$(python3 "$HERE/report.py" latency "$out")"; fi
    LAST_ROW="$(awk -v round="$round" -v server="$server" -v workload="$workload" -v phase="$phase" \
        -v attempt="$attempt" -v q="$q" -v rate="$rate" -v s0="$s0" -v s1="$s1" -v n0="$n0" -v n1="$n1" \
        -v c0="$c0" -v c1="$c1" -v p0="$p0" -v p1="$p1" -v t0="$t0" -v t1="$t1" -v load1="$load1" \
        -v b00="${st0[0]}" -v b01="${st0[1]}" -v a00="${st0[2]}" -v a01="${st0[3]}" -v stl0="${st0[4]}" \
        -v b10="${st1[0]}" -v b11="${st1[1]}" -v a10="${st1[2]}" -v a11="${st1[3]}" -v stl1="${st1[4]}" \
        -v lat="$lat" -v ts0="$ts0" -v ts1="$ts1" -v disturb="$DISTURB" '
        /Queries sent:/ { sent = $3 }
        /Queries completed:/ { done = $3 }
        /Queries lost:/ { lost = $3 }
        /Run time \(s\):/ { runtime = $4 }
        /Queries per second:/ { qps = $4 }
        /Response codes:/ { for (i = 3; i < NF; i++) if ($i == "NOERROR") noerr = $(i + 1) }
        END {
            wall = t1 - t0
            if (done + 0 == 0) done = 0
            srv = s1 - s0
            us = done > 0 ? srv / 1000 / done : 0
            nsd = done > 0 ? (n1 - n0) * 10000 / done : 0
            perf = done > 0 ? (p1 - p0) * 10000 / done : 0
            foreign = ((b10 + b11) - (b00 + b01) - (c1 - c0) - (n1 - n0) - (p1 - p0)) / 100 / wall
            if (foreign < 0) foreign = 0
            cpu0 = (a10 - a00) > 0 ? 100 * (b10 - b00) / (a10 - a00) : 0
            cpu1 = (a11 - a01) > 0 ? 100 * (b11 - b01) / (a11 - a01) : 0
            steal = ((a10 + a11) - (a00 + a01)) > 0 ? 100 * (stl1 - stl0) / ((a10 + a11) - (a00 + a01)) : 0
            loss = sent > 0 ? 100 * lost / sent : 100
            # per-thread ns during the run
            tsplit = ""
            n = split(ts0, A, ","); for (i = 1; i <= n; i++) if (A[i] != "") { k = A[i]; sub(/:[^:]*$/, "", k); v = A[i]; sub(/^.*:/, "", v); before[k] = v }
            n = split(ts1, B, ","); for (i = 1; i <= n; i++) if (B[i] != "") { k = B[i]; sub(/:[^:]*$/, "", k); v = B[i]; sub(/^.*:/, "", v)
                d = v - before[k]; if (srv > 0 && d > 0.01 * srv) tsplit = tsplit sprintf("%s:%.0f%%,", k, 100 * d / srv) }
            sub(/,$/, "", tsplit); if (tsplit == "") tsplit = "-"
            printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f\t%.0f\t%.0f\t%.4f\t%.0f\t%.3f\t%.3f\t%.0f\t%.3f\t%.3f\t%.3f\t%s\t%s\t%.2f\t%.0f\t%.0f\t%.1f\t%d\t0\t%s\n",
                round, server, workload, phase, attempt, q, rate, sent, done, lost, loss, qps, runtime,
                (sent > 0 ? 100 * noerr / (done > 0 ? done : 1) : 0), srv, us, nsd, perf, lat, load1, foreign, cpu0, cpu1, steal,
                (foreign > disturb), tsplit
        }' "$out")"
    LAST_LOSS="$(cut -f11 <<<"$LAST_ROW")"
    LAST_DISTURBED="$(cut -f29 <<<"$LAST_ROW")"
    log "$(awk -F'\t' '{ printf "r%s %-10s %-4s %-8s q=%-3s qps=%-7s loss=%s%% cpu=%sus/q p99=%sus load=%s foreign=%s cores cpu1=%s%%%s",
        $1, $2, $3, $4, $6, $12, $11, $16, $22, $24, $25, $27, ($29 == 1 ? " DISTURBED" : "") }' <<<"$LAST_ROW")"
}
record() { # chosen? -> append LAST_ROW
    if [[ "$1" == 1 ]]; then
        awk -F'\t' -v OFS='\t' '{ $30 = 1; print }' <<<"$LAST_ROW" >>"$RESULTS"
    else
        printf '%s\n' "$LAST_ROW" >>"$RESULTS"
    fi
}

# One measurement, re-run while disturbed (up to RETRIES times). The first undisturbed attempt (or
# else the least disturbed) is left in LAST_ROW for the caller; the others are recorded unchosen.
measure_stable() { # round server workload phase outstanding rate qgen-or-file dnsperf-args...
    local round="$1" server="$2" workload="$3" phase="$4" q="$5" rate="$6" src="$7"
    shift 7
    local attempt qfile best=0 bestf=999 f i rows=()
    for attempt in $(seq 0 "$RETRIES"); do
        if [[ "$src" == gen:* ]]; then
            qfile="$WORK/q/cur.txt"
            gen_queries "$workload" "r$round${server//-/}${phase:0:1}${q}a$attempt" "${src#gen:}" "$qfile"
        else
            qfile="$src"
        fi
        wait_quiet
        local t_start=$SECONDS
        measure "$round" "$server" "$workload" "$phase" "$attempt" "$q" "$rate" "$qfile" "$@"
        rows+=("$LAST_ROW")
        f="$(cut -f25 <<<"$LAST_ROW")"
        if awk -v f="$f" -v b="$bestf" 'BEGIN { exit !(f < b) }'; then best=$attempt; bestf="$f"; fi
        [[ "$LAST_DISTURBED" == 0 ]] && break
        WASTED=$((WASTED + SECONDS - t_start))
        if ((WASTED >= WAIT_BUDGET)); then
            ((attempt < RETRIES && BUDGET_LOGGED++ == 0)) && log "wait/re-run budget (WAIT_BUDGET=${WAIT_BUDGET}s) spent: disturbed runs are kept from now on"
            break
        fi
    done
    for i in "${!rows[@]}"; do ((i == best)) || printf '%s\n' "${rows[$i]}" >>"$RESULTS"; done
    LAST_ROW="${rows[$best]}"
    LAST_LOSS="$(cut -f11 <<<"$LAST_ROW")"
    LAST_DISTURBED="$(cut -f29 <<<"$LAST_ROW")"
}

# Capacity: the closed loop with the most outstanding queries whose loss stays under 0.1%.
capacity() { # round server workload
    local round="$1" server="$2" workload="$3" q src rows=() chosen=""
    if [[ "$workload" == hit ]]; then src="$WORK/q/hit.txt"; else src="gen:$((CAP_SECS * 170000))"; fi
    local nflag=()
    [[ "$workload" != hit ]] && nflag=(-n 1)
    for q in $CAP_QS; do
        measure_stable "$round" "$server" "$workload" capacity "$q" 0 "$src" -l "$CAP_SECS" "${nflag[@]}"
        if awk -v l="$LAST_LOSS" -v m="$MAX_LOSS" 'BEGIN { exit !(l < m) }'; then
            record 1
            return 0
        fi
        record 0
    done
    log "$server $workload: loss >= $MAX_LOSS% at every outstanding setting ($CAP_QS)"
}

latency() { # round server workload
    local round="$1" server="$2" workload="$3" src nflag=()
    if [[ "$workload" == hit ]]; then src="$WORK/q/hit.txt"
    else src="gen:$((LAT_RATE * LAT_SECS * 11 / 10 + 1000))"; nflag=(-n 1); fi
    measure_stable "$round" "$server" "$workload" latency 500 "$LAT_RATE" "$src" -Q "$LAT_RATE" -l "$LAT_SECS" -v "${nflag[@]}"
    record 1
}

warm() { # pass over the 1000 hit names (4 times: with 2 workers each sees every name)
    timeout 60 taskset -c "$LOAD_CPU" dnsperf -s 127.0.0.1 -p "$SRV_PORT" -d "$WORK/q/hit.txt" \
        -c "$CLIENTS" -n 4 -Q 20000 -t 2 >"$WORK/warm.out" 2>&1 || log "warm-up dnsperf exited with $?"
    grep -q 'Queries lost: *0 ' "$WORK/warm.out" || log "warm-up lost queries: $(grep 'Queries lost' "$WORK/warm.out")"
}

# ---------------------------------------------------------------------------------------------
log "servers: ${run_servers[*]}; rounds: $ROUNDS; capacity ${CAP_SECS}s, latency ${LAT_SECS}s at ${LAT_RATE} qps; scratch $WORK"
n=${#run_servers[@]}
for round in $(seq 1 "$ROUNDS"); do
    log "round $round/$ROUNDS (load $(cut -d' ' -f1-3 /proc/loadavg))"
    for k in $(seq 0 $((n - 1))); do
        server="${run_servers[$(((k + round - 1) % n))]}"
        start_server "$server"
        warm
        workloads="$WORKLOADS"
        [[ "$server" == echo ]] && workloads="hit"
        for w in $workloads; do
            capacity "$round" "$server" "$w"
            latency "$round" "$server" "$w"
        done
        hwm="$(awk '/VmHWM/ { print $2 }' /proc/"$SPID"/status)"
        row=("$round" "$server" rss -)
        while ((${#row[@]} < 28)); do row+=(-); done
        row+=(0 1 "VmHWM_kB:$hwm")
        (IFS=$'\t'; echo "${row[*]}") >>"$RESULTS"
        stop_server
    done
done
echo "finished=$(date -u +%FT%TZ)" >>"$META"
echo "wasted=$WASTED" >>"$META"
echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$META"

python3 "$HERE/report.py" report "$META" "$RESULTS" >"$OUT"
if [[ $MODE == smoke ]]; then
    cat "$OUT"
    python3 "$HERE/report.py" check "$RESULTS" || die "smoke: some server answered nothing"
else
    log "report: $OUT"
    cat "$OUT"
fi
