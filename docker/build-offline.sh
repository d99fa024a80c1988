#!/usr/bin/env bash
# Build the CPU image with no container registry and no package index reachable from the build:
# the wheels are gathered on this host (pip download for the image's platform and Python, the CPU
# torch included) into docker/wheelhouse/, and the image installs them with pip --no-index.
#
#   docker/build-offline.sh [--base IMAGE] [--tag TAG] [--torch-index URL|none] [--find-links DIR]
#                           [--reuse-wheelhouse]
#
#   --base IMAGE        base image with Python 3.11 and its venv module (default: python:3.11-slim-bookworm;
#                       docker/base-image.sh makes one from Debian's archive when no registry is reachable)
#   --tag TAG           image tag (default: groundlabel-backend:cpu)
#   --torch-index URL   where the CPU torch wheel comes from when pip's own sources (its configured
#                       indexes and find-links, --find-links) lack it (default: PyTorch's CPU index);
#                       "none" never asks it
#   --find-links DIR    a folder of wheels to use as well (e.g. a copied torch CPU wheel)
#   --reuse-wheelhouse  build from the wheels an earlier run left in docker/wheelhouse/ (after a
#                       code change: only groundlabel itself is rebuilt; its dependencies unchanged)
# Environment: DOCKER (default docker), PIP (default "python3 -m pip"), BUILD_TIMEOUT (s, default 1800),
# DOCKER_BUILDKIT (default: 1 where the client has BuildKit, else 0, the legacy builder).
set -euo pipefail
cd "$(dirname "$0")/.."

BASE="python:3.11-slim-bookworm"
TAG="groundlabel-backend:cpu"
TORCH_INDEX="https://download.pytorch.org/whl/cpu"
FIND_LINKS=()
REUSE=""
while [ $# -gt 0 ]; do
    case "$1" in
        --base) BASE="$2"; shift 2 ;;
        --tag) TAG="$2"; shift 2 ;;
        --torch-index) TORCH_INDEX="$2"; shift 2 ;;
        --find-links) FIND_LINKS+=(--find-links "$2"); shift 2 ;;
        --reuse-wheelhouse) REUSE=1; shift ;;
        -h|--help) sed -n 2,20p "$0"; exit 0 ;;
        *) echo "build-offline.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
DOCKER="${DOCKER:-docker}"
PIP="${PIP:-python3 -m pip}"
# The image's platform and Python: Debian 12 (glibc 2.36), CPython 3.11, x86_64.
# Every manylinux tag glibc 2.36 accepts, named one by one (older pip does not expand them).
PLATFORM=(--python-version 3.11 --implementation cp --abi cp311 --abi abi3 --abi none)
for minor in $(seq 36 -1 5); do PLATFORM+=(--platform "manylinux_2_${minor}_x86_64"); done
PLATFORM+=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)
TORCH="torch==2.13.0+cpu"

WHEELHOUSE=docker/wheelhouse
if [ -n "$REUSE" ] && ls "$WHEELHOUSE"/*.whl >/dev/null 2>&1; then
    echo "build-offline.sh: reusing the $(ls "$WHEELHOUSE"/*.whl | wc -l) wheels in $WHEELHOUSE" >&2
else
    find "$WHEELHOUSE" -maxdepth 1 -name '*.whl' -delete
    started=$(date +%s)
    # groundlabel itself, as a wheel, so pip can resolve its dependencies for the image's platform.
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    $PIP wheel -q --no-deps --no-build-isolation -w "$scratch" . >/dev/null
    project_wheel=$(ls "$scratch"/groundlabel-*.whl)
    index_args=()
    # PyTorch's index only if pip's own sources (e.g. a local torch wheel) do not have the CPU build.
    if [ "$TORCH_INDEX" != none ] && ! $PIP download -q --no-deps --only-binary=:all: "${PLATFORM[@]}" \
            -d "$WHEELHOUSE" "${FIND_LINKS[@]}" "$TORCH" >/dev/null 2>&1; then
        index_args=(--extra-index-url "$TORCH_INDEX")
    fi
    # Binary wheels only, for the image's platform; setuptools builds the project inside the image.
    # (this machine's pip may warn about index folders it lacks: noise, filtered out)
    $PIP download -q --only-binary=:all: "${PLATFORM[@]}" -d "$WHEELHOUSE" "${index_args[@]}" "${FIND_LINKS[@]}" \
        "$TORCH" "groundlabel[backend] @ file://$project_wheel" "setuptools>=77" \
        2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
    rm -f "$WHEELHOUSE"/groundlabel-*.whl
    echo "build-offline.sh: $(ls "$WHEELHOUSE"/*.whl | wc -l) wheels ($(du -sh "$WHEELHOUSE" | cut -f1)) in $(( $(date +%s) - started )) s" >&2
fi

started=$(date +%s)
# BuildKit where this client has it: the buildx plugin, or a pre-23 client, which carries BuildKit
# itself (Debian's docker.io 20.10). A newer client without buildx ("BuildKit is enabled but the
# buildx component is missing") builds with the legacy builder instead: both read the repository's
# .dockerignore, so the context holds the same files. DOCKER_BUILDKIT set by the caller is kept.
if [ -z "${DOCKER_BUILDKIT:-}" ]; then
    client=$("$DOCKER" version --format '{{.Client.Version}}' 2>/dev/null || true)
    if "$DOCKER" buildx version >/dev/null 2>&1 || [ "${client%%.*}" -lt 23 ] 2>/dev/null; then
        export DOCKER_BUILDKIT=1
    else
        export DOCKER_BUILDKIT=0
        echo "build-offline.sh: $DOCKER ${client:-?} has no buildx plugin: building with the legacy" \
            "builder (same context); install docker-buildx-plugin to build with BuildKit" >&2
    fi
fi
# --network none: nothing is fetched during the build. The legacy builder's deprecation notice
# is the line above, said once.
timeout "${BUILD_TIMEOUT:-1800}" "$DOCKER" build --network none -f docker/Dockerfile.cpu \
    --build-arg BASE_IMAGE="$BASE" -t "$TAG" . \
    2> >(grep -v "DEPRECATED: The legacy builder is deprecated\|BuildKit is currently disabled\|Install the buildx\|https://docs.docker.com/go/buildx/\|^ *$" >&2)
builder=$([ "$DOCKER_BUILDKIT" = 0 ] && echo "the legacy builder" || echo BuildKit)
echo "build-offline.sh: built $TAG on $BASE with $builder in $(( $(date +%s) - started )) s" >&2
