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


def load_script(relative_path, module_name):
    """A script of the collection (a file without .py, e.g. one a role installs), imported as a module."""
    import importlib.machinery
    import importlib.util

    loader = importlib.machinery.SourceFileLoader(module_name, os.path.join(REPO, relative_path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def load_postfix_collector():
    """The monitoring role's Postfix collector."""
    return load_script("roles/monitoring/files/mailrelay-postfix-metrics", "mailrelay_postfix_metrics")


def postfix_collector_names():
    """Every metric name the collector writes, from a real render of its families."""
    from ansible_collections.mailrelay.exchange.plugins.module_utils import _postfix_log, _postfix_queue, _textfile

    collector = load_postfix_collector()
    matcher = _postfix_queue.DomainMatcher(["example.com"])
    counters = _postfix_log.LogCounters(matcher)
    queue = _postfix_queue.summarise([], matcher, 0)
    thresholds = {"deferred_age": 900, "queue_messages": 500, "rejects_per_second": 2}
    text = _textfile.render(collector.families(counters, queue, True, thresholds, 0))
    return frozenset(name for name, _labels in _textfile.parse(text))
