#!/usr/bin/env bash
# Create a Podman network with a fixed subnet for a lab scenario, unless it
# exists. Molecule's podman driver cannot set a subnet itself, and fixed
# addresses let the scenarios name Exchange and the relays by IP in Postfix.
# Usage: network.sh NAME SUBNET [IPV6_SUBNET]
# With IPV6_SUBNET the network is dual-stack (netavark), so a scenario can
# test IPv6 as well; without it the network is IPv4 only, as before.
set -euo pipefail
name="$1" subnet="$2" subnet6="${3:-}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$(cd "$(dirname "$0")" && pwd)/containers.conf}"
if podman network exists "$name"; then
    have="$(podman network inspect "$name" --format '{{range .Subnets}}{{.Subnet}} {{end}}')"
    for want in "$subnet" ${subnet6:+"$subnet6"}; do
        case " $have " in
            *" $want "*) ;;
            *) echo "network $name exists with subnet $have, not $subnet $subnet6; remove it with: podman network rm $name" >&2; exit 1 ;;
        esac
    done
    exit 0
fi
args=(--subnet "$subnet")
[ -n "$subnet6" ] && args+=(--ipv6 --subnet "$subnet6")
podman network create "${args[@]}" "$name" >/dev/null
echo "created Podman network $name ($subnet${subnet6:+ $subnet6})"
