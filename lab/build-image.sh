#!/usr/bin/env bash
# Build a Debian image with debootstrap from the machine's own Debian mirror,
# unless an image of that tag with the same recipe exists already.
# Usage: build-image.sh TAG SUITE PACKAGES   (PACKAGES comma-separated, beyond minbase)
# A changed suite or package list changes the recipe label, and the image is rebuilt.
set -euo pipefail
tag="$1" suite="$2" packages="$3"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/containers.conf}"

log() { printf '[setup] %s\n' "$*"; }

# The Debian mirror the machine itself uses: never a hard-coded host.
debian_mirror() {
    if [ -n "${MAILRELAY_LAB_MIRROR:-}" ]; then echo "$MAILRELAY_LAB_MIRROR"; return; fi
    local uri
    uri="$(grep -h -E '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
           | awk '{print $2}' | grep -v -- '-security' | head -n1 || true)"
    if [ -z "$uri" ]; then
        uri="$(grep -h -E '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
               | grep -v -- '-security' | awk '{for (i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' | head -n1 || true)"
    fi
    if [ -z "$uri" ]; then
        echo "cannot find a Debian mirror in /etc/apt/sources*; set MAILRELAY_LAB_MIRROR" >&2
        exit 1
    fi
    echo "$uri"
}

recipe="$(printf '%s %s' "$suite" "$packages" | sha256sum | cut -c1-16)"
if podman image exists "$tag" && \
   [ "$(podman image inspect --format '{{ index .Labels "mailrelay.recipe" }}' "$tag")" = "$recipe" ]; then
    log "image $tag present"
    exit 0
fi
mirror="$(debian_mirror)"
rootfs="$(mktemp -d /var/tmp/mailrelay-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs" "$rootfs.log"' EXIT
log "building $tag with debootstrap $suite from $mirror"
start=$SECONDS
if ! debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1; then
    tail -n 30 "$rootfs.log" >&2
    echo "debootstrap $suite from $mirror failed (MAILRELAY_LAB_MIRROR names another mirror)" >&2
    exit 1
fi
# Containers carry no kernel-facing units; keep the boot lean and fast.
rm -f "$rootfs"/etc/machine-id && touch "$rootfs"/etc/machine-id
tar -C "$rootfs" -c . | podman import --change 'CMD ["/sbin/init"]' \
    --change "LABEL mailrelay.recipe=$recipe" --quiet - "$tag" >/dev/null
log "image $tag built in $((SECONDS - start)) s"
