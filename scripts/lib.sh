# shellcheck shell=bash
# Helpers shared by the scripts in this folder. Source it; do not run it.
#
# Everything here is non-interactive and bounded: CI=true, no stdin, every network step under `timeout`.

set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT
export CI="${CI:-true}"
export DEBIAN_FRONTEND=noninteractive
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false NPM_CONFIG_UPDATE_NOTIFIER=false

# rustup's cargo and whatever `cargo install` put there (wasm-bindgen) must be on PATH even when the
# caller's environment is minimal.
if [[ -d "${CARGO_HOME:-${HOME:-/root}/.cargo}/bin" && ":$PATH:" != *":${CARGO_HOME:-${HOME:-/root}/.cargo}/bin:"* ]]; then
    export PATH="${CARGO_HOME:-${HOME:-/root}/.cargo}/bin:$PATH"
fi

# The target and where the wasm build keeps its artefacts, apart from the native build.
WASM_TARGET=wasm32-unknown-unknown
WASM_TARGET_DIR="${WASM_TARGET_DIR:-$REPO_ROOT/target/wasm}"
WASM_ENV_FILE="$REPO_ROOT/target/wasm-toolchain.env"
# Debian's Rust (packages rustc-web, cargo-web, rust-web-src, rust-web-llvm): its sysroot is /usr.
DEBIAN_RUSTC=/usr/bin/rustc
DEBIAN_CARGO=/usr/bin/cargo
DEBIAN_WASM_SYSROOT_LIB=/usr/lib/rustlib/$WASM_TARGET/lib
DEBIAN_WASM_SYSROOT_STAMP=/usr/lib/rustlib/$WASM_TARGET/.dnspect-built-by

log() { printf '[%s] %s\n' "${SCRIPT_NAME:-dnspect}" "$*"; }
warn() { printf '[%s] WARNING: %s\n' "${SCRIPT_NAME:-dnspect}" "$*" >&2; }
die() { printf '[%s] ERROR: %s\n' "${SCRIPT_NAME:-dnspect}" "$*" >&2; exit 1; }
# Print a command, then run it.
run() { printf '[%s] + %s\n' "${SCRIPT_NAME:-dnspect}" "$*"; "$@"; }

# The exact version of a package that Cargo.lock pins.
cargo_lock_version() {
    awk -v name="$1" '
        $0 == "[[package]]" { in_pkg = 0 }
        $0 == "name = \"" name "\"" { in_pkg = 1; next }
        in_pkg && /^version = / { gsub(/"/, "", $3); print $3; exit }
    ' "$REPO_ROOT/Cargo.lock"
}

# True when rustup's active toolchain (in the repo) already has the wasm target's standard library.
rustup_has_wasm_target() {
    command -v rustup >/dev/null 2>&1 || return 1
    (cd "$REPO_ROOT" && rustup target list --installed 2>/dev/null) | grep -qx "$WASM_TARGET"
}

# True when Debian's rustc is installed and has a wasm32 sysroot built for its exact version.
debian_wasm_ready() {
    [[ -x "$DEBIAN_RUSTC" && -x "$DEBIAN_CARGO" ]] || return 1
    compgen -G "$DEBIAN_WASM_SYSROOT_LIB/libstd-*.rlib" >/dev/null || return 1
    [[ -f "$DEBIAN_WASM_SYSROOT_STAMP" ]] || return 1
    [[ "$(cat "$DEBIAN_WASM_SYSROOT_STAMP")" == "$("$DEBIAN_RUSTC" -vV | sed -n 's/^release: //p')" ]]
}

# Sets WASM_ROUTE, WASM_CARGO and WASM_RUSTC for the wasm build.
# DNSPECT_WASM_ROUTE=rustup|debian forces a route; the default, auto, prefers rustup's target.
detect_wasm_toolchain() {
    local want="${DNSPECT_WASM_ROUTE:-auto}"
    case "$want" in
        rustup | auto)
            if rustup_has_wasm_target; then
                WASM_ROUTE=rustup
                WASM_CARGO="$(command -v cargo)"
                WASM_RUSTC="$(cd "$REPO_ROOT" && rustup which rustc)"
                return 0
            fi
            ;;
    esac
    case "$want" in
        debian | auto)
            if debian_wasm_ready; then
                WASM_ROUTE=debian
                WASM_CARGO="$DEBIAN_CARGO"
                WASM_RUSTC="$DEBIAN_RUSTC"
                return 0
            fi
            ;;
        rustup) ;;
        *) die "DNSPECT_WASM_ROUTE must be auto, rustup or debian, not '$want'" ;;
    esac
    return 1
}

# Runs a command with the wasm toolchain's cargo and rustc (not rustup's proxies).
wasm_cargo() {
    if [[ "$WASM_ROUTE" == debian ]]; then
        # Debian's cargo must not pick up rustup's proxies for rustc/rustdoc through PATH.
        env PATH="/usr/bin:$PATH" RUSTC="$WASM_RUSTC" RUSTDOC=/usr/bin/rustdoc \
            CARGO_TARGET_DIR="$WASM_TARGET_DIR" "$WASM_CARGO" "$@"
    else
        env RUSTC="$WASM_RUSTC" CARGO_TARGET_DIR="$WASM_TARGET_DIR" "$WASM_CARGO" "$@"
    fi
}

# apt: only for what is missing; `apt-get update` at most once per script run.
APT_UPDATED=""
apt_missing() {
    local pkg missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$pkg")
    done
    printf '%s\n' "${missing[@]}"
}
apt_update_once() {
    [[ -n "$APT_UPDATED" ]] && return 0
    run timeout 300 apt-get -q -o DPkg::Lock::Timeout=300 update
    APT_UPDATED=1
}
# Installs the named packages that are not installed yet, without Recommends (chromium's would bring
# systemd, avahi and cups). Services that packages would start (nsd, knot) are kept from starting,
# so nothing takes port 53 behind the tests' backs.
apt_install() {
    local missing
    mapfile -t missing < <(apt_missing "$@" | sed '/^$/d')
    if [[ ${#missing[@]} -eq 0 ]]; then
        log "apt: already installed: $*"
        return 0
    fi
    [[ $(id -u) -eq 0 ]] || die "need root to apt-get install ${missing[*]}"
    apt_update_once
    local policy=/usr/sbin/policy-rc.d made_policy=""
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
    fi
    local rc=0
    run timeout 900 apt-get -q -y -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 --no-install-recommends install "${missing[@]}" </dev/null || rc=$?
    [[ -n "$made_policy" ]] && rm -f "$policy"
    return $rc
}

# Section headers with elapsed time, for test.sh.
SECONDS_AT_START=$SECONDS
section() {
    printf '\n==== [%s] %s  (t+%ds)\n' "${SCRIPT_NAME:-dnspect}" "$*" "$((SECONDS - SECONDS_AT_START))"
}
