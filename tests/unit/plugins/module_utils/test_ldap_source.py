# -*- coding: utf-8 -*-
"""Page loop, result-code checks, entry processing and transport rules of the LDAP source.

A fake connection plays the server's pages; the acceptance test against real
Samba AD and OpenLDAP is the Molecule scenario `recipients`.
"""

import pytest

from ansible_collections.mailrelay.exchange.plugins.module_utils import _ldap_source as ls
from ansible_collections.mailrelay.exchange.plugins.module_utils._recipients import RecipientCollector

COOKIE_OID = ls.PAGED_RESULTS_OID


def page(entries, cookie=b"", code=0, description="success", referrals=None):
    result = {"result": code, "description": description, "message": "", "referrals": referrals}
    if cookie is not None:
        result["controls"] = {COOKIE_OID: {"value": {"size": 0, "cookie": cookie}}}
    return result, entries


def entry(dn, **attributes):
    raw = {name: [v.encode("utf-8") for v in values] for name, values in attributes.items()}
    return {"type": "searchResEntry", "dn": dn, "raw_attributes": raw}


class FakeConnection:
    """Answers each search() with the next scripted page, like ldap3 with raise_exceptions=False."""

    def __init__(self, pages):
        self.pages = list(pages)
        self.calls = []
        self.result = None
        self.response = None

    def search(self, **kwargs):
        self.calls.append(kwargs)
        self.result, self.response = self.pages.pop(0)
        return self.result["result"] == 0


def run(pages, base_dn="DC=corp,DC=example,DC=com"):
    conn = FakeConnection(pages)
    return conn, list(ls.iter_pages(conn, base_dn, "(x=*)", ["proxyAddresses"], 2))


def test_pages_are_followed_until_the_cookie_is_empty():
    conn, pages = run([page([entry("a")], b"c1"), page([entry("b")], b"c2"), page([entry("c")], b"")])
    assert [[e["dn"] for e in p] for p in pages] == [["a"], ["b"], ["c"]]
    assert [c["paged_cookie"] for c in conn.calls] == [None, b"c1", b"c2"]
    assert all(c["paged_size"] == 2 for c in conn.calls)


def test_a_server_without_the_paging_control_answers_in_one_page():
    conn, pages = run([page([entry("a"), entry("b")], cookie=None)])
    assert len(pages) == 1 and len(conn.calls) == 1


@pytest.mark.parametrize(
    "code, description",
    [(4, "sizeLimitExceeded"), (3, "timeLimitExceeded"), (11, "adminLimitExceeded")],
)
def test_a_limit_exceeded_page_is_a_failure_not_the_end_of_the_data(code, description):
    conn = FakeConnection([page([entry("a")], b"c1"), page([entry("b")], b"", code=code, description=description)])
    pages = ls.iter_pages(conn, "DC=x", "(x=*)", [], 2)
    assert next(pages)[0]["dn"] == "a"
    with pytest.raises(ls.LdapSourceError) as err:
        next(pages)
    assert description in str(err.value) and "page 2" in str(err.value) and "truncated" in str(err.value)


def test_a_size_limit_on_the_first_page_with_an_empty_cookie_still_fails():
    # What ldap3 returns from an unpaged-capped server: search() is True-ish, code 4, no cookie.
    with pytest.raises(ls.LdapSourceError, match="sizeLimitExceeded"):
        run([page([entry("a")] * 3, cookie=None, code=4, description="sizeLimitExceeded")])


def test_a_referral_result_is_a_failure_naming_the_referral():
    with pytest.raises(ls.LdapSourceError, match="referral.*ldap://other/DC=x"):
        run([page([], None, code=10, description="referral", referrals=["ldap://other/DC=x"])])


@pytest.mark.parametrize("code, description", [(52, "unavailable"), (51, "busy"), (32, "noSuchObject"), (80, "other")])
def test_any_other_non_zero_code_is_a_failure(code, description):
    with pytest.raises(ls.LdapSourceError, match=description):
        run([page([], b"", code=code, description=description)])


def test_a_library_exception_during_the_search_is_a_failure():
    class Broken(FakeConnection):
        def search(self, **kwargs):
            raise ls.LDAPException("socket receive timeout")

    with pytest.raises(ls.LdapSourceError, match="page 1: socket receive timeout"):
        list(ls.iter_pages(Broken([]), "DC=x", "(x=*)", [], 10))


def test_export_walks_every_base_dn_and_counts_pages():
    conn = FakeConnection(
        [
            page([entry("CN=a", proxyAddresses=["SMTP:a@example.com"])], b"k"),
            page([entry("CN=b", proxyAddresses=["smtp:b@example.com"])], b""),
            page([entry("CN=c", proxyAddresses=["SMTP:c@example.com"])], b""),
        ]
    )
    collector = RecipientCollector(["example.com"])
    stats = ls.export(conn, ["OU=1", "OU=2"], "(x=*)", ["proxyAddresses"], 1, collector, False)
    assert collector.sorted_addresses() == ["a@example.com", "b@example.com", "c@example.com"]
    assert (stats.pages, stats.entries) == (3, 3)
    assert [c["search_base"] for c in conn.calls] == ["OU=1", "OU=1", "OU=2"]


