# -*- coding: utf-8 -*-
"""The safety gate and its message."""

from ansible_collections.mailrelay.exchange.plugins.module_utils import _gate as gt

DOMAINS = ["example.com", "example.org"]


def keys(n, domain="example.com"):
    return {"u%05d@%s" % (i, domain) for i in range(n)} | {"postmaster@%s" % domain}


def gate(old, new, **kw):
    args = dict(min_entries=1, max_shrink_percent=10, must_exist=["postmaster@example.com"], force=False)
    args.update(kw)
    removed = len(old - new) if old is not None else 0
    missing = [a for a in args.pop("must_exist") if a.lower() not in new]
    return gt.check_gate(None if old is None else len(old), len(new), removed, missing=missing, **args)


def test_gate_passes_for_a_small_change():
    result = gate(keys(100), keys(95))
    assert result.passed and not result.forced and result.reasons == []
    assert (result.old_count, result.new_count) == (101, 96)


def test_gate_fails_when_too_many_live_entries_would_go():
    result = gate(keys(100), keys(40))
    assert not result.passed
    assert "60 of 101 live entries (59.41%) would be removed" in result.reasons[0]


def test_gate_counts_removals_even_when_the_size_stays_the_same():
    old = keys(100)
    new = (old - {"u%05d@example.com" % i for i in range(50)}) | {"x%d@example.com" % i for i in range(50)}
    result = gate(old, new)
    assert result.new_count == result.old_count == 101
    assert result.reasons == ["50 of 101 live entries (49.50%) would be removed, more than the maximum of 10%"]


def test_gate_fails_below_the_minimum_and_on_an_empty_first_map():
    assert gate(None, set()).reasons == [
        "0 entries, fewer than the minimum of 1",
        "required addresses missing: postmaster@example.com",
    ]
    assert not gate(None, keys(10), min_entries=50).passed
    assert gate(None, keys(10)).passed


def test_the_first_build_without_a_floor_fails_and_says_how_to_set_one():
    first = gate(None, keys(10), min_entries=None)
    assert not first.passed and len(first.reasons) == 1
    assert first.reasons[0].startswith("first build: there is no live map to compare with")
    assert "set min_entries (role: relay_recipients_min_entries)" in first.reasons[0]
    assert first.reasons[0].endswith("(this export found 11)")
    assert gate(None, keys(10), min_entries=None, force=True).forced
    # Once a live map exists, no floor means a floor of 1.
    assert gate(keys(10), keys(10), min_entries=None).passed
    assert gate(set(), set(), min_entries=None).reasons == [
        "0 entries, fewer than the minimum of 1", "required addresses missing: postmaster@example.com"]
    # A compiled table without its source already fails on its own reason, not on the floor's.
    orphan = gate(None, keys(10), min_entries=None, orphan_table=True)
    assert [reason.split(" ")[0] for reason in orphan.reasons] == ["a"]


def test_gate_fails_when_a_required_address_is_missing_in_any_case():
    result = gate(keys(10), keys(10), must_exist=["Postmaster@Example.com", "ceo@example.com"])
    assert result.reasons == ["required addresses missing: ceo@example.com"]


def test_gate_refuses_an_orphan_table_whose_size_is_unknown():
    assert not gate(None, keys(10), orphan_table=True).passed


def test_force_marks_a_failed_gate_as_forced_only():
    assert gate(keys(100), keys(10), force=True).forced
    assert not gate(keys(100), keys(99), force=True).forced


def test_gate_message_names_old_count_new_count_and_every_reason():
    message = gt.gate_message(gate(keys(100), keys(10), must_exist=["a@example.com", "b@example.com"]))
    assert message == (
        "safety gate failed (live map kept): old count 101, new count 11: 90 of 101 live entries (89.11%) would be "
        "removed, more than the maximum of 10%; required addresses missing: a@example.com, b@example.com")
    assert gt.gate_message(gate(None, set()), "map unchanged, nothing installed").startswith(
        "safety gate failed (map unchanged, nothing installed): old count none, new count 0: ")


def test_the_gate_limits_themselves_pass():
    at_floor = gate(None, keys(9), min_entries=10)
    assert at_floor.passed and at_floor.removed_percent == 0.0
    at_shrink_limit = gate(keys(99), keys(89))  # 10 of 100 removed: exactly 10 %
    assert at_shrink_limit.passed and at_shrink_limit.removed_percent == 10.0
    assert not gate(keys(99), keys(88)).passed


def test_the_first_build_reason_in_full():
    assert gate(None, keys(4), min_entries=None).reasons == [
        "first build: there is no live map to compare with, so only a floor can catch a wrong base DN or filter; "
        "set min_entries (role: relay_recipients_min_entries) to the fewest entries this map may have "
        "(this export found 5)"]


def test_default_must_exist_is_postmaster_of_every_domain():
    assert gt.default_must_exist(DOMAINS) == ["postmaster@example.com", "postmaster@example.org"]
