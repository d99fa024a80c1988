#!/usr/bin/env bash
# Build the CPU image with no container registry and no package index reachable from the build:
# the wheels are gathered on this host (pip download for the image's platform and Python, the CPU
# torch included) into docker/wheelhouse/, and the image installs them with pip --no-index.
#
#   docker/build-offline.sh [--base IMAGE] [--tag TAG] [--torch-index URL|none] [--find-links DIR]
#
#   --base IMAGE        base image with Python 3.11 and its venv module (default: python:3.11-slim-bookworm;
#                       docker/base-image.sh makes one from Debian's archive when no registry is reachable)
#   --tag TAG           image tag (default: groundlabel-backend:cpu)
#   --torch-index URL   where the CPU torch wheel comes from when pip's own sources (its configured
#                       indexes and find-links, --find-links) lack it (default: PyTorch's CPU index);
#                       "none" never asks it
#   --find-links DIR    a folder of wheels to use as well (e.g. a copied torch CPU wheel)
# Environment: DOCKER (default docker), PIP (default "python3 -m pip"), BUILD_TIMEOUT (s, default 1800).
set -euo pipefail
cd "$(dirname "$0")/.."

BASE="python:3.11-slim-bookworm"
TAG="groundlabel-backend:cpu"
TORCH_INDEX="https://download.pytorch.org/whl/cpu"
FIND_LINKS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --base) BASE="$2"; shift 2 ;;
        --tag) TAG="$2"; shift 2 ;;
        --torch-index) TORCH_INDEX="$2"; shift 2 ;;
        --find-links) FIND_LINKS+=(--find-links "$2"); shift 2 ;;
        -h|--help) sed -n 2,15p "$0"; exit 0 ;;
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

started=$(date +%s)
# BuildKit reads docker/Dockerfile.cpu.dockerignore (the legacy builder would send the whole
# checkout); --network none: nothing is fetched during the build.
export DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-1}"
timeout "${BUILD_TIMEOUT:-1800}" "$DOCKER" build --network none -f docker/Dockerfile.cpu \
    --build-arg BASE_IMAGE="$BASE" -t "$TAG" .
echo "build-offline.sh: built $TAG on $BASE in $(( $(date +%s) - started )) s" >&2
