# -*- coding: utf-8 -*-
"""Make ``ansible_collections.mailrelay.exchange`` importable from the checkout.

The tests import the plugins by the same path Ansible uses at run time. A tree
that already lies at ``<root>/ansible_collections/mailrelay/exchange`` (the
copies ansible-test and ``make mutation`` lay out) is imported from ``<root>``;
a plain checkout gets a symlink tree under .build/pyroot (git-ignored).
"""

import os
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NAMESPACE = os.path.join("ansible_collections", "mailrelay", "exchange")

if REPO.endswith(os.sep + NAMESPACE):
    PYROOT = REPO[: -len(os.sep + NAMESPACE)]
else:
    PYROOT = os.path.join(REPO, ".build", "pyroot")
    LINK = os.path.join(PYROOT, NAMESPACE)
    if os.path.realpath(LINK) != REPO:
        os.makedirs(os.path.dirname(LINK), exist_ok=True)
        if os.path.islink(LINK):
            os.unlink(LINK)
        os.symlink(REPO, LINK)
if PYROOT not in sys.path:
    sys.path.insert(0, PYROOT)
