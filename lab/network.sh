#!/usr/bin/env bash
# Create a Podman network with a fixed subnet for a lab scenario, unless it
# exists. Molecule's podman driver cannot set a subnet itself, and fixed
# addresses let the scenarios name Exchange and the relays by IP in Postfix.
set -euo pipefail
name="$1" subnet="$2"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$(cd "$(dirname "$0")" && pwd)/containers.conf}"
if podman network exists "$name"; then
    have="$(podman network inspect "$name" --format '{{range .Subnets}}{{.Subnet}} {{end}}')"
    case " $have " in
        *" $subnet "*) exit 0 ;;
        *) echo "network $name exists with subnet $have, not $subnet; remove it with: podman network rm $name" >&2; exit 1 ;;
    esac
fi
podman network create --subnet "$subnet" "$name" >/dev/null
echo "created Podman network $name ($subnet)"
