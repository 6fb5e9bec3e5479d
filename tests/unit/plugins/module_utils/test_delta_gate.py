# -*- coding: utf-8 -*-
"""Holding a delta's removals: the count limit, approval by number, force."""

from ansible_collections.mailrelay.exchange.plugins.module_utils import _delta_gate as dg
from ansible_collections.mailrelay.exchange.plugins.module_utils._gate import check_gate

REMOVED = ["u%02d@example.com" % i for i in range(30)]


def test_a_delta_within_the_limit_goes_on():
    assert dg.hold_reason(20, REMOVED[:20], 20, 0) is None


def test_a_delta_over_the_limit_is_held_and_named_with_its_approval():
    reason = dg.hold_reason(30, REMOVED, 20, 0)
    assert "remove 30 addresses, more than dirsync_max_removals 20" in reason
    assert "u00@example.com" in reason and "u19@example.com" in reason and "u20@example.com" not in reason
    assert "dirsync_approve_removals=30" in reason


def test_approval_covers_that_many_removals_and_no_more():
    assert dg.hold_reason(30, REMOVED, 20, 30) is None
    assert dg.hold_reason(31, REMOVED, 20, 30) is not None


def test_a_hold_fails_a_passed_gate_and_force_overrides_it():
    gate = check_gate(100, 70, 30, 1, 100, [], False)
    assert gate.passed
    held = dg.with_hold(gate, "held: x", False)
    assert not held.passed and not held.forced and held.reasons == ["held: x"]
    assert dg.with_hold(gate, "held: x", True).forced
    assert dg.with_hold(gate, None, False) is gate
