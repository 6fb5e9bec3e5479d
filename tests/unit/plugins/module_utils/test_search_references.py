# -*- coding: utf-8 -*-
"""Search continuation references: which may hide recipients, the warning and the failure."""

import pytest

from ansible_collections.mailrelay.exchange.plugins.module_utils import _search_references as sr

CHILD = "ldap://child.corp.example.com/DC=child,DC=corp,DC=example,DC=com"
DNS = "ldap://DomainDnsZones.corp.example.com/DC=DomainDnsZones,DC=corp,DC=example,DC=com"
FOREST_DNS = "ldap://ForestDnsZones.corp.example.com/DC=ForestDnsZones,DC=corp,DC=example,DC=com"
CONFIG = "ldap://corp.example.com/CN=Configuration,DC=corp,DC=example,DC=com"


@pytest.mark.parametrize(
    "uri, dn",
    [
        (CHILD, "DC=child,DC=corp,DC=example,DC=com"),
        ("ldap://h/OU=Child%20Domain,DC=corp?proxyAddresses?sub?(x=*)", "OU=Child Domain,DC=corp"),
        ("ldap:///DC=x", "DC=x"),
        ("ldaps://h:636", ""),
    ],
)
def test_the_dn_of_a_reference_is_read_from_its_url(uri, dn):
    assert sr.reference_dn(uri) == dn


def test_only_ad_dns_and_configuration_partitions_hold_no_recipients():
    assert [sr.may_hold_recipients(u) for u in (CHILD, DNS, FOREST_DNS, CONFIG)] == [True, False, False, False]
    assert sr.may_hold_recipients("ldap://h/dc = DomainDnsZones,DC=corp") is False
    # The name elsewhere in the DN does not count.
    assert sr.may_hold_recipients("ldap://h/OU=Users,DC=DomainDnsZones,DC=corp") is True


def test_missed_keeps_the_order_and_each_reference_once():
    assert sr.missed([DNS, CHILD, CONFIG, "ldap://b/DC=b", CHILD]) == [CHILD, "ldap://b/DC=b"]


def test_no_reference_that_may_hold_recipients_means_neither_warning_nor_failure():
    assert sr.outcome([], True) == (None, None)
    assert sr.outcome(sr.missed([DNS, FOREST_DNS, CONFIG]), True) == (None, None)


def test_a_reference_is_a_warning_naming_it_and_both_ways_out():
    failure, warning = sr.outcome([CHILD], False)
    assert failure is None
    assert warning.startswith(
        "the directory returned 1 search continuation reference that the export does not follow: %s; "
        "recipients below it are missing from the export; search a Global Catalog instead" % CHILD
    )
    assert "ldaps://DC:3269" in warning and "ldap://DC:3268 with start_tls" in warning
    assert "forest root" in warning and "fail_on_references" in warning


def test_with_the_option_a_reference_is_a_failure_without_a_warning():
    failure, warning = sr.outcome([CHILD], True)
    assert warning is None
    assert failure.startswith("fail_on_references: the directory returned 1 search continuation reference")
    assert CHILD in failure and "Global Catalog" in failure
    # Setting the option is no longer the advice once it is set.
    assert "set fail_on_references" not in failure


def test_a_long_list_names_the_first_three_and_counts_the_rest():
    uris = ["ldap://d%d/DC=d%d" % (n, n) for n in range(5)]
    _failure, warning = sr.outcome(uris, False)
    assert "5 search continuation references" in warning
    assert "ldap://d0/DC=d0, ldap://d1/DC=d1, ldap://d2/DC=d2 and 2 more;" in warning
    assert "ldap://d3" not in warning and "below them" in warning
