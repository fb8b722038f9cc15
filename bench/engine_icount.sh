#!/usr/bin/env bash
# Instructions per engine operation under callgrind (noise-free on a shared machine):
# core/examples/engine_icount.rs runs <mode> N times; (count(HI) - count(LO)) / (HI - LO) is the
# cost of one operation, setup excluded.
#   bash bench/engine_icount.sh [modes...]     (default: hit hit-large miss miss-large)
#     also admit, admit-shared: one admit+done of the per-client limits, own vs shared table
#   ICOUNT_CONFIG=zones|shared|"zones shared" bash bench/engine_icount.sh
#     zones: per-zone forwarding and local data configured; shared: the sharded cache of
#     `dnspect serve` (2 workers) instead of the engine's private one; ICOUNT_CACHE_MIB=1024
#     gives that cache the bench servers' 1 GiB budget (1,024 shards)
#   ICOUNT_CACHE_MIB=1024 ICOUNT_CONFIG=shared ICOUNT_LINES=1 bash bench/engine_icount.sh hit-spread
#     also the cache lines each operation reads cold (cachegrind's D1 read misses with a 32 KiB
#     L1): `hit-spread` hits 1,000 names in turn, as a server's cache hits are between two
#     batches the kernel's network stack has run in between
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
lines() {
    valgrind --tool=cachegrind --cache-sim=yes --D1=32768,8,64 --LL=1048576,16,64 \
        --cachegrind-out-file="$TMP/cg.out" "$bin" "$1" "$2" "${CONFIG[@]}" >/dev/null 2>"$TMP/err"
    # events: Ir I1mr ILmr Dr D1mr ...: the fifth is D1mr.
    grep -m1 -oP '^summary: \K.*' "$TMP/cg.out" | awk '{ print $5 }'
}
if [ -n "${ICOUNT_LINES:-}" ]; then
    printf '%-11s %12s %16s\n' mode 'instr/op' 'cold lines/op'
else
    printf '%-11s %12s\n' mode 'instr/op'
fi
for m in "${modes[@]}"; do
    lo="$(count "$m" "$LO")"
    hi="$(count "$m" "$HI")"
    if [ -n "${ICOUNT_LINES:-}" ]; then
        llo="$(lines "$m" "$LO")"
        lhi="$(lines "$m" "$HI")"
        printf '%-11s %12d %16s\n' "$m" $(( (hi - lo) / (HI - LO) )) \
            "$(awk -v a="$llo" -v b="$lhi" -v n=$((HI - LO)) 'BEGIN { printf "%.1f", (b - a) / n }')"
    else
        printf '%-11s %12d\n' "$m" $(( (hi - lo) / (HI - LO) ))
    fi
done