def test_entries_feed_proxy_target_and_mail_values_with_their_dn():
    collector = RecipientCollector(["example.com"])
    stats = ls.ExportStats()
    entries = [
        entry(
            "CN=u",
            ProxyAddresses=["SMTP:U@example.com", "X500:/o=x", "smtp:bad value@example.com"],
            targetAddress=["SMTP:t@example.com"],
            mail=["m@example.com"],
        ),
        {"type": "searchResRef", "uri": ["ldap://DomainDnsZones.corp/DC=DomainDnsZones"]},
    ]
    ls.feed_entries(entries, collector, stats, exclude_disabled=False)
    assert collector.sorted_addresses() == ["m@example.com", "t@example.com", "u@example.com"]
    assert collector.refused[0].source == "CN=u (proxyaddresses)"
    assert stats.references == ["ldap://DomainDnsZones.corp/DC=DomainDnsZones"]
    assert stats.entries == 1


@pytest.mark.parametrize("uac, disabled", [("512", False), ("514", True), ("66050", True), ("66048", False), ("junk", False)])
def test_disabled_accounts_are_recognised_by_bit_2(uac, disabled):
    assert ls.is_disabled({"userAccountControl": [uac.encode()]}) is disabled


def test_disabled_accounts_are_dropped_client_side_only_when_asked():
    disabled = entry("CN=d", proxyAddresses=["SMTP:d@example.com"], userAccountControl=["514"])
    for exclude, expected in ((True, []), (False, ["d@example.com"])):
        collector = RecipientCollector(["example.com"])
        stats = ls.ExportStats()
        ls.feed_entries([disabled], collector, stats, exclude_disabled=exclude)
        assert collector.sorted_addresses() == expected
        assert stats.disabled_skipped == (1 if exclude else 0)


def test_filter_gets_the_ad_matching_rule_only_when_wanted():
    assert ls.build_filter("(a=*)", False, True) == "(a=*)"
    assert ls.build_filter("(a=*)", True, False) == "(a=*)"
    assert ls.build_filter("(a=*)", True, True) == "(&(a=*)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))"


def test_only_the_needed_attributes_are_requested():
    assert ls.requested_attributes(False, False, False) == ["proxyAddresses"]
    assert ls.requested_attributes(True, True, True) == ["proxyAddresses", "mail", "targetAddress", "userAccountControl"]


@pytest.mark.parametrize(
    "uri, start_tls, plaintext, ok",
    [
        ("ldaps://dc1", False, False, True),
        ("LDAPS://dc1:636", False, False, True),
        ("ldap://dc1", True, False, True),
        ("ldap://dc1", False, False, False),
        ("ldap://dc1", False, True, True),
        ("ldaps://dc1", True, False, False),
        ("ldapi:///run/slapd.sock", False, True, False),
        ("dc1.example.com", False, True, False),
    ],
)
def test_plain_ldap_needs_an_explicit_opt_in(uri, start_tls, plaintext, ok):
    assert (ls.transport_problem(uri, start_tls, plaintext) is None) is ok


OPTS = dict(
    server_uris=["ldaps://dc1", "ldaps://dc2"],
    bind_dn="svc",
    bind_password="s3cret-password",
    sasl_mechanism=None,
    start_tls=False,
    validate_certs=True,
    ca_file=None,
    timeout=2,
)


def test_connect_fails_over_to_the_next_uri(monkeypatch):
    tried = []

    def fake_connect_one(uri, opts):
        tried.append(uri)
        if uri == "ldaps://dc1":
            raise ls.LDAPException("connection refused")
        return "conn-%s" % uri

    monkeypatch.setattr(ls, "_connect_one", fake_connect_one)
    assert ls.connect(OPTS) == ("conn-ldaps://dc2", "ldaps://dc2")
    assert tried == ["ldaps://dc1", "ldaps://dc2"]


@pytest.mark.skipif(not ls.HAS_LDAP3, reason="ldap3 is not installed")
def test_connect_reports_every_uri_and_never_the_password():
    opts = dict(OPTS, server_uris=["ldap://127.0.0.1:1", "ldaps://127.0.0.1:2"], allow_plaintext=True)
    with pytest.raises(ls.LdapSourceError) as err:
        ls.connect(opts)
    message = str(err.value)
    assert "ldap://127.0.0.1:1:" in message and "ldaps://127.0.0.1:2:" in message
    assert "s3cret-password" not in message


# Lean decoding of search entries ------------------------------------------------

