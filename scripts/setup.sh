#!/usr/bin/env bash
# Installs everything the tests need, skipping what is already there (a second run takes seconds):
#   Debian packages  dig (dnsutils), kdig (knot-dnsutils), nsd, unbound (validating resolver for the
#                    DNSSEC tests), ldnsutils (ldns-signzone), dnsperf, chromium; knot (optional)
#   PyPI             dnspython, when `import dns` fails
#   rustup           rustfmt and clippy, when cargo fmt / cargo clippy are missing
#   npm              the workspace's node_modules (binaryen's wasm-opt), when a package.json or the
#                    lockfile changed
#   wasm             scripts/setup-wasm.sh (wasm32 toolchain, wasm-bindgen-cli, wasm-opt)
# Packages' services (nsd, unbound, knot) are not started: tests start their own on ports of their choosing.
SCRIPT_NAME=setup
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
t_start=$SECONDS

# ---- Debian packages ----------------------------------------------------------------------------
APT_REQUIRED=(dnsutils knot-dnsutils nsd unbound ldnsutils dnsperf chromium fonts-liberation)
APT_OPTIONAL=(knot)
apt_install "${APT_REQUIRED[@]}"
apt_install "${APT_OPTIONAL[@]}" || warn "optional packages did not install: ${APT_OPTIONAL[*]}"
for tool in dig kdig nsd unbound ldns-signzone ldns-keygen dnsperf chromium; do
    command -v "$tool" >/dev/null 2>&1 || [[ -x "/usr/sbin/$tool" ]] || die "$tool is missing after apt-get install"
done

# ---- PyPI -----------------------------------------------------------------------------------------
if python3 -c 'import dns.message' 2>/dev/null; then
    log "pip: dnspython $(python3 -c 'import dns.version; print(dns.version.version)') already installed"
else
    pip_install=(timeout 300 python3 -m pip install --quiet --disable-pip-version-check --no-input dnspython)
    run "${pip_install[@]}" </dev/null ||
        PIP_BREAK_SYSTEM_PACKAGES=1 run "${pip_install[@]}" </dev/null
    python3 -c 'import dns.message' || die "dnspython is not importable after pip install"
fi

# ---- rustfmt and clippy ---------------------------------------------------------------------------
if cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1; then
    log "rust: $(cargo fmt --version), $(cargo clippy --version) already installed"
else
    run timeout 120 rustup component add rustfmt clippy </dev/null
fi

# ---- npm workspace ---------------------------------------------------------------------------------
command -v npm >/dev/null 2>&1 || apt_install nodejs npm
npm_inputs=(package.json wasm/package.json www/package.json)
[[ -f package-lock.json ]] && npm_inputs+=(package-lock.json)
npm_stamp=node_modules/.dnspect-npm-inputs
npm_sum="$(cat "${npm_inputs[@]}" | sha256sum | cut -d' ' -f1) node $(node --version)"
if [[ -f "$npm_stamp" && "$(cat "$npm_stamp")" == "$npm_sum" ]]; then
    log "npm: node_modules is up to date with ${npm_inputs[*]}"
else
    if [[ -f package-lock.json ]]; then
        if ! run timeout 600 npm ci --no-audit --no-fund </dev/null; then
            warn "npm ci failed (package-lock.json out of date with a package.json?): running npm install;" \
                "commit the package-lock.json it writes"
            run timeout 600 npm install --no-audit --no-fund </dev/null
            npm_sum="$(cat "${npm_inputs[@]}" | sha256sum | cut -d' ' -f1) node $(node --version)"
        fi
    else
        run timeout 600 npm install --no-audit --no-fund </dev/null
        npm_sum="$(cat "${npm_inputs[@]}" package-lock.json | sha256sum | cut -d' ' -f1) node $(node --version)"
    fi
    echo "$npm_sum" >"$npm_stamp"
fi

# ---- wasm ------------------------------------------------------------------------------------------
bash "$REPO_ROOT/scripts/setup-wasm.sh"

log "setup done in $((SECONDS - t_start)) s"
