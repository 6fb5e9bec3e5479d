#!/usr/bin/env bash
# make bench: run the benchmarks of issue 6 in one Podman container (<prefix>-lab)
# and write docs/benchmarks.md. Everything runs over that container's loopback.
# Environment: BENCH_SIZES, BENCH_REPS, BENCH_MAP_SIZES, BENCH_ATTACK_SECONDS,
# BENCH_MIXES, BENCH_SECTIONS
# (see bench/bench.py), BENCH_IMAGE, BENCH_KEEP=1 to keep the containers.
# BENCH_PREFIX (default bench): container names <prefix>-lab, <prefix>-samba.
# BENCH_SAMBA_SIZES (default 100000; "" skips it): section 1 again against
# Samba AD, in a second container (<prefix>-samba), after the rest (bench/samba_bench.py),
# and the DirSync section on that directory (bench/dirsync_bench.py: BENCH_DIRSYNC_REPS,
# BENCH_DIRSYNC_CHANGES).
# BENCH_AB_REF=<git ref>: also run that commit's module against this tree's,
# interleaved, on the same directories (section "ab", BENCH_AB_REPS runs each).
# Only a run of every section writes docs/benchmarks.md; a run limited by
# BENCH_SECTIONS writes .build/bench/benchmarks.md, so the published figures stay whole.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/lab/containers.conf}"
IMAGE="${BENCH_IMAGE:-localhost/mailrelay-lab-debian:12}"
NAME="${BENCH_PREFIX:-bench}-lab"
SAMBA="${BENCH_PREFIX:-bench}-samba"
SAMBA_SIZES="${BENCH_SAMBA_SIZES-100000}"
PY="$ROOT/.venv/bin/python"
SITE="$("$PY" -c 'import ansible, os; print(os.path.dirname(os.path.dirname(ansible.__file__)))')"
OUT="$ROOT/.build/bench"

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*"; }
# merge KEY: put $OUT/KEY.json into results.json under KEY.
merge() {
    "$PY" -c 'import json, sys; r = json.load(open(sys.argv[1])); r[sys.argv[3]] = json.load(open(sys.argv[2])); json.dump(r, open(sys.argv[1], "w"), indent=1, sort_keys=True)' \
        "$OUT/results.json" "$OUT/$1.json" "$1"
}

load_at_start="$(cut -d' ' -f1-3 /proc/loadavg)"
started=$(date +%s)
log "load average at start: $load_at_start"

podman rm -f "$NAME" >/dev/null 2>&1 || true
podman rm -f "$SAMBA" >/dev/null 2>&1 || true
cleanup() {
    [ "${BENCH_KEEP:-0}" = 1 ] && return
    podman rm -f "$NAME" >/dev/null 2>&1 || true
    podman rm -f "$SAMBA" >/dev/null 2>&1 || true
}
trap cleanup EXIT
podman run -d --name "$NAME" --hostname bench-lab.example.net "$IMAGE" sleep infinity >/dev/null

log "installing slapd, Postfix and the map types in $NAME"
podman exec -i -e DEBIAN_FRONTEND=noninteractive "$NAME" bash -s <<'SETUP'
set -euo pipefail
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends slapd ldap-utils postfix postfix-cdb postfix-lmdb \
    postfix-ldap python3-ldap3 time procps dkimpy-milter >/tmp/apt.log 2>&1 || { tail -20 /tmp/apt.log; exit 1; }
SETUP

# The module runs from a copy of the collection's plugins with the venv's
# ansible module_utils beside it, the same code Ansible would ship to a host.
stage="$(mktemp -d)"
trap 'rm -rf "$stage"; cleanup' EXIT
mkdir -p "$stage/lib/ansible_collections/mailrelay/exchange" "$stage/lib/ansible"
cp -r "$ROOT/plugins" "$stage/lib/ansible_collections/mailrelay/exchange/"
cp -r "$SITE/ansible/__init__.py" "$SITE/ansible/release.py" "$SITE/ansible/_vendor" \
    "$SITE/ansible/module_utils" "$stage/lib/ansible/"