def ber_search_entry(dn, attributes, message_id=7):
    """A searchResEntry as the server sends it, through ldap3's own fast BER decoder."""
    from pyasn1.codec.ber import encoder
    from ldap3.protocol import rfc4511
    from ldap3.utils.asn1 import decode_message_fast

    attribute_list = rfc4511.PartialAttributeList()
    for i, (name, values) in enumerate(attributes):
        vals = rfc4511.Vals()
        for j, value in enumerate(values):
            vals.setComponentByPosition(j, rfc4511.AttributeValue(value))
        attribute = rfc4511.PartialAttribute()
        attribute["type"] = rfc4511.AttributeDescription(name)
        attribute["vals"] = vals
        attribute_list.setComponentByPosition(i, attribute)
    entry_op = rfc4511.SearchResultEntry()
    entry_op["object"] = rfc4511.LDAPDN(dn)
    entry_op["attributes"] = attribute_list
    protocol_op = rfc4511.ProtocolOp()
    protocol_op["searchResEntry"] = entry_op
    message = rfc4511.LDAPMessage()
    message["messageID"] = rfc4511.MessageID(message_id)
    message["protocolOp"] = protocol_op
    return decode_message_fast(encoder.encode(message))


def stock_connection():
    from ldap3 import NONE, Connection, Server

    return Connection(Server("ldap://127.0.0.1", get_info=NONE))


@pytest.mark.skipif(not ls.HAS_LDAP3, reason="ldap3 is not installed")
def test_lean_decoding_gives_the_dn_and_raw_values_ldap3_gives():
    message = ber_search_entry(
        "CN=Zoë Müller,OU=Users,DC=corp,DC=example,DC=com",
        [("proxyAddresses", [b"SMTP:zoe@example.com", b"X500:/o=corp/cn=zoe"]), ("mail", [b"zoe@example.com"])],
    )
    stock = stock_connection().strategy.decode_response_fast(message)
    conn = stock_connection()
    ls.lean_search_entries(conn)
    lean = conn.strategy.decode_response_fast(message)
    assert lean["type"] == stock["type"] == "searchResEntry"
    assert lean["dn"] == stock["dn"] == "CN=Zoë Müller,OU=Users,DC=corp,DC=example,DC=com"
    assert lean["raw_attributes"] == stock["raw_attributes"]
    assert "attributes" not in lean


@pytest.mark.skipif(not ls.HAS_LDAP3, reason="ldap3 is not installed")
def test_lean_entries_survive_ldap3s_post_processing_when_a_requested_attribute_is_missing():
    # Against Samba: userAccountControl is requested (exclude_disabled) but
    # groups and contacts have none; ldap3 then filled entry["attributes"],
    # which lean entries lack, and the export died with KeyError 'attributes'.
    from ldap3.strategy.base import RESPONSE_COMPLETE

    conn = ls._connection("ldap://127.0.0.1", OPTS)
    message = ber_search_entry("CN=Group 1,OU=Groups,DC=corp,DC=example,DC=com", [("proxyAddresses", [b"SMTP:g1@example.com"])])
    group = ls.lean_entry(message["payload"])
    done = dict(type="searchResDone", result=0, description="success", dn="", message="", referrals=None)
    conn.strategy._outstanding = {1: dict(type="searchRequest", attributes=["proxyAddresses", "userAccountControl"])}
    conn.strategy._get_response = lambda message_id, timeout: [group, done, RESPONSE_COMPLETE]
    response, result = conn.strategy.get_response(1)[:2]
    assert result["result"] == 0
    assert response[0]["raw_attributes"] == {"proxyAddresses": [b"SMTP:g1@example.com"]}


@pytest.mark.skipif(not ls.HAS_LDAP3, reason="ldap3 is not installed")
def test_other_messages_and_unreadable_entries_go_to_ldap3s_decoder():
    conn = stock_connection()
    seen = []
    conn.strategy.decode_response_fast = lambda message: seen.append(message) or {"type": "stock"}
    ls.lean_search_entries(conn)
    done = {"protocolOp": 5, "payload": []}
    broken = {"protocolOp": 4, "payload": [None]}
    assert conn.strategy.decode_response_fast(done) == {"type": "stock"}
    assert conn.strategy.decode_response_fast(broken) == {"type": "stock"}
    assert seen == [done, broken]


def test_a_refused_value_names_its_entry_and_attribute():
    collector = RecipientCollector(["example.com"])
    stats = ls.ExportStats()
    ls.feed_entries([entry("CN=Bad,DC=x", proxyAddresses=["smtp:bad user@example.com"])], collector, stats, False)
    assert collector.refused_as_dicts() == [
        {"source": "CN=Bad,DC=x (proxyaddresses)", "value": "smtp:bad user@example.com", "reason": "whitespace ' '"}
    ]
