# -*- coding: utf-8 -*-
"""Make ``ansible_collections.mailrelay.exchange`` importable from the checkout.

A symlink tree under .build/pyroot (git-ignored) points at the repository, so the
tests import the plugins by the same path Ansible uses at run time.
"""

import os
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PYROOT = os.path.join(REPO, ".build", "pyroot")
LINK = os.path.join(PYROOT, "ansible_collections", "mailrelay", "exchange")

if os.path.realpath(LINK) != REPO:
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    if os.path.islink(LINK):
        os.unlink(LINK)
    os.symlink(REPO, LINK)
if PYROOT not in sys.path:
    sys.path.insert(0, PYROOT)
