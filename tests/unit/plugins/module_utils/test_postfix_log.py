# -*- coding: utf-8 -*-
"""Counters from Postfix's log lines (_postfix_log)."""

import pytest

from ansible_collections.mailrelay.exchange.plugins.module_utils import _postfix_log as pl
from ansible_collections.mailrelay.exchange.plugins.module_utils import _postfix_queue as pq

MATCHER = pq.DomainMatcher(["example.com", "example.org"])

# Lines as Postfix 3.7 writes them (the journal's MESSAGE, without the program and pid).
UNKNOWN = ("NOQUEUE: reject: RCPT from unknown[10.89.76.30]: 550 5.1.1 <nobody@example.com>: Recipient "
           "address rejected: User unknown in relay recipient table; from=<a@b.test> to=<nobody@example.com> "
           "proto=ESMTP helo=<client>")
RELAY = ("NOQUEUE: reject: RCPT from unknown[10.89.76.30]: 554 5.7.1 <x@gmail.test>: Relay access denied; "
         "from=<a@b.test> to=<x@gmail.test> proto=ESMTP helo=<client>")
RATE_CONN = "warning: Connection rate limit exceeded: 61 from unknown[10.89.76.30] for service smtp"
RATE_CONC = "warning: Connection concurrency limit exceeded: 51 from unknown[10.89.76.30] for service smtp"
RATE_RCPT = "warning: Recipient address rate limit exceeded: 201 from unknown[10.89.76.30] for service smtp"
RATE_MSG = "warning: Message delivery request rate limit exceeded: 101 from unknown[10.89.76.30] for service smtp"
NON_FQDN = ("NOQUEUE: reject: RCPT from unknown[10.89.76.30]: 504 5.5.2 <user>: Recipient address rejected: "
            "need fully-qualified address; from=<a@b.test> to=<user> proto=ESMTP helo=<client>")
SENT_EXCH = ("4QwZ1r2Hc8z9s: to=<user1@example.com>, relay=10.89.76.20[10.89.76.20]:25, delay=0.12, "
             "delays=0.05/0.01/0.03/0.03, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4QwZ1r3)")
DEFER_EXCH = ("4QwZ1r2Hc8z9s: to=<user1@example.com>, relay=none, delay=31, delays=0.02/0/30/0, dsn=4.4.1, "
              "status=deferred (connect to 10.89.76.20[10.89.76.20]:25: Connection refused)")
BOUNCE_OUT = ("5ABCDEF: to=<x@gmail.test>, orig_to=<y@example.com>, relay=mx.gmail.test[192.0.2.1]:25, "
              "delay=1, delays=0/0/0.5/0.5, dsn=5.1.1, status=bounced (host said: 550 no such user)")
TLS_IN = "Anonymous TLS connection established from unknown[10.89.76.30]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384"
TLS_OUT = "Untrusted TLS connection established to mx.gmail.test[192.0.2.1]:25: TLSv1.3 with cipher X"


@pytest.mark.parametrize("message, reason", [
    (UNKNOWN, "unknown_recipient"),
    (RELAY, "relay_denied"),
    (RATE_CONN, "rate_limited"),
    (RATE_CONC, "rate_limited"),
    (RATE_RCPT, "rate_limited"),
    (RATE_MSG, "rate_limited"),
    ("NOQUEUE: reject: MAIL from unknown[10.0.0.1]: 450 4.7.1 Error: too much mail from 10.0.0.1; proto=ESMTP",
     "rate_limited"),
    (NON_FQDN, "other"),
    ("NOQUEUE: reject: CONNECT from unknown[10.0.0.1]: 554 5.7.1 Service unavailable", "other"),
    ("connect from unknown[10.0.0.1]", None),
    ("warning: hostname nsfail does not resolve to address 10.0.0.1", None),
    ("lost connection after RCPT from unknown[10.0.0.1]", None),
])
def test_reject_reason(message, reason):
    assert pl.reject_reason(message) == reason


def feed(counters, entries):
    return [counters.count(identifier, message) for identifier, message in entries]


def test_every_counter_from_a_session():
    counters = pl.LogCounters(MATCHER)
    seen = feed(counters, [
        ("postfix/smtpd", "connect from unknown[10.89.76.30]"),
        ("postfix/smtpd", TLS_IN),
        ("postfix/smtpd", UNKNOWN),
        ("postfix/smtpd", UNKNOWN),
        ("postfix/smtpd", RELAY),
        ("postfix/smtpd", RATE_CONN),
        ("postfix/smtpd", NON_FQDN),
        ("postfix/smtp", SENT_EXCH),
        ("postfix/smtp", DEFER_EXCH),
        ("postfix/error", DEFER_EXCH),
        ("postfix/smtp", TLS_OUT),
        ("postfix/smtp", BOUNCE_OUT),
        ("postfix/qmgr", "4QwZ1r2Hc8z9s: removed"),
        ("sshd", UNKNOWN),                       # not Postfix: ignored
        ("relay-recipients-run", SENT_EXCH),
    ])
    assert seen == [True] * 13 + [False, False]
    assert counters.entries == 13
    assert counters.connections == 1
    assert counters.rejects == {"unknown_recipient": 2, "relay_denied": 1, "rate_limited": 1, "other": 1}
    assert counters.deliveries[("exchange", "sent")] == 1
    assert counters.deliveries[("exchange", "deferred")] == 2
    assert counters.deliveries[("internet", "bounced")] == 1   # the to= address, not orig_to
    assert sum(counters.deliveries.values()) == 4
    assert counters.tls == {"inbound": 1, "outbound": 1}


def test_rejects_only_from_smtpd_and_postscreen():
    counters = pl.LogCounters(MATCHER)
    feed(counters, [("postfix/cleanup", UNKNOWN), ("postfix/postscreen", UNKNOWN),
                    ("postfix/smtp", "connect from x"), ("postfix/smtpd", TLS_OUT), ("postfix/smtp", TLS_IN)])
    assert counters.rejects["unknown_recipient"] == 1
    assert counters.connections == 0
    assert counters.tls == {"inbound": 0, "outbound": 0}


def test_syslog_name_and_service_names():
    counters = pl.LogCounters(MATCHER, syslog_name="postfix-out")
    feed(counters, [("postfix/smtpd", UNKNOWN), ("postfix-out/smtpd", UNKNOWN),
                    ("postfix-out/submission/smtpd", UNKNOWN)])
    assert counters.rejects["unknown_recipient"] == 2


def test_state_round_trip_and_bad_state():
    counters = pl.LogCounters(MATCHER)
    feed(counters, [("postfix/smtpd", UNKNOWN), ("postfix/smtp", SENT_EXCH), ("postfix/smtpd", TLS_IN)])
    again = pl.LogCounters(MATCHER, state=counters.state())
    assert again.state() == counters.state()
    feed(again, [("postfix/smtpd", UNKNOWN)])
    assert again.rejects["unknown_recipient"] == 2
    bad = pl.LogCounters(MATCHER, state={"entries": -4, "connections": "7", "rejects": {"other": True},
                                         "deliveries": {"exchange/sent": 3.5}, "tls": {"inbound": 2}})
    assert bad.entries == 0 and bad.connections == 0 and bad.rejects["other"] == 0
    assert bad.deliveries[("exchange", "sent")] == 0 and bad.tls["inbound"] == 2
