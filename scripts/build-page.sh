#!/usr/bin/env bash
# Builds the web page (www/dist) that `dnspect web` serves: the binary embeds www/dist as it is
# when the binary is compiled (native/build.rs), so run this first, then `cargo build`:
#   bash scripts/build-page.sh && cargo build --release -p dnspect
# Installs what it needs when missing (Node and npm from Debian, the workspace's node_modules, the
# wasm32 toolchain: scripts/setup-wasm.sh), builds the npm package's wasm (scripts/build-wasm.sh),
# then the page (vite). Idempotent; a second run rebuilds the wasm and the page only.
SCRIPT_NAME=build-page
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

command -v npm >/dev/null 2>&1 || apt_install nodejs npm
if [[ ! -d node_modules/vite ]]; then
    run timeout 600 npm ci --no-audit --no-fund </dev/null
fi
detect_wasm_toolchain >/dev/null 2>&1 || bash scripts/setup-wasm.sh
bash scripts/build-wasm.sh
run timeout 300 npm run build --workspace www </dev/null
[[ -f www/dist/index.html ]] || die "vite wrote no www/dist/index.html"
log "www/dist is built: now build the binary (cargo build --release -p dnspect) and run \`dnspect web\`"
