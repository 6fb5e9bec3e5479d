#!/usr/bin/env bash
# A rehearsal of a newcomer's first five minutes: the README's commands run on a
# fresh Debian 12 system, a privileged Podman container with its own Podman and
# its own image storage, holding a clone of this repository's HEAD and nothing
# else: no venv, no images, no ~/.ansible or ~/.cache, no packages beyond
# minbase, git, make and ca-certificates. Prints how long each command took.
#
# Usage: fresh-check.sh [TARGET...]     (default: lab test; CI runs: setup)
#
# What it proves: the package list, the image build, the venv, the smoke check
# and the stages work from nothing. What it cannot prove: a kernel or a cgroup
# mode other than this host's (the system shares the host's kernel, its modules
# and its cgroup hierarchy), nor a host booted with systemd (its PID 1 is a
# small init that only reaps, not systemd, as on this machine); docs/lab.md says more.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/lab/containers.conf}"
FRESH_IMAGE="${MAILRELAY_FRESH_IMAGE:-localhost/mailrelay-fresh-debian:12}"
name="mailrelay-fresh-$$"
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(lab test)

log() { printf '[fresh-check] %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "fresh-check runs rootful Podman: run it as root" >&2; exit 1
fi
if ! command -v podman >/dev/null || [ ! -x /usr/libexec/podman/catatonit ]; then
    echo "fresh-check needs Podman and catatonit on this machine: run make setup first" >&2; exit 1
fi
head="$(git -C "$ROOT" rev-parse HEAD)"
if [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ]; then
    log "note: uncommitted changes are not in the rehearsal; it clones HEAD ($head)"
fi

# The fresh machine itself: what a newcomer starts from.
"$ROOT/lab/build-image.sh" "$FRESH_IMAGE" bookworm "git,make,ca-certificates"

cleanup() {
    if [ -z "${MAILRELAY_FRESH_KEEP:-}" ]; then
        podman rm --ignore -f -t 0 "$name" >/dev/null 2>&1 || true
        podman volume rm -f "$name" >/dev/null 2>&1 || true
    else
        log "kept: podman exec -it $name bash  (remove: podman rm -f $name; podman volume rm $name)"
    fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# Its own network: on Podman's default one (10.88.0.0/16) the system's address
# would fall inside the default network of the Podman within, and its traffic,
# DNS first, would be routed to that bridge instead of out.
"$ROOT/lab/network.sh" mailrelay-fresh 10.89.250.0/24 >/dev/null
# Its image storage is a volume of its own, so Podman inside uses overlay on
# the host's file system rather than overlay on overlay. No pids limit: the
# lab's containers count against it, and the site and drills scenarios pass
# Podman's default of 2048 ("Resource temporarily unavailable"). Its PID 1 is
# catatonit (--init), which reaps what is left to it: Podman's conmon processes
# are, one per exec, and a plain sleep as PID 1 let thousands of them pile up
# as zombies until no process of root's could fork.
podman volume create "$name" >/dev/null
podman run -d --name "$name" --hostname fresh-debian --privileged --network mailrelay-fresh --pids-limit -1 --init \
    -v "$name:/var/lib/containers" -v "$ROOT:/src:ro" \
    "$FRESH_IMAGE" sleep infinity >/dev/null

# This machine's own settings for reaching the package registries (a local CA,
# pip's configuration) are the machine's, not the project's: a
# newcomer's machine has its own. They are carried in; nothing else is.
for f in /usr/local/share/ca-certificates /etc/pip.conf; do
    [ -e "$f" ] && podman cp "$f" "$name:$(dirname "$f")/"
done
podman exec "$name" sh -c 'update-ca-certificates >/dev/null 2>&1 || true'
podman exec "$name" git clone -q /src /root/mailrelay
podman exec "$name" git -C /root/mailrelay checkout -q "$head"
log "fresh Debian 12 system $name ready with a clone of $head"

status=0 report=()
for target in "${targets[@]}"; do
    log "make $target"
    start=$SECONDS
    if podman exec -w /root/mailrelay -e HOME=/root -e LANG=C.UTF-8 \
            -e PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            "$name" make "$target"; then
        report+=("make $target: passed in $((SECONDS - start)) s")
    else
        report+=("make $target: FAILED after $((SECONDS - start)) s")
        status=1
        break
    fi
done
for line in "${report[@]}"; do log "$line"; done
[ "$status" -eq 0 ]
