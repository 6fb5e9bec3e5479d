#!/usr/bin/env bash
# Prove that ee/execution-environment.yml gives ansible-builder a valid build
# context: the context is created, carries the collection tarball it installs,
# and the collection's own EE metadata yields ldap3 and postfix. (Building the
# image needs the base image from a registry, which this machine cannot reach.)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="${VENV:-$ROOT/.venv}/bin"
ctx=.build/ee-context
version="$(sed -n 's/^version: *//p' galaxy.yml)"
tarball="mailrelay-exchange-$version.tar.gz"

fail() { echo "check-ee: $*" >&2; exit 1; }

[ -f ".build/collection/$tarball" ] || fail "run make collection first (.build/collection/$tarball missing)"
grep -q "/build/collections/$tarball" ee/requirements.yml || fail "ee/requirements.yml does not name $tarball"
rm -rf "$ctx"
"$BIN/ansible-builder" create -f ee/execution-environment.yml -c "$ctx" >/dev/null
[ -f "$ctx/Containerfile" ] || fail "no Containerfile in $ctx"
[ -f "$ctx/_build/collections/$tarball" ] || fail "the collection tarball is not in the context"
grep -q 'ansible-galaxy collection install .*-r requirements.yml' "$ctx/Containerfile" \
    || fail "the Containerfile does not install the collections"
deps="$("$BIN/python" "$ctx/_build/scripts/introspect.py" introspect .collections)"
echo "$deps"
grep -q "^- 'ldap3" <<<"$deps" || fail "ldap3 missing from the introspected Python dependencies"
grep -q "^- 'postfix " <<<"$deps" || fail "postfix missing from the introspected system dependencies"
# The tarball in the context installs: the same step the image build runs.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
"$BIN/ansible-galaxy" collection install --offline --no-deps --force -p "$scratch" "$ctx/_build/collections/$tarball" >/dev/null
[ -f "$scratch/ansible_collections/mailrelay/exchange/plugins/modules/relay_recipient_map.py" ] \
    || fail "the tarball in the context does not install the module"
echo "check-ee: build context $ctx is valid ($(grep -c '' "$ctx/Containerfile") Containerfile lines)"
