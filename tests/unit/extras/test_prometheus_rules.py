# -*- coding: utf-8 -*-
"""The shipped alert rules: promtool's unit tests, both directions for every alert, real metric names."""

import os
import re
import shutil
import subprocess

import pytest
import yaml
from conftest import postfix_collector_names

from ansible_collections.mailrelay.exchange.plugins.module_utils import _map_metrics as map_metrics
from ansible_collections.mailrelay.exchange.plugins.module_utils import _textfile as textfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
RULES = os.path.join(REPO, "extras", "prometheus", "rules", "mailrelay.rules.yml")
TESTS = os.path.join(REPO, "tests", "prometheus", "mailrelay.rules.test.yml")
PROMTOOL = shutil.which("promtool")
NEEDS_PROMTOOL = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian: apt-get install prometheus)")


def load(path):
    with open(path) as stream:
        return yaml.safe_load(stream)


def rules():
    return [rule for group in load(RULES)["groups"] for rule in group["rules"]]


def alerts():
    return [rule for rule in rules() if "alert" in rule]


def metric_names(expr, prefix):
    return set(re.findall(r"\b(%s[a-zA-Z0-9_]*)" % prefix, expr))


@NEEDS_PROMTOOL
def test_promtool_checks_the_rules():
    proc = subprocess.run([PROMTOOL, "check", "rules", RULES], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@NEEDS_PROMTOOL
def test_promtool_runs_the_rule_unit_tests():
    proc = subprocess.run(
        [PROMTOOL, "test", "rules", os.path.basename(TESTS)],
        cwd=os.path.dirname(TESTS),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and "SUCCESS" in proc.stdout, proc.stdout + proc.stderr


def test_every_alert_is_tested_firing_and_silent():
    firing, silent = set(), set()
    for case in load(TESTS)["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {rule["alert"] for rule in alerts()}
    assert names - firing == set(), "alerts never tested firing"
    assert names - silent == set(), "alerts never tested silent"
    assert (firing | silent) - names == set(), "tests of alerts that do not exist"


def test_every_alert_tells_the_operator_what_to_do():
    for rule in alerts():
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"] and "{{ $labels.instance }}" in rule["annotations"]["summary"]
        assert "First" in rule["annotations"]["description"], rule["alert"]


def test_the_postfix_names_are_those_the_collector_writes():
    written = postfix_collector_names()
    used = set()
    for rule in rules():
        used |= metric_names(rule["expr"], "mailrelay_postfix_")
    assert used and used <= written, used - written


def test_the_map_metrics_are_those_the_writer_writes(tmp_path):
    outcome = dict(
        map_source="/etc/postfix/relay_recipients", entries=1, added=1, removed=0, refused_count=0,
        ldap_entries=1, duration=0.1, gate=dict(passed=True),
    )
    path, _warnings = map_metrics.record_run(str(tmp_path), outcome, 3600, 10)
    with open(path) as stream:
        written = {name for name, _labels in textfile.parse(stream.read())}
    used = set()
    for rule in rules():
        used |= metric_names(rule["expr"], map_metrics.PREFIX)
    assert used and used <= written, used - written