cp "$ROOT"/bench/*.py "$ROOT"/bench/*.awk "$stage/"
# Section "signing" sets the signer up with the outbound_security role's own helper and template.
cp "$ROOT/roles/outbound_security/files/mailrelay-dkim" "$ROOT/roles/outbound_security/templates/dkimpy-milter.conf.j2" "$stage/"
find "$stage" -name __pycache__ -prune -exec rm -rf {} +
podman exec "$NAME" mkdir -p /opt/bench
podman cp "$stage/." "$NAME:/opt/bench/"

ab_env=()
sections="${BENCH_SECTIONS-}"
if [ -n "${BENCH_AB_REF:-}" ]; then
    ab_commit="$(git -C "$ROOT" rev-parse --short "${BENCH_AB_REF}^{commit}")"
    ab="$stage/ab/lib"
    mkdir -p "$ab/ansible_collections/mailrelay/exchange"
    git -C "$ROOT" archive "$ab_commit" plugins | tar -C "$ab/ansible_collections/mailrelay/exchange" -xf -
    cp -r "$stage/lib/ansible" "$ab/"
    podman exec "$NAME" mkdir -p /opt/ab
    podman cp "$stage/ab/." "$NAME:/opt/ab/"
    ab_name="$BENCH_AB_REF ($ab_commit)"
    [ "$BENCH_AB_REF" != "$ab_commit" ] || ab_name="$ab_commit"
    ab_env=(-e BENCH_AB_LIB=/opt/ab/lib -e BENCH_AB_REF="$ab_name")
    if [ -n "${BENCH_AB_REPS:-}" ]; then ab_env+=(-e BENCH_AB_REPS="$BENCH_AB_REPS"); fi
    sections="${sections:-export startup profile noop maps attack signing} ab"
    log "A/B baseline: the module of $BENCH_AB_REF ($ab_commit)"
fi

limits="$("$PY" -c 'import json, sys, yaml; d = yaml.safe_load(open(sys.argv[1])); print(json.dumps({k: v for k, v in d.items() if "limit" in k or "sleep" in k}))' \
    "$ROOT/roles/postfix_relay/defaults/main.yml")"

log "running bench/bench.py in $NAME"
podman exec -e BENCH_LOAD_AT_START="$load_at_start" -e BENCH_ROLE_LIMITS="$limits" \
    ${BENCH_SIZES:+-e BENCH_SIZES="$BENCH_SIZES"} ${BENCH_REPS:+-e BENCH_REPS="$BENCH_REPS"} \
    ${BENCH_MAP_SIZES:+-e BENCH_MAP_SIZES="$BENCH_MAP_SIZES"} \
    ${BENCH_ATTACK_SECONDS:+-e BENCH_ATTACK_SECONDS="$BENCH_ATTACK_SECONDS"} \
    ${BENCH_MIXES:+-e BENCH_MIXES="$BENCH_MIXES"} \
    ${sections:+-e BENCH_SECTIONS="$sections"} "${ab_env[@]}" \
    "$NAME" python3 /opt/bench/bench.py

mkdir -p "$OUT"
podman cp "$NAME:/var/bench/results.json" "$OUT/results.json"

if [ -n "$SAMBA_SIZES" ]; then
    # Provisioning sets NT ACLs in security xattrs (as in the Molecule scenarios).
    # --init reaps samba's daemons when samba_bench.py stops samba between loads.
    podman run -d --init --cap-add SYS_ADMIN --name "$SAMBA" --hostname dc1.samba.example.net "$IMAGE" sleep infinity >/dev/null
    log "installing Samba AD, ldapsearch and Postfix in $SAMBA"
    podman exec -i -e DEBIAN_FRONTEND=noninteractive "$SAMBA" bash -s <<'SETUP'
set -euo pipefail
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends samba samba-ad-provision samba-ad-dc winbind ldb-tools \
    ldap-utils python3-ldap3 postfix postfix-cdb time procps >/tmp/apt.log 2>&1 || { tail -20 /tmp/apt.log; exit 1; }
SETUP
    podman exec "$SAMBA" mkdir -p /opt/bench
    podman cp "$stage/." "$SAMBA:/opt/bench/"
    log "running bench/samba_bench.py in $SAMBA (sizes: $SAMBA_SIZES)"
    podman exec -e BENCH_SAMBA_SIZES="$SAMBA_SIZES" ${BENCH_REPS:+-e BENCH_REPS="$BENCH_REPS"} \
        "$SAMBA" python3 /opt/bench/samba_bench.py
    podman cp "$SAMBA:/var/bench/samba.json" "$OUT/samba.json"
    merge samba
    # DirSync (issue 12) on the directory samba_bench.py loaded: bench/dirsync_bench.py.
    if [ -z "${BENCH_SECTIONS-}" ] || [[ " $BENCH_SECTIONS " == *" dirsync "* ]]; then
        log "running bench/dirsync_bench.py in $SAMBA"
        # The sizes tell it how many objects samba_bench.py loaded (it changes objects among all of them).
        podman exec -e BENCH_SAMBA_SIZES="$SAMBA_SIZES" \
            ${BENCH_DIRSYNC_REPS:+-e BENCH_DIRSYNC_REPS="$BENCH_DIRSYNC_REPS"} \
            ${BENCH_DIRSYNC_CHANGES:+-e BENCH_DIRSYNC_CHANGES="$BENCH_DIRSYNC_CHANGES"} \
            "$SAMBA" python3 /opt/bench/dirsync_bench.py
        podman cp "$SAMBA:/var/bench/dirsync.json" "$OUT/dirsync.json"
        merge dirsync
    fi
fi
report="$ROOT/docs/benchmarks.md"
[ -z "${BENCH_SECTIONS-}" ] || report="$OUT/benchmarks.md"
"$PY" "$ROOT/bench/report.py" "$OUT/results.json" "$report" "$(( $(date +%s) - started ))"
log "${report#"$ROOT"/} written ($(( $(date +%s) - started )) s in all)"
