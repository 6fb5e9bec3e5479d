#!/usr/bin/env bash
# Print how to use the lab that `make lab` brought up.
set -euo pipefail
scenario="${1:-relay}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$(cd "$(dirname "$0")" && pwd)/containers.conf}"
relay="$(podman ps --format '{{.Names}}' | grep -E "^${scenario}-deb1[23]$|^relay" | head -n1 || true)"
cat <<TXT

The lab is up (Molecule scenario "$scenario"). Containers:
$(podman ps --format '  {{.Names}}' | sort)

Send the relay a message from the internet client (accepted: alice@example.com is listed):
  podman exec -it ${scenario}-client swaks --server ${relay:-relay-deb12} --to alice@example.com 2>/dev/null || \\
  podman exec ${scenario}-client python3 /usr/local/bin/smtp-probe --server ${relay:-relay-deb12} --rcpt alice@example.com

Try an unknown recipient (550 5.1.1) and a foreign domain (554 relay access denied):
  podman exec ${scenario}-client python3 /usr/local/bin/smtp-probe --server ${relay:-relay-deb12} \\
      --rcpt nobody@example.com --rcpt someone@foreign.test

See what reached the Exchange stand-in:    podman exec ${scenario}-exchange ls -l /var/spool/mailsink
Look inside the relay:                     podman exec -it ${relay:-relay-deb12} bash   (postconf -n, postqueue -p, journalctl -u postfix@-)
Run the checks against this lab:           .venv/bin/molecule verify -s $scenario
Remove the lab:                            make lab-destroy
TXT
