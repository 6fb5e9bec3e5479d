#!/usr/bin/env bash
# `make test`: every stage runs, each one's output is shown and kept in
# .build/test-logs/, and the last line counts the stages that passed and failed.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
logs=.build/test-logs
mkdir -p "$logs"
passed=0 failed=0 failures=()

stage() {
    local name="$1"; shift
    local start=$SECONDS
    echo "=== $name: $*"
    if "$@" 2>&1 | tee "$logs/$name.log"; then
        passed=$((passed + 1))
        echo "=== $name: passed in $((SECONDS - start)) s"
    else
        failed=$((failed + 1)); failures+=("$name")
        echo "=== $name: FAILED in $((SECONDS - start)) s (log: $logs/$name.log)"
    fi
}

stage lint make --no-print-directory lint
stage sanity make --no-print-directory sanity
stage unit make --no-print-directory unit
make --no-print-directory collection >/dev/null
stage ee-context lab/check-ee.sh
for scenario in ${SCENARIOS:-$(make --no-print-directory -s list-scenarios)}; do
    stage "molecule-$scenario" "$ROOT/.venv/bin/molecule" test -s "$scenario"
done

if [ "$failed" -gt 0 ]; then
    echo "failed stages: ${failures[*]}"
fi
echo "make-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
