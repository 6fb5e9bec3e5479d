# -*- coding: utf-8 -*-
"""What happens to a built and gated map: install, refuse, warn, reload."""

import pytest

from ansible_collections.mailrelay.exchange.plugins.module_utils import _gate as gt
from ansible_collections.mailrelay.exchange.plugins.module_utils import _install_policy as ip


def passed():
    return gt.check_gate(100, 100, 0, 1, 10, [], False)


def failed(force=False):
    # 50 of 100 live entries would go: over the 10 % shrink limit.
    return gt.check_gate(100, 50, 50, 1, 10, [], force)


def test_a_changed_map_that_passed_is_written_and_reloaded_when_asked():
    assert ip.plan(True, passed(), False, True, True) == ip.InstallPlan(True, True, None, None, True)
    assert ip.plan(True, passed(), False, False, True) == ip.InstallPlan(True, True, None, None, False)


def test_only_a_compiled_table_is_reloaded():
    assert ip.plan(True, passed(), False, True, False).reload is False


def test_check_mode_reports_the_change_and_writes_and_reloads_nothing():
    assert ip.plan(True, passed(), True, True, True) == ip.InstallPlan(True, False, None, None, False)


def test_an_unchanged_map_writes_nothing_and_never_reloads():
    assert ip.plan(False, passed(), False, True, True) == ip.InstallPlan(False, False, None, None, False)


def test_a_failed_gate_refuses_a_changed_map_with_the_gate_message():
    plan = ip.plan(True, failed(), False, True, True)
    assert (plan.changed, plan.write, plan.reload, plan.warning) == (False, False, False, None)
    assert plan.failure == gt.gate_message(failed())
    assert plan.failure.startswith("safety gate failed (live map kept): old count 100, new count 50")


@pytest.mark.parametrize("check_mode", [False, True])
def test_a_forced_map_is_installed_with_a_warning(check_mode):
    plan = ip.plan(True, failed(force=True), check_mode, True, True)
    assert (plan.changed, plan.write, plan.failure) == (True, not check_mode, None)
    assert plan.warning.startswith("force: safety gate failed (map installed anyway): old count 100")
    assert plan.reload is not check_mode


def test_a_failed_gate_on_an_unchanged_map_only_warns():
    plan = ip.plan(False, failed(), False, True, True)
    assert (plan.changed, plan.write, plan.failure, plan.reload) == (False, False, None, False)
    assert plan.warning.startswith("safety gate failed (map unchanged, nothing installed)")


def test_map_files_are_0640_unless_the_task_sets_a_mode():
    assert ip.file_arguments({"path": "/m", "mode": None, "owner": "root"}) == {"path": "/m", "mode": "0640", "owner": "root"}
    assert ip.file_arguments({"path": "/m", "mode": "0600"})["mode"] == "0600"
    given = {"mode": None}
    ip.file_arguments(given)
    assert given == {"mode": None}
