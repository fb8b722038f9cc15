#!/usr/bin/env bash
# Wire-layer benchmark: dnspect against hickory-proto 0.26 on the same inputs, in the same run.
#
#   bench/wire.sh                 3 criterion runs + callgrind instruction counts
#   RUNS=1 bench/wire.sh          one criterion run
#   DNSPECT_BENCH_QUICK=1 RUNS=1 CALLGRIND=0 bench/wire.sh    smoke run (~1 minute once built)
#
# It builds `cargo bench -p dnspect-core --bench wire` once, then runs a copy of that binary RUNS
# times (what `cargo bench` would run, minus rebuilds: core/src may change meanwhile); after each, criterion's median for every
# input and op is read from target/criterion/<input>/<op>/new/estimates.json. The table reports
# the median over runs (and the spread), and the speed-up over hickory (hickory ns / dnspect ns)
# against the targets: zero-copy walk >= 20x hickory from_vec, typed decode >= 5x, encode >= 3x
# hickory to_vec.
#
# The machine is shared and noisy, so the script also counts instructions under
# `valgrind --tool=callgrind` (CALLGRIND=0 skips it): core/examples/wire_icount.rs runs one op
# ICOUNT_LO and ICOUNT_HI times (setup identical), and the difference divided by
# ICOUNT_HI - ICOUNT_LO is the cost of one op, free of noise.
#
# Output: the tables on stdout and bench/results/wire-<date>.md with the command, the machine and
# the tables.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
RUNS="${RUNS:-3}"
CALLGRIND="${CALLGRIND:-1}"
ICOUNT_LO="${ICOUNT_LO:-50}"
ICOUNT_HI="${ICOUNT_HI:-150}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
DATE="$(date +%F)"
OUT="${OUT:-$ROOT/bench/results/wire-$DATE.md}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

log() { printf '[wire.sh] %s\n' "$*" >&2; }

INPUTS=(seed000-uncompressed-758 seed000-compressed-358 www-example-com-124)
OPS=(dnspect_scan dnspect_decode dnspect_analyze dnspect_encode hickory_decode hickory_encode)

load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
started="$(date -u +%FT%TZ)"

# Build once and run copies of the binaries, so that every run measures the same code even while
# core/src is being edited.
executable() { # cargo's JSON messages on stdin -> the executable of target $1
    python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == sys.argv[1] and m.get("executable"):
        print(m["executable"])' "$1"
}
log "building the bench"
bench_bin="$(cargo bench -p dnspect-core --bench wire --no-run --message-format=json-render-diagnostics | executable wire)"
[[ -x "$bench_bin" ]] || { log "no bench executable"; exit 1; }
cp "$bench_bin" "$TMP/wire-bench"
if [[ "$CALLGRIND" != 0 ]]; then
    log "building core/examples/wire_icount.rs for callgrind"
    icount_bin="$(cargo build --release -p dnspect-core --example wire_icount --message-format=json-render-diagnostics | executable wire_icount)"
    cp "$icount_bin" "$TMP/wire_icount"
fi
code_state="commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(git status --porcelain -- core/src 2>/dev/null | wc -l) file(s) under core/src modified in the work tree"

run_files=()
for ((i = 1; i <= RUNS; i++)); do
    log "criterion run $i of $RUNS${DNSPECT_BENCH_QUICK:+ (quick)}"
    # What `cargo bench` runs, without the rebuild. Criterion's report goes to stderr with the rest
    # of the log; only our table is on stdout.
    (cd core && CARGO_TARGET_DIR="$TARGET_DIR" "$TMP/wire-bench" --bench >&2)
    python3 bench/wire_report.py collect "$TARGET_DIR/criterion" >"$TMP/run-$i.json"
    run_files+=("$TMP/run-$i.json")
done

icount_args=()
if [[ "$CALLGRIND" != 0 ]] && command -v valgrind >/dev/null; then
    bin="$TMP/wire_icount"
    count() {
        valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" "$3" 2>&1 |
            awk '/Collected :/ {print $NF}'
    }
    for inp in "${INPUTS[@]}"; do
        for op in "${OPS[@]}"; do
            lo="$(count "$inp" "$op" "$ICOUNT_LO")"
            hi="$(count "$inp" "$op" "$ICOUNT_HI")"
            per=$(((hi - lo) / (ICOUNT_HI - ICOUNT_LO)))
            log "callgrind $inp $op: $per instructions"
            echo "$inp $op $per" >>"$TMP/icount.tsv"
        done
    done
    icount_args=(--icount "$TMP/icount.tsv")
elif [[ "$CALLGRIND" != 0 ]]; then
    log "valgrind not found: no instruction counts"
fi

tables="$(python3 bench/wire_report.py report "${run_files[@]}" "${icount_args[@]}")"
printf '%s\n' "$tables"

mkdir -p "$(dirname "$OUT")"
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
{
    echo "# Wire benchmark, $DATE"
    echo
    echo "Command: \`${DNSPECT_BENCH_QUICK:+DNSPECT_BENCH_QUICK=$DNSPECT_BENCH_QUICK }RUNS=$RUNS CALLGRIND=$CALLGRIND bench/wire.sh\`"
    echo "(each run: the binary of \`cargo bench -p dnspect-core --bench wire\`, built once; instructions: \`valgrind --tool=callgrind target/release/examples/wire_icount <input> <op> N\` for N = $ICOUNT_LO and $ICOUNT_HI)."
    echo
    echo "- started: $started"
    echo "- machine: $(nproc) cores, $cpu, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "- load average at start: $load_start; at end: $(cut -d' ' -f1-3 /proc/loadavg) (the cores are shared with other builds)"
    echo "- $(rustc --version)"
    echo "- code: $code_state (when the bench was built)"
    echo "- hickory-proto $(awk '/name = "hickory-proto"/ {getline; print $3}' Cargo.lock | tr -d '"'), default features off, \`std\`"
    echo
    echo "Inputs: the incident's seed packets core/tests/data/seed000-uncompressed.hex (758 B, 20 A records, no"
    echo "compression) and seed000-compressed.hex (358 B, the same message compressed), and a typical 124-byte answer"
    echo "for www.example.com (question, CNAME + 2 A, OPT) built in core/examples/common/wire_inputs.rs."
    echo "Ops: \`dnspect_scan\` = MessageView::new + scan(); \`dnspect_decode\` = Message::from_wire;"
    echo "\`dnspect_analyze\` = wire::inspect::analyze::analyze; \`dnspect_encode\` = Message::to_wire of a decoded message;"
    echo "\`hickory_decode\` = hickory_proto::op::Message::from_vec; \`hickory_encode\` = Message::to_vec of a decoded message."
    echo
    printf '%s\n' "$tables"
} >"$OUT"
log "wrote ${OUT#"$ROOT"/}"
