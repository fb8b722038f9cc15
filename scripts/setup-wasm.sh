#!/usr/bin/env bash
# Installs what building dnspect-wasm needs, and does nothing for what is already there:
#   1. a Rust toolchain with the wasm32-unknown-unknown standard library:
#      rustup's target when `rustup target add` works (ordinary machines); otherwise Debian's Rust
#      (rustc-web, cargo-web, rust-web-src, rust-web-llvm) plus a wasm32 sysroot built once from its
#      source with -Zbuild-std (see shared/wasm-toolchain.md);
#   2. (wasm-opt comes from npm's binaryen, installed by scripts/setup.sh's npm ci; optional);
#   3. wasm-bindgen-cli at exactly the version of wasm-bindgen that Cargo.lock pins.
# Then writes target/wasm-toolchain.env and prints the variables the wasm build uses.
#
# DNSPECT_WASM_ROUTE=auto|rustup|debian (default auto) forces a toolchain route.
SCRIPT_NAME=setup-wasm
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

route="${DNSPECT_WASM_ROUTE:-auto}"

# ---- 1. toolchain -------------------------------------------------------------------------------
setup_rustup_target() {
    if rustup_has_wasm_target; then
        log "rustup: $WASM_TARGET already installed for $(rustup which rustc)"
        return 0
    fi
    command -v rustup >/dev/null 2>&1 || { log "rustup: not installed"; return 1; }
    log "rustup: trying to add $WASM_TARGET (20 s at most; it hangs where rustup's servers are unreachable)"
    if run timeout 20 rustup target add "$WASM_TARGET" </dev/null && rustup_has_wasm_target; then
        return 0
    fi
    log "rustup: could not add $WASM_TARGET; falling back to Debian's Rust"
    return 1
}

