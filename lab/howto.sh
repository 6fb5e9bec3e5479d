#!/usr/bin/env bash
# Print how to use the lab that `make lab` brought up, or, with --check, run
# exactly the commands it prints and check each answer (`make lab-check`, and CI
# after `make lab`): the howto a newcomer follows is the one that is tested.
# Usage: howto.sh [--check] [SCENARIO]
set -euo pipefail
check=false
if [ "${1:-}" = --check ]; then check=true; shift; fi
scenario="${1:-site}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$(cd "$(dirname "$0")" && pwd)/containers.conf}"

case "$scenario" in
    site)  relay=10.89.75.11 client=site-client exchange=site-exchange relay_host=site-relay1
           known=user01@example.com ;;
    relay) relay=10.89.71.11 client=relay-client exchange=relay-exchange relay_host=relay-deb12
           known=alice@example.com ;;
    *)     echo "no instructions for scenario $scenario"; exit 0 ;;
esac
# --check sends a message and adds a user of its own, so that what it finds is
# this run's and it can run again on the same lab.
new_user=newbie text="first mail through the relay"
if $check; then stamp="$(date +%s)"; new_user="newbie$stamp" text="$text $stamp"; fi
probe="podman exec $client python3 /usr/local/bin/smtp-probe --server $relay"

# Each step: what it shows, the command, and what --check expects of it
# ("rcpt CODE..." for the RCPT replies in smtp-probe's JSON, "data 250" for an
# accepted message, "ok" for a command that must succeed).
steps=()
step() { steps+=("$1" "$2" "$3"); }
step "Write a message on the internet client:" \
     "podman exec $client sh -c 'printf \"Subject: hello\\\\n\\\\n$text\\\\n\" > /tmp/hello.eml'" \
     "ok"
step "Send it to the relay ($relay) over STARTTLS; $known is a listed recipient (250):" \
     "$probe --starttls --rcpt $known --body-file /tmp/hello.eml" \
     "rcpt 250; data 250"
step "An unknown recipient (550 5.1.1) and a foreign domain (554 relay access denied):" \
     "$probe --rcpt nobody@example.com --rcpt someone@foreign.test" \
     "rcpt 550 554"
step "What reached the Exchange stand-in:" \
     "podman exec $exchange grep -rl '$text' /var/spool/mailsink" \
     "ok"
if [ "$scenario" = site ]; then
    step "AD (Samba) holds the recipients. A new user is unknown until the next refresh (550):" \
         "podman exec site-samba samba-tool user add $new_user 'Lab-Pass-2026!' --mail-address=$new_user@example.com && podman exec -i site-samba ldbmodify -H /var/lib/samba/private/sam.ldb <<<'dn: CN=$new_user,CN=Users,DC=corp,DC=example,DC=com
changetype: modify
add: proxyAddresses
proxyAddresses: SMTP:$new_user@example.com' >/dev/null && $probe --rcpt $new_user@example.com" \
         "rcpt 550"
    step "Refresh relay1's map now (its timer runs the same job) and try again (250):" \
         "podman exec site-relay1 systemctl start relay-recipients-refresh && $probe --rcpt $new_user@example.com" \
         "rcpt 250"
fi

# Runs one step and compares its answer with what the step expects: "ok", or
# smtp-probe's last JSON line summed up as "rcpt CODE...[; data CODE]".
run_step() {
    local cmd="$1" want="$2" out got
    if ! out="$(bash -c "$cmd" 2>&1)"; then
        printf 'FAILED (exit status): %s\n%s\n' "$cmd" "$out"; return 1
    fi
    [ "$want" = ok ] && return 0
    got="$(python3 -c 'import json, sys
report = json.loads(sys.stdin.read().splitlines()[-1])
summary = "rcpt " + " ".join(str(r["code"]) for r in report["rcpt"])
print(summary + ("; data %s" % report["data"][0] if report["data"] else ""))' <<<"$out")" || got="no report"
    [ "$got" = "$want" ] || { printf 'FAILED: expected %s, got %s\n%s\n' "$want" "$got" "$out"; return 1; }
}

if $check; then
    n=0 failed=0
    for ((i = 0; i < ${#steps[@]}; i += 3)); do
        n=$((n + 1))
        if run_step "${steps[i+1]}" "${steps[i+2]}"; then
            echo "howto step $n passed: ${steps[i]}"
        else
            echo "howto step $n FAILED: ${steps[i]}"; failed=$((failed + 1))
        fi
    done
    echo "howto-check: $((n - failed)) passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
fi

echo
echo "The lab is up (Molecule scenario \"$scenario\"). Containers:"
podman ps --format '  {{.Names}}' | grep "^  ${scenario}-" | sort
echo
for ((i = 0; i < ${#steps[@]}; i += 3)); do
    printf '%s\n  %s\n\n' "${steps[i]}" "${steps[i+1]}"
done
cat <<TXT
Inside the relay:         podman exec -it $relay_host bash
Run these steps checked:  make lab-check$([ "$scenario" = site ] || echo " LAB_SCENARIO=$scenario")
Run the scenario's tests: make molecule SCENARIOS=$scenario   (it destroys the lab first)
Remove the lab:           make lab-destroy$([ "$scenario" = site ] || echo " LAB_SCENARIO=$scenario")
TXT
