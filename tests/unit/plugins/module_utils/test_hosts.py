# -*- coding: utf-8 -*-
"""Relay domains, Exchange next hops and mynetworks entries."""

import pytest

from ansible_collections.mailrelay.exchange.plugins.module_utils._hosts import (
    HostError,
    mail_domain,
    mail_domains,
    postfix_network,
    smtp_nexthop,
    smtp_nexthops,
)


@pytest.mark.parametrize("value, expected", [
    ("example.com", "example.com"),
    ("Example.COM.", "example.com"),
    (" mail.example.org ", "mail.example.org"),
    ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("a-b.c-d.example", "a-b.c-d.example"),
])
def test_mail_domain_accepts_dns_names(value, expected):
    assert mail_domain(value) == expected


@pytest.mark.parametrize("value, reason", [
    ("", "empty"),
    ("localhost", "two labels"),
    ("-bad.example", "invalid label"),
    ("bad-.example", "invalid label"),
    ("exa mple.com", "invalid label"),
    ("example..com", "invalid label"),
    ("user@example.com", "invalid label"),
    ("b\u00fccher.example", "non-ASCII"),
    ("a" * 64 + ".example", "invalid label"),
    (("a" * 60 + ".") * 5 + "com", "longer than 253"),
    ("10.0.0.1", "numeric"),
    (None, "not a string"),
])
def test_mail_domain_refuses_with_reason(value, reason):
    with pytest.raises(HostError, match=reason):
        mail_domain(value)


def test_mail_domains_dedupes_in_order_and_needs_one():
    assert mail_domains(["B.example", "a.example", "b.example."]) == ["b.example", "a.example"]
    with pytest.raises(HostError, match="at least one"):
        mail_domains([])


@pytest.mark.parametrize("value, nexthop, network, version", [
    ("10.0.0.5", "[10.0.0.5]:25", "10.0.0.5/32", 4),
    ("10.0.0.5:2525", "[10.0.0.5]:2525", "10.0.0.5/32", 4),
    ("[10.0.0.5]:587", "[10.0.0.5]:587", "10.0.0.5/32", 4),
    ("2001:db8::5", "[2001:db8::5]:25", "[2001:db8::5]/128", 6),
    ("[2001:DB8::5]:2525", "[2001:db8::5]:2525", "[2001:db8::5]/128", 6),
    ("Mail.Example.com", "[mail.example.com]:25", None, None),
    ("exchange01:26", "[exchange01]:26", None, None),
])
def test_smtp_nexthop_forms(value, nexthop, network, version):
    hop = smtp_nexthop(value)
    assert (hop["nexthop"], hop["network"], hop["version"]) == (nexthop, network, version)


def test_smtp_nexthop_default_port_applies_only_without_port():
    assert smtp_nexthop("10.0.0.5", 2525)["port"] == 2525
    assert smtp_nexthop("10.0.0.5:26", 2525)["port"] == 26


@pytest.mark.parametrize("value, reason", [
    ("", "empty"),
    ("10.0.0.5:0", "outside 1-65535"),
    ("10.0.0.5:70000", "outside 1-65535"),
    ("[not-an-ip]:25", "neither an IP address"),
    ("2001:db8::zz", "neither an IP address"),
    ("bad_host.example", "not a valid host name"),
    ("-x", "not a valid host name"),
])
def test_smtp_nexthop_refuses_with_reason(value, reason):
    with pytest.raises(HostError, match=reason):
        smtp_nexthop(value)


def test_smtp_nexthops_needs_one_host():
    with pytest.raises(HostError, match="at least one Exchange host"):
        smtp_nexthops([])
    assert [h["nexthop"] for h in smtp_nexthops(["10.0.0.1", "10.0.0.2"])] == ["[10.0.0.1]:25", "[10.0.0.2]:25"]


@pytest.mark.parametrize("value, expected", [
    ("192.0.2.0/24", "192.0.2.0/24"),
    ("192.0.2.7/24", "192.0.2.0/24"),
    ("192.0.2.7", "192.0.2.7/32"),
    ("2001:db8::/64", "[2001:db8::]/64"),
    ("[2001:db8::]/64", "[2001:db8::]/64"),
])
def test_postfix_network(value, expected):
    assert postfix_network(value) == expected


def test_postfix_network_refuses_garbage():
    with pytest.raises(HostError, match="not an IP address or CIDR"):
        postfix_network("exchange.example.com")
