# -*- coding: utf-8 -*-
"""The DirSync poll metrics: counters go on from the previous file, every reason is listed."""

from ansible_collections.mailrelay.exchange.plugins.module_utils import _dirsync_metrics as dm
from ansible_collections.mailrelay.exchange.plugins.module_utils import _textfile as textfile

MAP = "/etc/postfix/relay_recipients"


def values(path):
    with open(path) as stream:
        return {(name, dict(labels).get("reason")): value for (name, labels), value in textfile.parse(stream.read()).items()}


def test_polls_add_up_and_a_failure_keeps_the_last_success(tmp_path):
    directory = str(tmp_path)
    dm.record_poll(directory, MAP, dict(full_resync=True, reason="no_state", objects_changed=100, entries_read=120), False, clock=lambda: 10)
    dm.record_poll(directory, MAP, dict(full_resync=False, objects_changed=2, objects_deleted=1, entries_read=3), False, clock=lambda: 40)
    path = dm.record_poll(directory, MAP, dict(full_resync=False, held_removals=60, entries_read=30), True, clock=lambda: 70)
    got = values(path)
    p = dm.PREFIX
    assert got[(p + "polls_total", None)] == 3
    assert got[(p + "poll_failures_total", None)] == 1
    assert got[(p + "changes_applied_total", None)] == 103
    assert got[(p + "last_success_timestamp_seconds", None)] == 40
    assert got[(p + "last_poll_timestamp_seconds", None)] == 70
    assert got[(p + "held_removals", None)] == 60
    assert got[(p + "last_entries_read", None)] == 30
    assert got[(p + "full_resyncs_total", "no_state")] == 1
    assert got[(p + "full_resyncs_total", "cookie_refused")] == 0
    assert path.endswith(".prom") and "mailrelay_recipient_dirsync-" in path


def test_a_success_after_a_hold_clears_the_held_gauge(tmp_path):
    directory = str(tmp_path)
    dm.record_poll(directory, MAP, dict(held_removals=60), True, clock=lambda: 1)
    path = dm.record_poll(directory, MAP, dict(objects_deleted=30), False, clock=lambda: 2)
    assert values(path)[(dm.PREFIX + "held_removals", None)] == 0
