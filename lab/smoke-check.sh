#!/usr/bin/env bash
# The last step of `make setup`: can this machine run the lab? Each check names
# the missing piece and what to do about it (README, "When make setup fails").
#   1. the programs Podman, netavark and the tests run are installed
#   2. two containers on a fresh dual-stack Podman network reach each other by
#      name (aardvark-dns) and by IPv4 and IPv6 address (netavark, iptables)
#   3. systemd boots as PID 1 in the lab image
#   4. a container reaches the Debian mirror and, with NET_ADMIN, loads nftables
#      rules (what the relay and firewall scenarios do)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/lab/containers.conf}"
IMAGE="${MAILRELAY_LAB_IMAGE_12:-${MAILRELAY_LAB_IMAGE_REPO:-localhost/mailrelay-lab-debian}:12}"
run_id="mailrelay-smoke-$$"

log() { printf '[smoke] %s\n' "$*"; }
fail() {
    printf '[smoke] FAILED: %s\n' "$1" >&2
    shift
    for line in "$@"; do printf '[smoke]   %s\n' "$line" >&2; done
    exit 1
}

cleanup() {
    podman rm --ignore -f -t 0 "$run_id-a" "$run_id-b" "$run_id-sd" >/dev/null 2>&1 || true
    podman network rm -f "$run_id" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# 1. Programs, each with the package that brings it.
missing=() packages=()
for pair in podman:podman runc:runc conmon:conmon /usr/lib/podman/netavark:netavark \
            /usr/lib/podman/aardvark-dns:aardvark-dns iptables:iptables nft:nftables \
            debootstrap:debootstrap postmap:postfix shellcheck:shellcheck git:git make:make; do
    prog="${pair%%:*}" pkg="${pair##*:}"
    if [[ "$prog" == /* ]]; then [ -x "$prog" ] && continue
    else PATH="$PATH:/usr/sbin:/sbin" command -v "$prog" >/dev/null 2>&1 && continue
    fi
    missing+=("$prog (package $pkg)") packages+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    fail "programs missing: ${missing[*]}" \
         "install them with: apt-get install --no-install-recommends ${packages[*]}" \
         "(lab/setup.sh names every package; one that is missing here was removed after it ran)"
fi
# The unit tests compile real cdb and lmdb maps.
scratch="$(mktemp -d)"
printf 'user@example.com\tOK\n' >"$scratch/map" && touch "$scratch/main.cf"
for type in cdb:postfix-cdb lmdb:postfix-lmdb; do
    if ! postmap -c "$scratch" "${type%%:*}:$scratch/map" 2>/dev/null || [ ! -s "$scratch/map.${type%%:*}" ]; then
        rm -rf "$scratch"; fail "postmap cannot build ${type%%:*} maps" "apt-get install ${type##*:}"
    fi
done
rm -rf "$scratch"
podman info --format '{{.Host.OCIRuntime.Name}}' >/dev/null 2>&1 \
    || fail "podman cannot start: $(podman info 2>&1 | tail -n 1)" \
            "CONTAINERS_CONF is $CONTAINERS_CONF (runc, rlimits below this machine's hard limits)"
podman image exists "$IMAGE" || fail "the lab image $IMAGE does not exist" "run make setup (it builds it)"
log "programs present; podman runs with $(podman info --format '{{.Host.OCIRuntime.Name}}')"

# 2. A fresh network, two containers that talk over it. Subnets from the
# unique-local and shared-address ranges the lab's fixed networks do not use.
subnet4="10.89.$(( 100 + $$ % 100 )).0/24"
subnet6="fd89:$(printf '%x' $(( $$ % 65536 )))::/64"
if ! out="$(podman network create --subnet "$subnet4" --ipv6 --subnet "$subnet6" "$run_id" 2>&1)"; then
    fail "podman cannot create a bridge network: $out" \
         "netavark needs iptables (and the kernel's nf_tables/bridge modules); apt-get install iptables"
fi
if ! out="$(podman run -d --name "$run_id-a" --network "$run_id" "$IMAGE" \
        python3 -m http.server --bind :: 8025 2>&1)"; then
    fail "a container on a bridge network does not start: $out" \
         "'netavark: No such file or directory' means iptables is missing: apt-get install iptables"
fi
addr4="$(podman inspect "$run_id-a" --format "{{(index .NetworkSettings.Networks \"$run_id\").IPAddress}}")"
addr6="$(podman inspect "$run_id-a" --format "{{(index .NetworkSettings.Networks \"$run_id\").GlobalIPv6Address}}")"
probe='import sys, time, urllib.request
deadline = time.time() + 20
for target in sys.argv[1:]:
    while True:
        try:
            urllib.request.urlopen("http://%s:8025/" % target, timeout=3).read()
            break
        except OSError as exc:
            if time.time() > deadline:
                sys.exit("%s: %s" % (target, exc))
            time.sleep(0.5)'
if ! out="$(podman run --rm --name "$run_id-b" --network "$run_id" "$IMAGE" \
        python3 -c "$probe" "$run_id-a" "$addr4" "[$addr6]" 2>&1)"; then
    fail "two containers on network $run_id do not reach each other: $out" \
         "by name needs aardvark-dns; by address needs netavark's rules (iptables) and IP forwarding"
fi
log "two containers on a fresh network reach each other by name, $addr4 and $addr6"

# 3. systemd as PID 1, as every scenario runs it.
podman run -d --name "$run_id-sd" --systemd=always --cap-add NET_ADMIN "$IMAGE" /sbin/init >/dev/null \
    || fail "the lab image does not start with /sbin/init" "rebuild it: podman rmi $IMAGE && make setup"
state=""
for _ in $(seq 1 60); do
    state="$(podman exec "$run_id-sd" systemctl is-system-running 2>/dev/null || true)"
    case "$state" in running|degraded) break ;; esac
    sleep 1
done
case "$state" in
    running|degraded) log "systemd boots in $IMAGE ($state)" ;;
    *) fail "systemd did not finish booting in $IMAGE within 60 s (state: ${state:-none})" \
            "the lab needs systemd as PID 1 in a container: cgroups v2 or a hybrid mode Podman with runc accepts" \
            "$(podman logs --tail 5 "$run_id-sd" 2>&1)" ;;
esac

# 4. The Debian mirror from a container, then nftables with NET_ADMIN.
apt_opts="-o Acquire::Retries=3 -o Acquire::http::Timeout=20"
if ! out="$(timeout 300 podman exec "$run_id-sd" sh -c "apt-get $apt_opts update -qq && DEBIAN_FRONTEND=noninteractive apt-get $apt_opts install -y -qq --no-install-recommends nftables >/dev/null" 2>&1)"; then
    fail "a container cannot install packages from the Debian mirror: $(tail -n 3 <<<"$out")" \
         "the scenarios install Postfix, Samba and OpenLDAP in their containers; containers reach the mirror through Podman's default network"
fi
rules='table inet mailrelay_smoke {
    chain input {
        type filter hook input priority 0; policy accept;
        tcp dport 25 accept
        ip6 nexthdr icmpv6 accept
    }
}'
if ! out="$(podman exec -i "$run_id-sd" nft -f - <<<"$rules" 2>&1)" || \
   ! podman exec "$run_id-sd" nft list table inet mailrelay_smoke >/dev/null 2>&1; then
    fail "nftables rules cannot be loaded in a container with NET_ADMIN: $out" \
         "the host kernel needs nf_tables (modprobe nf_tables)"
fi
log "a container installs nftables from the mirror and loads rules with NET_ADMIN"
log "this machine can run the lab ($SECONDS s)"
