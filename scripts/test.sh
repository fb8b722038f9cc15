#!/usr/bin/env bash
# The one test command, locally and in CI (.ci/run execs it):
#   setup -> cargo fmt --check -> clippy -D warnings -> wasm build -> page build -> cargo test
#   -> bench smoke -> npm test
# The page (www/dist) is built before the binary because the binary embeds it (`dnspect web`,
# native/build.rs): tests/tests/web.rs fails under CI=true when the binary has the placeholder.
# Stops at the first failing step and says which one.
# DNSPECT_SKIP_STEPS=fmt,clippy (any of setup, fmt, clippy, wasm, page, test, bench, npm) skips
# steps locally;
# CI sets nothing and runs them all.
SCRIPT_NAME=test
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

current_step="start"
# Everything is also written to a log so the closing line can add up every runner's counts.
mkdir -p target
TEST_LOG="target/test-run.log"
exec > >(tee "$TEST_LOG") 2>&1
trap 'rc=$?; if [[ $rc -ne 0 ]]; then printf "\n==== [test] FAILED in step: %s (exit %d, t+%ds)\n" "$current_step" "$rc" "$((SECONDS - SECONDS_AT_START))" >&2; fi' EXIT
step() { current_step="$*"; section "$*"; }
skip() {
    if [[ ",${DNSPECT_SKIP_STEPS:-}," == *",$1,"* ]]; then
        log "skipped (DNSPECT_SKIP_STEPS=$DNSPECT_SKIP_STEPS)"
        return 0
    fi
    return 1
}

step "setup (scripts/setup.sh)"
skip setup || bash scripts/setup.sh

step "cargo fmt --all --check"
skip fmt || run cargo fmt --all --check

step "cargo clippy --workspace --all-targets -- -D warnings"
skip clippy || run cargo clippy --locked --workspace --all-targets -- -D warnings

step "wasm build (scripts/build-wasm.sh)"
skip wasm || bash scripts/build-wasm.sh

step "page build (npm run build -w www: www/dist, embedded by the binary built next)"
skip page || run npm run build --workspace www

step "cargo test --workspace (end-to-end tests run the freshly built dnspect binary)"
skip test || { run cargo build --locked -p dnspect --bin dnspect && run cargo test --locked --workspace; }

step "benchmark smoke runs (figures: bench/README.md)"
skip bench || DNSPECT_BENCH_QUICK=1 run cargo bench --locked -p dnspect-core --bench wire --bench engine

step "npm test"
skip npm || run npm test

current_step="done"
section "all steps passed"
# One closing line over every runner (cargo's "test result:" lines and node's "# pass/# fail").
awk '
    /^test result: / { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
    /^# pass / { p += $3 } /^# fail / { f += $3 }
    END { printf "all: %d passed, %d failed\n", p, f }
' "$TEST_LOG"
