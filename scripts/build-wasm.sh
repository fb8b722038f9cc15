#!/usr/bin/env bash
# Builds the npm package's generated half: dnspect-wasm for wasm32-unknown-unknown (release), then
# wasm-bindgen twice:
#   wasm/pkg/node/  --target nodejs  CommonJS, loads the wasm synchronously
#   wasm/pkg/web/   --target web     ES module, `await init()` before use
# and wasm-opt (npm's binaryen) when installed. Checks that both builds load in Node, and prints the
# .wasm size and its gzip size.
#
# Run scripts/setup-wasm.sh once first. Environment:
#   DNSPECT_WASM_ROUTE=auto|rustup|debian  which toolchain (default: rustup's target if it has one)
#   DNSPECT_SKIP_WASM_OPT=1                 skip wasm-opt
#   DNSPECT_WASM_OPT=/path/to/wasm-opt      use this wasm-opt
#   CARGO_PROFILE_WASM_RELEASE_*            override Cargo.toml's [profile.wasm-release] settings
#   DNSPECT_WASM_GZIP_BUDGET=BYTES          fail when the optimised .wasm gzips (-9) to more (496000)
SCRIPT_NAME=build-wasm
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

detect_wasm_toolchain || die "no wasm toolchain: run scripts/setup-wasm.sh first"
want="$(cargo_lock_version wasm-bindgen)"
have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
[[ "$have" == "$want" ]] ||
    die "wasm-bindgen CLI is '${have:-missing}' but Cargo.lock pins $want: run scripts/setup-wasm.sh"

log "toolchain: route $WASM_ROUTE, $("$WASM_RUSTC" --version), wasm-bindgen $have"

# Cargo.toml's [profile.wasm-release]: fat LTO, one codegen unit, opt-level s, no debug info (the
# native release profile keeps debug info and 4 codegen units for profiling and is left alone).
# opt-level s: ~449 KB gzipped against ~520 KB at 3, for ~15-25% slower decode and encode (z is
# smaller still but about half the speed); bench/results/wasm-size-2026-12-03.md has the figures.
# CARGO_PROFILE_WASM_RELEASE_OPT_LEVEL=3 (or _LTO, _CODEGEN_UNITS) overrides it for an experiment.
WASM_PROFILE=wasm-release

t0=$SECONDS
run wasm_cargo build --locked --profile "$WASM_PROFILE" --target "$WASM_TARGET" -p dnspect-wasm </dev/null
log "cargo build took $((SECONDS - t0)) s"
wasm_in="$WASM_TARGET_DIR/$WASM_TARGET/$WASM_PROFILE/dnspect_wasm.wasm"
[[ -f "$wasm_in" ]] || die "cargo produced no $wasm_in"

# wasm-opt, newest first: $DNSPECT_WASM_OPT, npm's binaryen (the workspace's devDependency), then one on
# PATH if it is binaryen 116 or newer. Debian 12's binaryen 108 rewrites wasm-bindgen's externref table
# as anyref, and the module then fails to load.
wasm_opt=""
if [[ "${DNSPECT_SKIP_WASM_OPT:-}" == 1 ]]; then
    log "wasm-opt: skipped (DNSPECT_SKIP_WASM_OPT=1)"
elif [[ -n "${DNSPECT_WASM_OPT:-}" ]]; then
    wasm_opt="$DNSPECT_WASM_OPT"
elif [[ -x "$REPO_ROOT/node_modules/.bin/wasm-opt" ]]; then
    wasm_opt="$REPO_ROOT/node_modules/.bin/wasm-opt"
elif command -v wasm-opt >/dev/null 2>&1; then
    v="$(wasm-opt --version | awk '{print $3}')"
    if [[ "$v" =~ ^[0-9]+$ && "$v" -ge 116 ]]; then
        wasm_opt="$(command -v wasm-opt)"
    else
        log "wasm-opt: ignoring $(command -v wasm-opt) (binaryen $v, too old for externref)"
    fi
fi
[[ -n "$wasm_opt" || "${DNSPECT_SKIP_WASM_OPT:-}" == 1 ]] ||
    log "wasm-opt: none found (npm ci at the repo root installs binaryen): the wasm stays unoptimised"
# The features rustc enables by default for wasm32-unknown-unknown, named for wasm-opt.
WASM_OPT_FLAGS=(-Oz --enable-bulk-memory --enable-mutable-globals --enable-nontrapping-float-to-int
    --enable-sign-ext --enable-reference-types --enable-multivalue)

pkg="$REPO_ROOT/wasm/pkg"
for target in nodejs web; do
    case "$target" in
        nodejs) out="$pkg/node" type=commonjs ;;
        web) out="$pkg/web" type=module ;;
    esac
    rm -rf "$out"
    run wasm-bindgen --target "$target" --out-dir "$out" --out-name dnspect "$wasm_in"
    # Tell Node how to read the generated .js whatever wasm/package.json says.
    printf '{\n  "type": "%s"\n}\n' "$type" >"$out/package.json"
