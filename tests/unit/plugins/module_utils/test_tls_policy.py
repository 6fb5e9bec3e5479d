# -*- coding: utf-8 -*-
"""DANE before MTA-STS: which domains get 'dane', which are left to the next map, which wait."""

import pytest

from ansible_collections.mailrelay.exchange.plugins.module_utils import _tls_policy as tp


@pytest.mark.parametrize("key, expected", [
    ("Example.ORG.", "example.org"),
    ("mail.example.org", "mail.example.org"),
    ("[192.0.2.1]:25", None),
    ("[exchange.corp.example]", None),
    ("example.org:587", None),
    ("localhost", None),
    ("-bad.example.org", None),
    ("", None),
    ("a" * 64 + ".org", None),
])
def test_domain_key_skips_explicit_routes_and_bad_names(key, expected):
    assert tp.domain_key(key) == expected


def test_a_signed_mx_with_signed_tlsa_gets_dane():
    assert tp.decide(tp.SECURE, ["mx1.a.org", "mx2.a.org"], {"mx1.a.org": tp.NONE_SECURE, "mx2.a.org": tp.SECURE}) == ("OK", "dane")


@pytest.mark.parametrize("mx", [tp.INSECURE, tp.NONE_INSECURE, tp.NONE_SECURE])
def test_an_unsigned_or_missing_mx_is_left_to_the_next_map(mx):
    assert tp.decide(mx, ["a.org"], {"a.org": tp.SECURE}) == ("NOTFOUND", "")


def test_tlsa_that_is_absent_or_unsigned_is_left_to_the_next_map():
    assert tp.decide(tp.SECURE, ["mx1.a.org", "mx2.a.org"], {"mx1.a.org": tp.NONE_SECURE, "mx2.a.org": tp.INSECURE}) == ("NOTFOUND", "")
    assert tp.decide(tp.SECURE, ["mx1.a.org"], {}) == ("NOTFOUND", "")


def test_a_failed_lookup_makes_the_mail_wait():
    status, reason = tp.decide(tp.FAILED, [], {})
    assert status == "TEMP" and "MX lookup failed" in reason
    status, reason = tp.decide(tp.SECURE, ["mx1.a.org", "mx2.a.org"], {"mx1.a.org": tp.SECURE, "mx2.a.org": tp.FAILED})
    assert status == "TEMP" and "mx2.a.org" in reason and "mx1.a.org" not in reason


def test_mx_hosts_in_preference_order_are_looked_up():
    assert tp.mail_hosts("a.org", tp.SECURE, ["mx1.a.org", "mx2.b.net"]) == (tp.SECURE, ["mx1.a.org", "mx2.b.net"])
    assert tp.mail_hosts("a.org", tp.INSECURE, ["mx1.a.org"]) == (tp.INSECURE, ["mx1.a.org"])


@pytest.mark.parametrize("outcome", [tp.SECURE, tp.INSECURE])
def test_a_null_mx_takes_no_mail(outcome):
    assert tp.mail_hosts("a.org", outcome, ["."]) is None


def test_a_validated_nxdomain_takes_no_mail_and_an_unvalidated_one_is_left_to_the_next_map():
    assert tp.mail_hosts("gone.a.org", tp.NONE_SECURE, None, nxdomain=True) is None
    outcome, hosts = tp.mail_hosts("gone.a.org", tp.NONE_INSECURE, None, nxdomain=True)
    assert tp.decide(outcome, hosts, {}) == ("NOTFOUND", "")


def test_without_mx_records_the_domain_is_its_own_mail_host():
    # A validated "no MX records": the domain's own TLSA records decide, as an MX host's would.
    assert tp.mail_hosts("a.org", tp.NONE_SECURE, None) == (tp.SECURE, ["a.org"])
    assert tp.decide(*tp.mail_hosts("a.org", tp.NONE_SECURE, None), tlsa_outcomes={"a.org": tp.SECURE}) == ("OK", "dane")
    # Unvalidated: no DANE, whatever TLSA says.
    outcome, hosts = tp.mail_hosts("a.org", tp.NONE_INSECURE, None)
    assert (outcome, hosts) == (tp.NONE_INSECURE, ["a.org"])
    assert tp.decide(outcome, hosts, {"a.org": tp.SECURE}) == ("NOTFOUND", "")


def test_a_failed_mx_lookup_makes_the_mail_wait_whatever_else_is_known():
    outcome, hosts = tp.mail_hosts("a.org", tp.FAILED, None)
    assert outcome == tp.FAILED
    assert tp.decide(outcome, hosts, {"a.org": tp.SECURE})[0] == "TEMP"
