#!/usr/bin/env bash
# Builds the dnspect container image: a static x86_64-unknown-linux-musl binary FROM scratch
# (deploy/container/Containerfile). No base image is pulled, so it builds offline.
#   bash scripts/build-image.sh [TAG]        default tag: localhost/dnspect:dev
# Needs podman and rustup's x86_64-unknown-linux-musl target (scripts/setup.sh installs both).
# podman runs with deploy/container/containers.conf (runc, cgroupfs, no default ulimits).
SCRIPT_NAME=build-image
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

TAG="${1:-localhost/dnspect:dev}"
MUSL_TARGET=x86_64-unknown-linux-musl
export CONTAINERS_CONF="${CONTAINERS_CONF:-$REPO_ROOT/deploy/container/containers.conf}"

command -v podman >/dev/null 2>&1 || die "podman is missing: run scripts/setup.sh"
run cargo build --locked --release --target "$MUSL_TARGET" -p dnspect --bin dnspect
bin="target/$MUSL_TARGET/release/dnspect"
# A FROM scratch image has no loader: the binary must be static.
file "$bin" | grep -Eq 'static(-pie)? linked' || die "$bin is not statically linked: $(file "$bin")"

# The build context holds only what the image copies (never the 10+ GB target/).
ctx="target/image"
rm -rf "$ctx" && mkdir -p "$ctx"
cp "$bin" "$ctx/dnspect"
strip --strip-debug "$ctx/dnspect"
cp deploy/container/{Containerfile,passwd,group,dnspect.toml} "$ctx/"
# --format docker keeps the HEALTHCHECK (the OCI image format has no field for it).
run podman build --format docker --tag "$TAG" --file "$ctx/Containerfile" "$ctx"
log "built $TAG ($(podman image inspect --format '{{.Size}}' "$TAG") bytes)"