done
# The CommonJS twin of the package's glue (wasm/js/api.mjs -> pkg/node/api.cjs).
run node "$REPO_ROOT/wasm/js/build-cjs.cjs"

# Loads both builds in Node and calls version(): proves the wasm instantiates and runs.
smoke_test() {
    node -e 'require(process.argv[1]).version()' "$pkg/node/dnspect.js" &&
        node --input-type=module -e '
            import { readFileSync } from "node:fs";
            const web = await import(process.argv[1]);
            web.initSync({ module: readFileSync(process.argv[2]) });
            web.version();' "$pkg/web/dnspect.js" "$pkg/web/dnspect_bg.wasm"
}
smoke_test || die "the freshly generated wasm/pkg does not load in Node"

if [[ -n "$wasm_opt" ]]; then
    t1=$SECONDS
    log "wasm-opt: $("$wasm_opt" --version)"
    for out in "$pkg/node" "$pkg/web"; do cp "$out/dnspect_bg.wasm" "$out/dnspect_bg.unopt.wasm"; done
    # The two targets' .wasm are usually the same bytes: optimise once then.
    opt_ok=1
    run "$wasm_opt" "${WASM_OPT_FLAGS[@]}" "$pkg/node/dnspect_bg.unopt.wasm" -o "$pkg/node/dnspect_bg.wasm" || opt_ok=""
    if [[ -z "$opt_ok" ]]; then
        :
    elif cmp -s "$pkg/node/dnspect_bg.unopt.wasm" "$pkg/web/dnspect_bg.unopt.wasm"; then
        cp "$pkg/node/dnspect_bg.wasm" "$pkg/web/dnspect_bg.wasm"
    else
        run "$wasm_opt" "${WASM_OPT_FLAGS[@]}" "$pkg/web/dnspect_bg.unopt.wasm" -o "$pkg/web/dnspect_bg.wasm" || opt_ok=""
    fi
    if [[ -n "$opt_ok" ]] && smoke_test; then
        log "wasm-opt took $((SECONDS - t1)) s"
        optimised=1
    else
        warn "wasm-opt failed or its output does not load in Node: keeping the unoptimised wasm"
        for out in "$pkg/node" "$pkg/web"; do cp "$out/dnspect_bg.unopt.wasm" "$out/dnspect_bg.wasm"; done
        smoke_test || die "the unoptimised wasm/pkg no longer loads in Node"
    fi
    rm -f "$pkg/node/dnspect_bg.unopt.wasm" "$pkg/web/dnspect_bg.unopt.wasm"
fi

# One .wasm in the npm package: both wasm-bindgen targets produce the same module (they differ in
# their JS only), so the Node build reads the web build's file instead of shipping a second copy.
cmp -s "$pkg/node/dnspect_bg.wasm" "$pkg/web/dnspect_bg.wasm" ||
    die "wasm-bindgen's nodejs and web targets produced different .wasm files: the package would need both"
node_glue="$pkg/node/dnspect.js"
grep -q '`${__dirname}/dnspect_bg.wasm`' "$node_glue" ||
    die "$node_glue does not load \`\${__dirname}/dnspect_bg.wasm\` any more (wasm-bindgen changed): update this step"
sed -i 's|`${__dirname}/dnspect_bg.wasm`|`${__dirname}/../web/dnspect_bg.wasm`|' "$node_glue"
rm -f "$pkg/node/dnspect_bg.wasm"
smoke_test || die "the Node build does not load pkg/web/dnspect_bg.wasm"
log "one .wasm: pkg/node/dnspect.js reads pkg/web/dnspect_bg.wasm"

size() { stat -c %s "$1"; }
gz() { gzip -9 -c "$1" | wc -c; }
log "sizes (bytes):"
printf '    %-62s %9s %9s\n' file raw gzip-9
for f in "$wasm_in" "$pkg/web/dnspect_bg.wasm" "$pkg/node/dnspect.js" "$pkg/web/dnspect.js"; do
    printf '    %-62s %9d %9d\n' "${f#"$REPO_ROOT"/}" "$(size "$f")" "$(gz "$f")"
done
# The size budget (wasm/README.md, "Size and speed"): 483 KB gzipped on 2026-12-03 (449 KB before the field-by-field RDATA types), 490,000 B
# allowed. Only the wasm-opt'd module is held to it (an unoptimised build is larger by design).
budget="${DNSPECT_WASM_GZIP_BUDGET:-496000}"
if [[ -n "${optimised:-}" ]]; then
    got="$(gz "$pkg/web/dnspect_bg.wasm")"
    ((got <= budget)) ||
        die "wasm/pkg/web/dnspect_bg.wasm is $got B gzipped (-9), over the budget of $budget B: shrink it, or raise DNSPECT_WASM_GZIP_BUDGET's default here and in wasm/README.md with the reason"
    log "size budget: $got B gzipped <= $budget B"
fi
log "done in $((SECONDS - t0)) s: wasm/pkg/node (require) and wasm/pkg/web (await init())"
