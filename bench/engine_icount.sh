#!/usr/bin/env bash
# Instructions per engine operation under callgrind (noise-free on a shared machine):
# core/examples/engine_icount.rs runs <mode> N times; (count(HI) - count(LO)) / (HI - LO) is the
# cost of one operation, setup excluded.
#   bash bench/engine_icount.sh [modes...]     (default: hit hit-large miss miss-large)
#     also admit, admit-shared: one admit+done of the per-client limits, own vs shared table
#   ICOUNT_CONFIG=zones|shared|"zones shared" bash bench/engine_icount.sh
#     zones: per-zone forwarding and local data configured; shared: the sharded cache of
#     `dnspect serve` (2 workers) instead of the engine's private one
set -euo pipefail
cd "$(dirname "$0")/.."
LO="${ICOUNT_LO:-200}"
HI="${ICOUNT_HI:-1200}"
read -r -a CONFIG <<< "${ICOUNT_CONFIG:-}"
modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(hit hit-large miss miss-large)
bin="$(cargo build --release -p dnspect-core --example engine_icount --message-format=json-render-diagnostics \
    | python3 -c 'import sys,json
for l in sys.stdin:
    try: m=json.loads(l)
    except Exception: continue
    if m.get("reason")=="compiler-artifact" and m.get("target",{}).get("name")=="engine_icount" and m.get("executable"): print(m["executable"])' | tail -1)"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
count() {
    valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" "$bin" "$1" "$2" "${CONFIG[@]}" >/dev/null 2>"$TMP/err"
    grep -m1 -oP '^summary: \K[0-9]+' "$TMP/cg.out"
}
printf '%-11s %12s\n' mode 'instr/op'
for m in "${modes[@]}"; do
    lo="$(count "$m" "$LO")"
    hi="$(count "$m" "$HI")"
    printf '%-11s %12d\n' "$m" $(( (hi - lo) / (HI - LO) ))
done
