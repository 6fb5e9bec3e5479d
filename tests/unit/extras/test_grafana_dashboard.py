# -*- coding: utf-8 -*-
"""The Grafana dashboard: every query names a metric the relay exports, every panel tells the operator what to do."""

import copy
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml
from conftest import load_script, postfix_collector_names

from ansible_collections.mailrelay.exchange.plugins.module_utils import _map_metrics as map_metrics
from ansible_collections.mailrelay.exchange.plugins.module_utils import _textfile as textfile

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DASHBOARD = os.path.join(REPO, "extras", "grafana", "mailrelay.dashboard.json")
RULES = os.path.join(REPO, "extras", "prometheus", "rules", "mailrelay.rules.yml")
SCRIPT = os.path.join(REPO, "tests", "prometheus", "dashboard_metrics.py")
PROMTOOL = shutil.which("promtool")

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
INSTANCE_FILTER = 'instance=~"$instance"'

# Every name the Postfix collector (roles/monitoring/files/mailrelay-postfix-metrics) writes.
POSTFIX_COLLECTOR_NAMES = postfix_collector_names()
# Prometheus's own and node_exporter's names the dashboard may use: keep this short.
PROMETHEUS_AND_NODE_NAMES = frozenset(("up", "node_textfile_scrape_error"))


dashboard_metrics = load_script("tests/prometheus/dashboard_metrics.py", "dashboard_metrics")


def load_dashboard():
    with open(DASHBOARD, encoding="utf-8") as stream:
        return json.load(stream)


def query_panels(dashboard):
    return [panel for panel in dashboard_metrics.panels(dashboard) if panel["type"] != "row"]


def map_metric_names(directory):
    """The names the recipient map's writer really writes (sample names, as Prometheus stores them)."""
    outcome = dict(
        map_source="/etc/postfix/relay_recipients", entries=1, added=1, removed=0, refused_count=0,
        ldap_entries=1, duration=0.1, gate=dict(passed=True),
    )
    path, _warnings = map_metrics.record_run(str(directory), outcome, 3600, 10)
    with open(path, encoding="utf-8") as stream:
        return {name for name, _labels in textfile.parse(stream.read())}


def recording_rule_names():
    with open(RULES, encoding="utf-8") as stream:
        groups = yaml.safe_load(stream)["groups"]
    return {rule["record"] for group in groups for rule in group["rules"] if "record" in rule}


def exported_names(directory):
    return map_metric_names(directory) | recording_rule_names() | POSTFIX_COLLECTOR_NAMES | PROMETHEUS_AND_NODE_NAMES


def unexported(path, exported):
    """The names the dashboard at ``path`` uses that nothing exports."""
    return dashboard_metrics.dashboard_metrics(path) - exported


# (a) the scanner of PromQL expressions

@pytest.mark.parametrize(
    "expr, names",
    [
        ('x{reason="gate", map=~"/etc/postfix/.*"}', {"x"}),
        ("sum by (reason) (rate(x_total[5m]))", {"x_total"}),
        ("sum(rate(x_total[5m])) by (reason, instance)", {"x_total"}),
        ("sum without (job) (x)", {"x"}),
        ("rate(x[$__rate_interval]) + increase(y[$__range])", {"x", "y"}),
        ("x offset 1h", {"x"}),
        ("max_over_time(x[1d:5m] offset -30m)", {"x"}),
        ("a / on(instance) group_left b", {"a", "b"}),
        ("a * ignoring(reason) group_right(map) b", {"a", "b"}),
        # PromQL reads the parentheses after group_left as its label list.
        ("a * on(instance) group_left (b)", {"a"}),
        ("a * on(instance) group_left() (b)", {"a", "b"}),
        ('label_replace(up, "dst", "mailrelay_fake_total", "src", "(.*)")', {"up"}),
        ("x{map='/etc/postfix/relay_recipients'} # y_total in a comment", {"x"}),
        ('x{reason="a \\"} y_total \\" b"}', {"x"}),
        ("mailrelay:recipient_map_age_seconds > 3 * refresh_seconds", {"mailrelay:recipient_map_age_seconds", "refresh_seconds"}),
        ("a > bool 1e3 and b or c unless d", {"a", "b", "c", "d"}),
        ("SUM BY (a) (b) AND ON (c) d", {"b", "d"}),
        ("time() - x", {"x"}),
        ('{__name__="x", job="y"}', {"x"}),
        ('{"x", job="y"}', {"x"}),
        ('{__name__=~"x.*"}', set()),
        ('topk(3, x) + count_values("reason", y)', {"x", "y"}),
        ("x * Inf + NaN", {"x"}),
        ('x{instance=~"$instance"} / ${divisor}', {"x"}),
    ],
)
def test_metric_names_finds_the_selected_metrics_and_nothing_else(expr, names):
    assert dashboard_metrics.metric_names(expr) == names


def test_selectors_carry_their_label_matchers():
    expr = 'a{instance=~"$instance", x="}"} / on(instance) b'
    assert list(dashboard_metrics.selectors(expr)) == [("a", 'instance=~"$instance", x="}"'), ("b", "")]


@pytest.mark.parametrize(
    "query, names",
    [
        ("label_values(mailrelay_recipient_map_entries, instance)", {"mailrelay_recipient_map_entries"}),
        ('label_values(up{job=~"a|b"}, instance)', {"up"}),
        ("label_values(instance)", set()),
        ("label_names()", set()),
        ("metrics(mailrelay_.*)", set()),
        ("query_result(topk(3, x_total))", {"x_total"}),
        ("sum by (map) (x)", {"x"}),
    ],
)
def test_variable_queries_name_only_their_metrics(query, names):
    assert dashboard_metrics.variable_query_names(query) == names


