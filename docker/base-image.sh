#!/usr/bin/env bash
# A Debian 12 base image with Python 3.11 made from Debian's archive, for sites (and CI) that reach
# no container registry. Prints the image's name. The root filesystem is cached per machine under
# $GROUNDLABEL_DOCKER_CACHE (default /var/cache/groundlabel-docker), keyed by the recipe and the
# ISO week, so it is rebuilt weekly (security updates) or when the recipe below changes.
#
#   docker/base-image.sh [--mirror URL]      (needs root, debootstrap and a running Docker engine)
set -euo pipefail
MIRROR="http://deb.debian.org/debian"
[ "${1:-}" = "--mirror" ] && MIRROR="$2"
DOCKER="${DOCKER:-docker}"
CACHE="${GROUNDLABEL_DOCKER_CACHE:-/var/cache/groundlabel-docker}"
SUITE=bookworm
INCLUDE=python3,python3-venv,ca-certificates
recipe="debootstrap --variant=minbase --include=$INCLUDE $SUITE"
key="$(printf '%s' "$recipe" | sha256sum | cut -c1-12)-$(date -u +%G-w%V)"
image="local/groundlabel-base:$SUITE-$key"
if timeout 60 "$DOCKER" image inspect "$image" >/dev/null 2>&1; then
    echo "$image"
    exit 0
fi
mkdir -p "$CACHE"
tarball="$CACHE/base-$SUITE-$key.tar"
if [ ! -s "$tarball" ]; then
    root="$CACHE/rootfs-$key.partial"
    rm -rf "$root"
    echo "base-image.sh: debootstrap $SUITE from $MIRROR (about a minute)" >&2
    timeout 900 debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
        || { echo "base-image.sh: debootstrap failed, see $CACHE/debootstrap.log" >&2; exit 1; }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/tmp/*
    tar -C "$root" -cf "$tarball.partial" .
    mv "$tarball.partial" "$tarball"
    rm -rf "$root"
    # Older weeks' roots are not needed any more.
    find "$CACHE" -maxdepth 1 -name "base-$SUITE-*.tar" ! -name "$(basename "$tarball")" -delete
fi
timeout 300 "$DOCKER" import --change 'CMD ["python3"]' "$tarball" "$image" >/dev/null
echo "$image"