build_debian_sysroot() {
    local release tmp staging
    release="$("$DEBIAN_RUSTC" -vV | sed -n 's/^release: //p')"
    log "debian: building the $WASM_TARGET standard library for rustc $release with -Zbuild-std (once per machine, 1-3 min)"
    tmp="$(mktemp -d /tmp/dnspect-wasm-sysroot.XXXXXX)"
    (
        cd "$tmp"
        env PATH="/usr/bin:$PATH" "$DEBIAN_CARGO" new --lib --vcs none -q sysroot-probe
        cd sysroot-probe
        # embed-bitcode=yes so that crates linked with LTO against this std (build-wasm.sh does) work,
        # as they do with rustup's prebuilt std.
        run env PATH="/usr/bin:$PATH" RUSTC="$DEBIAN_RUSTC" RUSTC_BOOTSTRAP=1 \
            RUSTFLAGS="-Cembed-bitcode=yes" CARGO_TARGET_DIR="$tmp/target" \
            timeout 1200 "$DEBIAN_CARGO" build --release --target "$WASM_TARGET" \
            -Zbuild-std=std,panic_abort </dev/null
    )
    # Install through a staging folder so that a half-copied sysroot never looks complete.
    staging="$(dirname "$DEBIAN_WASM_SYSROOT_LIB")/lib.new.$$"
    rm -rf "$staging" && mkdir -p "$staging"
    cp "$tmp"/target/"$WASM_TARGET"/release/deps/*.rlib "$staging"/
    rm -f "$staging"/libsysroot_probe-*.rlib
    compgen -G "$staging/libstd-*.rlib" >/dev/null || die "debian: the build-std run produced no libstd"
    rm -rf "$DEBIAN_WASM_SYSROOT_LIB"
    mv "$staging" "$DEBIAN_WASM_SYSROOT_LIB"
    echo "$release" >"$DEBIAN_WASM_SYSROOT_STAMP"
    rm -rf "$tmp"
    log "debian: installed $(find "$DEBIAN_WASM_SYSROOT_LIB" -name '*.rlib' | wc -l) rlibs into $DEBIAN_WASM_SYSROOT_LIB"
}

setup_debian_route() {
    apt_install rustc-web cargo-web rust-web-src rust-web-llvm
    # rust-web-llvm's /usr/bin/rust-lld (the wasm linker) points at lld-N from the package lld-N,
    # which it does not depend on: install that too when the link dangles.
    if [[ ! -e /usr/bin/rust-lld ]]; then
        local lld
        lld="$(readlink /usr/bin/rust-lld || true)"
        [[ "$lld" =~ ^lld-[0-9]+$ ]] || die "debian: /usr/bin/rust-lld is missing (rust-web-llvm broken?)"
        apt_install "$lld"
    fi
    [[ -e /usr/bin/rust-lld ]] || die "debian: /usr/bin/rust-lld still dangles"
    if debian_wasm_ready; then
        log "debian: $WASM_TARGET sysroot already built for $("$DEBIAN_RUSTC" --version)"
    else
        build_debian_sysroot
    fi
}

case "$route" in
    rustup) setup_rustup_target || die "DNSPECT_WASM_ROUTE=rustup but rustup has no $WASM_TARGET" ;;
    debian) setup_debian_route ;;
    auto) setup_rustup_target || setup_debian_route ;;
    *) die "DNSPECT_WASM_ROUTE must be auto, rustup or debian, not '$route'" ;;
esac
detect_wasm_toolchain || die "no usable wasm toolchain after setup (route $route)"
log "wasm toolchain: route $WASM_ROUTE, $("$WASM_RUSTC" --version)"

# ---- 2. wasm-opt (optional) ---------------------------------------------------------------------
# build-wasm.sh runs wasm-opt from npm's binaryen (a devDependency of the npm workspace, installed by
# `npm ci` in scripts/setup.sh). Debian 12's binaryen (108) is too old: it rewrites wasm-bindgen's
# externref table as anyref and the module then fails at load, so it is neither installed nor used.
if [[ -x "$REPO_ROOT/node_modules/.bin/wasm-opt" ]]; then
    log "wasm-opt: $("$REPO_ROOT/node_modules/.bin/wasm-opt" --version) (npm binaryen)"
else
    log "wasm-opt: not installed yet (npm ci at the repo root brings it); the build skips it until then"
fi

# ---- 3. wasm-bindgen-cli at the version Cargo.lock pins --------------------------------------------
want="$(cargo_lock_version wasm-bindgen)"
[[ -n "$want" ]] || die "Cargo.lock pins no wasm-bindgen version"
have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
if [[ "$have" == "$want" ]]; then
    log "wasm-bindgen-cli $want already installed ($(command -v wasm-bindgen))"
else
    log "wasm-bindgen-cli: have '${have:-none}', Cargo.lock wants $want: installing from crates.io (about 5 min)"
    # rustup's cargo for this: a native build, which its x86_64 toolchain always has.
    # --locked first (the versions wasm-bindgen's release was tested with); when the registry here
    # lacks one of those (seen: webpki-roots 1.0.11 missing), let cargo resolve the newest that exist.
    if ! run timeout 1800 cargo install --locked --quiet wasm-bindgen-cli --version "=$want" </dev/null; then
        warn "cargo install --locked failed: retrying without --locked"
        run timeout 1800 cargo install --quiet wasm-bindgen-cli --version "=$want" </dev/null
    fi
    have="$(wasm-bindgen --version | awk '{print $2}')"
    [[ "$have" == "$want" ]] || die "wasm-bindgen --version says $have after installing $want"
fi

# ---- the variables the build uses ---------------------------------------------------------------
wasm_opt_path=""
[[ -x "$REPO_ROOT/node_modules/.bin/wasm-opt" ]] && wasm_opt_path="$REPO_ROOT/node_modules/.bin/wasm-opt"
mkdir -p "$(dirname "$WASM_ENV_FILE")"
cat >"$WASM_ENV_FILE" <<EOF
# Written by scripts/setup-wasm.sh; scripts/build-wasm.sh detects the same by itself.
# Source this file to build by hand:
#   env PATH="/usr/bin:\$PATH" RUSTC="\$WASM_RUSTC" CARGO_TARGET_DIR="\$WASM_TARGET_DIR" \\
#     "\$WASM_CARGO" build --profile wasm-release --target $WASM_TARGET -p dnspect-wasm
export DNSPECT_WASM_ROUTE=$WASM_ROUTE
export WASM_CARGO=$WASM_CARGO
export WASM_RUSTC=$WASM_RUSTC
export WASM_TARGET_DIR=$WASM_TARGET_DIR
export WASM_BINDGEN=$(command -v wasm-bindgen)
export WASM_OPT=$wasm_opt_path
EOF
log "wrote $WASM_ENV_FILE:"
grep '^export' "$WASM_ENV_FILE" | sed 's/^/    /'
