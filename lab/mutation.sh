#!/usr/bin/env bash
# `make mutation`: mutmut 3 on the code where a bug costs mail or safety (the
# address rules, the collector, the file sources, the safety gate and install
# policy, the map build and swap, the LDAP paging, page and wire reader),
# then the score of each file: killed mutants out of those the tests reach.
#
# mutmut derives a mutant's module name from its path, so the tests must import
# the code by the path it lies at: the run works on a copy laid out as
# .build/mutation/ansible_collections/mailrelay/exchange/ (tests/unit/conftest.py
# imports such a tree as it is). Usage: mutation.sh [FILE...] (default: below).
# MAILRELAY_MUTATION_DIR moves that copy (two runs side by side need two).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${MAILRELAY_VENV:-$ROOT/.venv}/bin"
work="${MAILRELAY_MUTATION_DIR:-$ROOT/.build/mutation}"
tree="$work/ansible_collections/mailrelay/exchange"
files=("$@")
[ "${#files[@]}" -gt 0 ] || files=(plugins/module_utils/_address.py plugins/module_utils/_collector.py
                                   plugins/module_utils/_file_source.py plugins/module_utils/_gate.py
                                   plugins/module_utils/_install_policy.py plugins/module_utils/_postfix_map.py
                                   plugins/module_utils/_ldap_page.py plugins/module_utils/_ldap_source.py
                                   plugins/module_utils/_ldap_wire.py)

rm -rf "$work" && mkdir -p "$tree"
git -C "$ROOT" ls-files -z plugins tests/unit pytest.ini | (cd "$ROOT" && tar --null -T - -cf -) | tar -C "$tree" -xf -
{
    echo "[mutmut]"
    echo "source_paths = ansible_collections/"
    printf 'only_mutate =\n'
    for f in "${files[@]}"; do printf '    ansible_collections/mailrelay/exchange/%s\n' "$f"; done
    echo "pytest_add_cli_args_test_selection = ansible_collections/mailrelay/exchange/tests/unit"
} >"$work/setup.cfg"
cd "$work"
"$BIN/mutmut" run --max-children "$(nproc)" >mutmut.log 2>&1 || { tail -n 30 mutmut.log >&2; exit 1; }
"$BIN/python" - "${files[@]}" <<'PY'
import json, sys
from mutmut import __version__
from mutmut.stats import status_by_exit_code

print("mutation score (mutmut %s): killed / (killed + survived); 'no tests' and timeouts listed apart" % __version__)
for path in sys.argv[1:]:
    meta = "mutants/ansible_collections/mailrelay/exchange/%s.meta" % path
    with open(meta) as stream:
        codes = json.load(stream)["exit_code_by_key"]
    counts = {}
    for code in codes.values():
        status = status_by_exit_code[code]
        counts[status] = counts.get(status, 0) + 1
    killed, survived = counts.get("killed", 0), counts.get("survived", 0)
    score = 100.0 * killed / (killed + survived) if killed + survived else 0.0
    other = ", ".join("%s %d" % kv for kv in sorted(counts.items()) if kv[0] not in ("killed", "survived"))
    print("  %-40s %5.1f%%  (%d killed, %d survived%s)" % (path, score, killed, survived, "; " + other if other else ""))
PY
echo "survivors: cd $work && $BIN/mutmut results (and: mutmut show NAME)"