# (b) the dashboard's shape

def test_the_dashboard_imports_into_grafana_10_and_11():
    dashboard = load_dashboard()
    assert dashboard["id"] is None, "an import must not carry the exporting Grafana's id"
    assert dashboard["uid"] and dashboard["title"]
    assert 36 <= dashboard["schemaVersion"] <= 41


def test_every_panel_has_a_title_a_description_the_datasource_and_a_query():
    panels = query_panels(load_dashboard())
    assert panels
    for panel in panels:
        assert panel.get("title"), panel
        assert len(panel.get("description", "")) > 40, panel["title"]
        assert panel.get("datasource") == DATASOURCE, panel["title"]
        targets = panel.get("targets") or []
        assert targets and all(target.get("expr", "").strip() for target in targets), panel["title"]
        assert all(target.get("datasource") == DATASOURCE for target in targets), panel["title"]


def test_panel_ids_are_unique_and_every_panel_has_its_place():
    panels = list(dashboard_metrics.panels(load_dashboard()))
    ids = [panel["id"] for panel in panels]
    assert all(isinstance(panel_id, int) for panel_id in ids)
    assert len(ids) == len(set(ids))
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] >= 0 and grid["y"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]


def _datasources(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield value
            else:
                yield from _datasources(value)
    elif isinstance(node, list):
        for item in node:
            yield from _datasources(item)


def test_no_datasource_is_hard_coded():
    found = list(_datasources(load_dashboard()))
    assert found and all(datasource == DATASOURCE for datasource in found), found


def test_the_variables_choose_a_prometheus_and_the_relays():
    variables = dict((variable["name"], variable) for variable in load_dashboard()["templating"]["list"])
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    instance = variables["instance"]
    assert instance["type"] == "query" and instance["multi"] and instance["includeAll"]
    assert instance["query"] == "label_values(mailrelay_recipient_map_entries, instance)"


def test_every_selector_filters_by_the_relays_chosen():
    for title, expr in dashboard_metrics.target_expressions(load_dashboard()):
        for name, matchers in dashboard_metrics.selectors(expr):
            assert INSTANCE_FILTER in matchers, "%s: %s" % (title, name)


def test_the_rows_ask_the_operators_questions():
    rows = " | ".join(panel["title"] for panel in load_dashboard()["panels"] if panel["type"] == "row")
    for question in ("fresh and complete", "fail", "waiting for Exchange", "dictionary attack", "deferring", "TLS", "watched"):
        assert question in rows, question


# (c) every name is one the relay exports

def test_every_metric_the_dashboard_uses_is_exported(tmp_path):
    assert unexported(DASHBOARD, exported_names(tmp_path)) == set()
    used = dashboard_metrics.dashboard_metrics(DASHBOARD)
    for source in (map_metric_names(tmp_path), recording_rule_names(), PROMETHEUS_AND_NODE_NAMES):
        assert used & source, "the dashboard uses none of %s" % sorted(source)


def test_the_dashboard_shows_every_postfix_collector_metric():
    assert POSTFIX_COLLECTOR_NAMES - dashboard_metrics.dashboard_metrics(DASHBOARD) == set()


# (d) the check reports a name nobody exports

def _with_typo(dashboard, place):
    """A copy of the dashboard with one metric name misspelt; returns (copy, the misspelt name)."""
    broken = copy.deepcopy(dashboard)
    if place == "variable":
        holder = [v for v in broken["templating"]["list"] if v["name"] == "instance"][0]
        key, name = "query", "mailrelay_recipient_map_entries"
    else:
        collapsed = [row for row in broken["panels"] if row["type"] == "row" and row["collapsed"]]
        holder = (collapsed[0]["panels"][0] if place == "collapsed row" else query_panels(broken)[0])["targets"][0]
        key = "expr"
        name = next(dashboard_metrics.selectors(holder[key]))[0]
    holder[key] = holder[key].replace(name, name + "_typo", 1)
    return broken, name + "_typo"


@pytest.mark.parametrize("place", ["panel", "collapsed row", "variable"])
def test_a_name_nobody_exports_is_reported(tmp_path, place):
    broken, typo = _with_typo(load_dashboard(), place)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken), encoding="utf-8")
    assert unexported(str(path), exported_names(tmp_path)) == {typo}


# The command the Molecule scenario runs

def test_the_command_prints_the_names_sorted_one_a_line():
    proc = subprocess.run([sys.executable, SCRIPT, DASHBOARD], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == sorted(dashboard_metrics.dashboard_metrics(DASHBOARD))


def test_the_command_without_a_dashboard_says_how_to_call_it():
    proc = subprocess.run([sys.executable, SCRIPT], capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "usage" in proc.stderr


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian: apt-get install prometheus)")
def test_promtool_parses_every_query(tmp_path):
    rules = []
    for index, (_title, expr) in enumerate(dashboard_metrics.target_expressions(load_dashboard())):
        expr = re.sub(r"\$__(rate_interval|range|interval)", "5m", expr).replace("$instance", ".+")
        assert "$" not in expr, expr
        rules.append({"record": "mailrelay_dashboard:query_%d" % index, "expr": expr})
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8")
    proc = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
