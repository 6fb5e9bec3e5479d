# -*- coding: utf-8 -*-
"""Queue summary from ``postqueue -j`` lines (_postfix_queue)."""

import json

import pytest

from ansible_collections.mailrelay.exchange.plugins.module_utils import _postfix_queue as pq

NOW = 1700000000.0
MATCHER = pq.DomainMatcher(pq.split_domains("example.com, .example.org  hash:/etc/postfix/more"))


def message(queue, age, *addresses):
    return json.dumps({"queue_name": queue, "queue_id": "4Q1", "arrival_time": int(NOW - age),
                       "message_size": 100, "sender": "a@b.test",
                       "recipients": [{"address": a, "delay_reason": "x"} for a in addresses]})


@pytest.mark.parametrize("address, expected", [
    ("user@example.com", "exchange"),
    ("User@EXAMPLE.COM", "exchange"),
    ("user@example.com.", "exchange"),
    ("user@sub.example.com", "internet"),       # no leading dot: the domain only
    ("user@sub.example.org", "exchange"),       # .example.org: its subdomains
    ("user@deep.sub.example.org", "exchange"),
    ("user@example.org", "internet"),           # .example.org does not match example.org itself
    ("user@notexample.com", "internet"),
    ("user@gmail.test", "internet"),
    ("postmaster", "internet"),
])
def test_destination(address, expected):
    assert MATCHER.destination(address) == expected


def test_table_entries_are_skipped_and_listed():
    assert MATCHER.skipped == ["hash:/etc/postfix/more"]
    assert MATCHER.exact == {"example.com"}


def test_empty_queue_has_every_pair_at_zero():
    summary = pq.summarise([], MATCHER, NOW)
    assert len(summary) == len(pq.QUEUES) * len(pq.DESTINATIONS)
    assert all(value == [0, 0.0] for value in summary.values())


def test_counts_and_oldest_age_per_queue_and_destination():
    lines = [
        message("deferred", 1200, "a@example.com"),
        message("deferred", 60, "b@example.com", "c@example.com"),
        message("deferred", 30, "x@gmail.test"),
        message("active", 2, "a@example.com", "x@gmail.test"),  # both: once under each
        message("hold", 5000, "y@gmail.test"),
        "",
    ]
    summary = pq.summarise(lines, MATCHER, NOW)
    assert summary[("deferred", "exchange")] == [2, 1200.0]
    assert summary[("deferred", "internet")] == [1, 30.0]
    assert summary[("active", "exchange")] == [1, 2.0]
    assert summary[("active", "internet")] == [1, 2.0]
    assert summary[("hold", "internet")] == [1, 5000.0]
    assert summary[("incoming", "exchange")] == [0, 0.0]


def test_message_without_recipients_counts_for_internet_and_unknown_queue_is_left_out():
    lines = [message("incoming", 1), message("corrupt", 10, "a@example.com")]
    summary = pq.summarise(lines, MATCHER, NOW)
    assert summary[("incoming", "internet")] == [1, 1.0]
    assert sum(entry[0] for entry in summary.values()) == 1


def test_clock_skew_gives_age_zero_not_negative():
    summary = pq.summarise([message("active", -30, "a@example.com")], MATCHER, NOW)
    assert summary[("active", "exchange")] == [1, 0.0]


@pytest.mark.parametrize("line, words", [
    ("postqueue: fatal: Queue report unavailable", "line 2 is not JSON"),
    ("[1, 2]", "line 2 is not an object"),
    ('{"queue_name": "active"}', "line 2 has no queue_name or arrival_time"),
    ('{"queue_name": "active", "arrival_time": true}', "line 2 has no queue_name or arrival_time"),
    ('{"queue_name": "active", "arrival_time": 1, "recipients": {}}', "recipients is not a list"),
    ('{"queue_name": "active", "arrival_time": 1, "recipients": [{"x": 1}]}', "a recipient without an address"),
])
def test_bad_lines_are_refused_with_their_number(line, words):
    with pytest.raises(pq.QueueReadError, match=words):
        pq.summarise([message("active", 1, "a@example.com"), line], MATCHER, NOW)
