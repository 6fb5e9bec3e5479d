#!/usr/bin/env bash
# Print how to use the lab that `make lab` brought up.
set -euo pipefail
scenario="${1:-site}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$(cd "$(dirname "$0")" && pwd)/containers.conf}"
case "$scenario" in
    site)  relay=10.89.75.11 client=site-client exchange=site-exchange known=user01@example.com
           extra="  AD (Samba) holds the recipients; add one and refresh:
    podman exec site-samba samba-tool user add newbie 'Lab-Pass-2026!' --mail-address=newbie@example.com
    podman exec -i site-samba ldbmodify -H /var/lib/samba/private/sam.ldb <<<'dn: CN=newbie,CN=Users,DC=corp,DC=example,DC=com
    changetype: modify
    add: proxyAddresses
    proxyAddresses: SMTP:newbie@example.com'
    .venv/bin/molecule converge -s site     # the refresh for both relays (one export)
    podman exec site-relay1 systemctl start relay-recipients-refresh   # or relay1's own timer job" ;;
    relay) relay=10.89.71.11 client=relay-client exchange=relay-exchange known=alice@example.com extra="" ;;
    *)     echo "no instructions for scenario $scenario"; exit 0 ;;
esac
cat <<TXT

The lab is up (Molecule scenario "$scenario"). Containers:
$(podman ps --format '  {{.Names}}' | grep "^  ${scenario}-" | sort)

Send the relay ($relay) a message from the internet client; $known is a listed recipient:
  podman exec $client sh -c 'printf "Subject: hello\\n\\nfirst mail through the relay\\n" > /tmp/hello.eml'
  podman exec $client python3 /usr/local/bin/smtp-probe --server $relay --starttls \\
      --rcpt $known --body-file /tmp/hello.eml

An unknown recipient (550 5.1.1) and a foreign domain (554 relay access denied):
  podman exec $client python3 /usr/local/bin/smtp-probe --server $relay \\
      --rcpt nobody@example.com --rcpt someone@foreign.test

What reached the Exchange stand-in:  podman exec $exchange ls -l /var/spool/mailsink
Inside the relay:                    podman exec -it ${scenario}-relay1 bash 2>/dev/null || podman exec -it ${scenario}-deb12 bash
$extra
Run the scenario's checks:           .venv/bin/molecule verify -s $scenario
Remove the lab:                      make lab-destroy
TXT
