#!/usr/bin/env bash
# Prepare this machine for the lab and the tests: system packages, the Python
# virtualenv with pinned tools, and the Debian base images for the containers.
# Idempotent: a second run only checks what is already there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MAILRELAY_VENV:-$ROOT/.venv}"
IMAGE_REPO="${MAILRELAY_LAB_IMAGE_REPO:-localhost/mailrelay-lab-debian}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/lab/containers.conf}"

log() { printf '[setup] %s\n' "$*"; }

need_root() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "lab/setup.sh installs packages and runs rootful Podman: run it as root" >&2
        exit 1
    fi
}

# Every package the lab and the tests run a program from, named one by one:
# apt-get runs with --no-install-recommends, so nothing may arrive only as a
# recommendation (netavark runs iptables to set up a bridge network, but only
# recommends it: without it every container start fails with
# "netavark: No such file or directory"). lab/smoke-check.sh checks the result.
HOST_PACKAGES=(
    podman conmon runc netavark aardvark-dns iptables nftables uidmap  # containers, networks
    catatonit                                                   # PID 1 of make fresh-check's system
    debootstrap debian-archive-keyring ca-certificates          # building the lab images
    python3 python3-venv git make                               # the pinned tools
    shellcheck                                                  # lint of the lab scripts
    postfix postfix-cdb postfix-lmdb                            # a real postmap for unit tests
    locales                                                     # the unit test of sort and comm under a non-C locale
)

install_packages() {
    # postfix is preseeded "No configuration": it writes no main.cf and starts no daemon here.
    local missing=()
    for p in "${HOST_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing ${missing[*]}"
        echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        log "system packages present"
    fi
}

python_bin() {
    # Debian's own Python 3.11 or 3.13 (what python3-venv serves), else the first on PATH.
    for c in /usr/bin/python3 python3.11 python3; do
        if command -v "$c" >/dev/null 2>&1; then command -v "$c"; return; fi
    done
    echo "no python3 found" >&2; exit 1
}

install_venv() {
    local stamp="$VENV/.requirements.sha256"
    local want
    want="$(cat "$ROOT/requirements-dev.txt" "$ROOT/meta/ee-requirements.txt" | sha256sum | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        log "virtualenv $VENV up to date"
        return
    fi
    log "creating virtualenv $VENV"
    "$(python_bin)" -m venv "$VENV"
    # pip warns once per package about absent local indexes on some machines: noise.
    "$VENV/bin/pip" install -q -r "$ROOT/requirements-dev.txt" 2> >(grep -v 'is ignored: it is neither' >&2)
    echo "$want" > "$stamp"
}

# Packages in the base image, beyond minbase. Changing this list changes the
# recipe label, and images with another label are rebuilt.
IMAGE_PACKAGES="python3,python3-apt,systemd,systemd-sysv,dbus,iproute2,ca-certificates,sudo"

use_or_build() {
    local override="$1" version="$2" suite="$3"
    if [ -n "$override" ]; then
        log "Debian $version: using $override instead of a local build"
        podman image exists "$override" || podman pull "$override"
    else
        "$ROOT/lab/build-image.sh" "$IMAGE_REPO:$version" "$suite" "$IMAGE_PACKAGES"
    fi
}

main() {
    need_root
    install_packages
    install_venv
    # A user with a registry sets MAILRELAY_LAB_IMAGE_12 / _13 to pulled images.
    use_or_build "${MAILRELAY_LAB_IMAGE_12:-}" 12 bookworm
    use_or_build "${MAILRELAY_LAB_IMAGE_13:-}" 13 trixie
    "$ROOT/lab/smoke-check.sh"
    log "ready"
}

main "$@"
