#!/usr/bin/env bash
# `make lab`: bring a scenario's lab up, configure it, and print its howto.
# Molecule remembers a created lab in its state under HOME. When the containers
# are gone or stopped (`make test` replaced the lab, the machine restarted),
# that state is forgotten first, so that create builds the lab again instead of
# being skipped before a converge of containers that are not there.
# Usage: lab-up.sh SCENARIO  (run from make, which sets PATH and the Ansible env)
set -euo pipefail
scenario="$1"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
stale=()
while read -r name _ _ _ created _; do
    [ "$created" = true ] || continue
    [ "$(podman inspect --format '{{.State.Running}}' "$name" 2>/dev/null)" = true ] || stale+=("$name")
done < <(molecule list -s "$scenario" -f plain 2>/dev/null || true)
if [ "${#stale[@]}" -gt 0 ]; then
    echo "[lab] Molecule remembers a $scenario lab whose containers are gone or stopped (${stale[*]}): removing it, then starting afresh"
    molecule destroy -s "$scenario"
fi
molecule create -s "$scenario"
molecule converge -s "$scenario"
"$ROOT/lab/howto.sh" "$scenario"
