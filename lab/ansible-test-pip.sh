#!/usr/bin/env bash
# ansible-test bootstraps pip in its sanity venvs with a script it downloads from
# the Ansible CI host, which this machine cannot reach. It looks in its cache
# first; this puts a stand-in there that bootstraps pip from the interpreter's
# own ensurepip and then installs what ansible-test asked for.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MAILRELAY_VENV:-$ROOT/.venv}"

version="$("$VENV/bin/python" - <<'PY'
import inspect, re
from ansible_test._internal import python_requirements as pr
print(re.search(r"pip='([0-9.]+)'", inspect.getsource(pr.get_venv_packages)).group(1))
PY
)"
cache="$HOME/.ansible/test/cache/get_pip_${version//./_}.py"
mkdir -p "$(dirname "$cache")"
cat > "$cache.tmp" <<'PY'
"""Offline stand-in for get-pip.py, written by mailrelay.exchange lab/ansible-test-pip.sh."""
import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
# ensurepip sets PIP_CONFIG_FILE=/dev/null, which would hide the machine's pip
# configuration (its CA bundle and package mirrors).
os.environ.pop("PIP_CONFIG_FILE", None)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
if args:
    sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args))
PY
mv "$cache.tmp" "$cache"
echo "[sanity] ansible-test pip bootstrap stand-in at $cache"
