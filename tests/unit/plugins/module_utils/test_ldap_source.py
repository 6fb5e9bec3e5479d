# -*- coding: utf-8 -*-
"""The LDAP source: page loop and ranges (_ldap_source), result-code checks, entry
processing (_ldap_page), the wire reader (_ldap_wire), transport rules, binding and
Kerberos (_ldap_connect).

A fake connection plays the server's pages; the acceptance test against real
Samba AD and OpenLDAP is the Molecule scenario `recipients`.
"""

import os
import socket
import string
import ssl
import threading
import time

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from ansible_collections.mailrelay.exchange.plugins.module_utils import _ldap_connect as lc
from ansible_collections.mailrelay.exchange.plugins.module_utils import _ldap_errors as le
from ansible_collections.mailrelay.exchange.plugins.module_utils import _ldap_page as lp
from ansible_collections.mailrelay.exchange.plugins.module_utils import _ldap_source as ls
from ansible_collections.mailrelay.exchange.plugins.module_utils import _ldap_wire as lw
from ansible_collections.mailrelay.exchange.plugins.module_utils import _system_mailboxes as system_mailboxes
from ansible_collections.mailrelay.exchange.plugins.module_utils._collector import RecipientCollector

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
        return (self.result or {}).get("result") == 0


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
    with pytest.raises(le.LdapSourceError) as err:
        next(pages)
    assert description in str(err.value) and "page 2" in str(err.value)
    assert str(err.value).endswith("(result code %d); the data would be truncated, so it is not used" % code)


def test_a_size_limit_on_the_first_page_with_an_empty_cookie_still_fails():
    # What ldap3 returns from an unpaged-capped server: search() is True-ish, code 4, no cookie.
    with pytest.raises(le.LdapSourceError, match="sizeLimitExceeded"):
        run([page([entry("a")] * 3, cookie=None, code=4, description="sizeLimitExceeded")])


def test_a_referral_result_is_a_failure_naming_the_referral():
    with pytest.raises(le.LdapSourceError, match="referral.*ldap://other/DC=x"):
        run([page([], None, code=10, description="referral", referrals=["ldap://other/DC=x"])])


@pytest.mark.parametrize("code, description", [(52, "unavailable"), (51, "busy"), (32, "noSuchObject"), (80, "other")])
def test_any_other_non_zero_code_is_a_failure(code, description):
    with pytest.raises(le.LdapSourceError, match=description):
        run([page([], b"", code=code, description=description)])


def test_a_library_exception_during_the_search_is_a_failure():
    class Broken(FakeConnection):
        def search(self, **kwargs):
            raise le.LDAPException("socket receive timeout")

    with pytest.raises(le.LdapSourceError, match="page 1: socket receive timeout"):
        list(ls.iter_pages(Broken([]), "DC=x", "(x=*)", [], 10))


def test_a_failure_names_the_base_dn_the_page_the_code_and_what_the_server_said():
    # What Active Directory answers a search that hits another domain's naming context.
    result = {
        "result": 10,
        "description": "referral",
        "message": "0000202B: RefErr: DSID-0310082F, data 0, 1 access points",
        "referrals": ["ldap://other.example/DC=other,DC=example", "ldap://dc2.other.example/DC=other,DC=example"],
    }
    assert ls.result_problem(result, "DC=corp,DC=example", 2) == (
        "search under 'DC=corp,DC=example' failed on page 2: referral (result code 10)"
        ": 0000202B: RefErr: DSID-0310082F, data 0, 1 access points"
        "; referrals: ldap://other.example/DC=other,DC=example, ldap://dc2.other.example/DC=other,DC=example"
    )


def test_a_failure_without_description_or_details_still_names_its_code():
    assert ls.result_problem({"result": 80}, "DC=x", 1) == "search under 'DC=x' failed on page 1: unknown (result code 80)"


def test_only_limit_results_are_reported_as_truncation():
    assert "truncated" not in ls.result_problem({"result": 32, "description": "noSuchObject"}, "DC=x", 1)
    assert ls.result_problem({"result": 0, "description": "success", "message": "ignored"}, "DC=x", 1) is None


def test_each_page_asks_for_the_same_search_under_the_base_dn():
    conn, pages = run([page([entry("a")], b"c1"), page([entry("b")], b"")], base_dn="OU=People,DC=x")
    assert conn.calls == [
        dict(search_base="OU=People,DC=x", search_filter="(x=*)", search_scope=ls.SUBTREE, attributes=["proxyAddresses"],
             time_limit=0, paged_size=2, paged_cookie=cookie)
        for cookie in (None, b"c1")
    ]


def test_a_search_that_leaves_no_result_is_a_failure_not_an_empty_success():
    conn = FakeConnection([(None, None)])
    with pytest.raises(le.LdapSourceError, match=r"search under 'DC=x' failed on page 1: unknown \(result code None\)"):
        list(ls.iter_pages(conn, "DC=x", "(x=*)", [], 10))


def test_a_successful_page_without_entries_is_an_empty_page():
    # ldap3 leaves no response list when a page holds nothing (an OU without recipients).
    conn = FakeConnection([({"result": 0, "description": "success"}, None)])
    assert list(ls.iter_pages(conn, "DC=x", "(x=*)", [], 10)) == [[]]


def test_a_cookie_control_without_a_value_ends_the_search():
    assert ls.page_cookie({"result": 0, "controls": {COOKIE_OID: {"value": None}}}) is None
    assert ls.page_cookie({"result": 0, "controls": {}}) is None


def test_a_library_exception_names_the_base_dn_and_the_page():
    class BrokenOnPage2(FakeConnection):
        def search(self, **kwargs):
            if self.calls:
                raise le.LDAPException("socket receive timeout")
            return FakeConnection.search(self, **kwargs)

    pages = ls.iter_pages(BrokenOnPage2([page([entry("a")], b"c1")]), "OU=x", "(x=*)", [], 10)
    next(pages)
    with pytest.raises(le.LdapSourceError) as err:
        next(pages)
    assert str(err.value) == "search under 'OU=x' failed on page 2: socket receive timeout"


def test_export_hands_the_search_over_as_given():
    conn = FakeConnection([page([entry("CN=a", proxyAddresses=["SMTP:a@example.com"])], b"")] * 2)
    collector = RecipientCollector(["example.com"])
    ls.export(conn, ["OU=1"], "(mail=*)", ["proxyAddresses", "mail"], 500, collector, False, time_limit=60)
    ls.export(conn, ["OU=1"], "(mail=*)", ["mail"], 500, collector, False)
    assert [(c["search_filter"], c["attributes"], c["paged_size"], c["time_limit"]) for c in conn.calls] == [
        ("(mail=*)", ["proxyAddresses", "mail"], 500, 60),
        ("(mail=*)", ["mail"], 500, 0),
    ]


def test_export_skips_disabled_accounts_when_asked():
    disabled = entry("CN=d", proxyAddresses=["SMTP:d@example.com"], userAccountControl=["514"])
    enabled = entry("CN=e", proxyAddresses=["SMTP:e@example.com"], userAccountControl=["512"])
    conn = FakeConnection([page([disabled, enabled], b"")])
    collector = RecipientCollector(["example.com"])
    stats = ls.export(conn, ["OU=1"], "(x=*)", [], 10, collector, True)
    assert collector.sorted_addresses() == ["e@example.com"]
    assert (stats.entries, stats.disabled_skipped) == (2, 1)


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
    stats = lp.ExportStats()
    entries = [
        entry(
            "CN=u",
            ProxyAddresses=["SMTP:U@example.com", "X500:/o=x", "smtp:bad value@example.com"],
            targetAddress=["SMTP:t@example.com"],
            mail=["m@example.com"],
        ),
        {"type": "searchResRef", "uri": ["ldap://DomainDnsZones.corp/DC=DomainDnsZones"]},
    ]
    lp.feed_entries(entries, collector, stats, exclude_disabled=False)
    assert collector.sorted_addresses() == ["m@example.com", "t@example.com", "u@example.com"]
    assert collector.refused[0].source == "CN=u (proxyaddresses)"
    assert stats.references == ["ldap://DomainDnsZones.corp/DC=DomainDnsZones"]
    assert stats.entries == 1


@pytest.mark.parametrize("uac, disabled", [("512", False), ("514", True), ("66050", True), ("66048", False), ("junk", False)])
def test_disabled_accounts_are_recognised_by_bit_2(uac, disabled):
    assert lp.is_disabled({"userAccountControl": [uac.encode()]}) is disabled


def test_disabled_accounts_are_dropped_client_side_only_when_asked():
    disabled = entry("CN=d", proxyAddresses=["SMTP:d@example.com"], userAccountControl=["514"])
    for exclude, expected in ((True, []), (False, ["d@example.com"])):
        collector = RecipientCollector(["example.com"])
        stats = lp.ExportStats()
        lp.feed_entries([disabled], collector, stats, exclude_disabled=exclude)
        assert collector.sorted_addresses() == expected
        assert stats.disabled_skipped == (1 if exclude else 0)


def test_attributes_are_found_whatever_order_the_server_sends_them_in():
    # Active Directory may send userAccountControl (or any attribute the export
    # does not collect) before proxyAddresses.
    page = lp.RawPage()
    page.add_entry(b"CN=u", [(b"userAccountControl", [b"512"]), (b"objectClass", [b"user"]),
                             (b"proxyAddresses", [b"SMTP:u@example.com"]), (b"Mail", [b"m@example.com"])], True)
    assert (page.typed, page.plain, page.disabled) == ([b"SMTP:u@example.com"], [b"m@example.com"], 0)


def test_disabled_accounts_are_counted_over_pages():
    stats = lp.ExportStats()
    collector = RecipientCollector(["example.com"])
    for dns in (["CN=d1", "CN=d2"], ["CN=d3"]):
        disabled = [entry(dn, proxyAddresses=["SMTP:%s@example.com" % dn[3:]], userAccountControl=["514"]) for dn in dns]
        lp.feed_entries(disabled, collector, stats, exclude_disabled=True)
    assert (stats.entries, stats.disabled_skipped, collector.sorted_addresses()) == (3, 3, [])


def test_a_refused_value_names_its_own_entry_among_several():
    collector = RecipientCollector(["example.com"])
    entries = [
        entry("CN=Good,DC=x", proxyAddresses=["SMTP:good@example.com"], mail=["good@example.com"]),
        entry("CN=Empty,DC=x", proxyAddresses=[], mail=[]),
        entry("CN=Bad,DC=x", proxyAddresses=["SMTP:bad@example.com"], mail=["bad mail@example.com"]),
        entry("CN=Worse,DC=x", targetAddress=["SMTP:worse target@example.com"]),
    ]
    lp.feed_entries(entries, collector, lp.ExportStats(), False)
    assert [(r["source"], r["value"]) for r in collector.refused_as_dicts()] == [
        ("CN=Worse,DC=x (targetaddress)", "SMTP:worse target@example.com"),
        ("CN=Bad,DC=x (mail)", "bad mail@example.com"),
    ]


def test_bytes_that_are_not_utf8_become_replacement_characters_and_are_refused():
    # Undecodable bytes must not end the export with a traceback, nor slip through.
    assert lp.decode_values([b"smtp:ok@example.com", b"smtp:m\xfcller@example.com"]) == [
        "smtp:ok@example.com", "smtp:m\ufffdller@example.com"]
    collector = RecipientCollector(["example.com"])
    page = lp.RawPage()
    page.add_entry(b"CN=M\xfcller,DC=x", [(b"proxyAddresses", [b"smtp:m\xfcller@example.com"])], False)
    lp.feed_page(page, collector, lp.ExportStats())
    assert [(r["source"], r["value"]) for r in collector.refused_as_dicts()] == [
        ("CN=M\ufffdller,DC=x (proxyaddresses)", "smtp:m\ufffdller@example.com")]


# A page as Exchange fills it: per entry proxyAddresses of every type (SMTP in
# any case, X500, SIP, EUM, X400, malformed prefixes), a targetAddress, mail
# values, in relay domains and others, with a few bytes that are not ASCII or
# hold a newline. Mostly ASCII, as directories hand them over, so that most
# pages reach the scan of their text.
PAGE_TYPES = ["SMTP:", "smtp:", "SmTp:", "X500:", "x500:", "SIP:", "EUM:", "X400:", "FAX:", "", " SMTP:", "smtp :", ":",
              "X 500:", "EUM\t:", "\x7fX:"]
PAGE_VALUE = st.builds(
    lambda kind, local, domain: (kind + local + domain).encode("utf-8"),
    st.sampled_from(PAGE_TYPES),
    st.text(alphabet=string.ascii_letters + string.digits + ".-_'# ;=/", min_size=1, max_size=16),
    st.sampled_from(["@example.com", "@EXAMPLE.org", "@partner.example", "@tenant.mail.onmicrosoft.com", "", "@example.com.",
                     "@p..example", ";phone-context=dp.example.com"]),
)
ODD_VALUE = st.sampled_from([b"smtp:m\xfcller@example.com", b"smtp:z\xc3\xb6e@example.com", b"smtp:a@example.com\nsmtp:b@example.com",
                             b"", b"X500:/o=x\r/cn=y"])


def page_entries(value, plain_value):
    """Up to 8 entries of (proxyAddresses, targetAddress, mail) values."""
    return st.lists(
        st.tuples(st.lists(value, max_size=6), st.lists(value, max_size=1), st.lists(plain_value, max_size=2)),
        min_size=1, max_size=8,
    )


PLAIN_VALUE = PAGE_VALUE.map(lambda v: v.partition(b":")[2] or v)
# Two pages in three hold nothing odd, so that they are handed on as one text.
PAGE_ENTRIES = st.one_of(
    page_entries(PAGE_VALUE, PLAIN_VALUE),
    page_entries(PAGE_VALUE, PLAIN_VALUE),
    page_entries(st.one_of(PAGE_VALUE, PAGE_VALUE, PAGE_VALUE, ODD_VALUE), st.one_of(PLAIN_VALUE, ODD_VALUE)),
)


@given(PAGE_ENTRIES)
@settings(max_examples=600)
def test_a_page_of_mixed_types_ends_as_its_values_one_by_one(entries):
    page = lp.RawPage()
    one = RecipientCollector(["example.com", "example.org"], watch=["postmaster@example.com"])
    typed, plain = [], []
    for number, (proxy, target, mail) in enumerate(entries):
        dn = b"CN=u%d,DC=x" % number
        attributes = [(b"proxyAddresses", proxy), (b"targetAddress", target), (b"mail", mail)]
        page.add_entry(dn, [(name, values) for name, values in attributes if values], False)
        typed += [(value, "%s (%s)" % (dn.decode(), name.decode().lower())) for name, values in attributes[:2] for value in values]
        plain += [(value, "CN=u%d,DC=x (mail)" % number) for value in mail]
    # The reference: each value alone, typed before plain as the page hands them on.
    for value, source in typed:
        one.add_typed(lp.decode(value), source)
    for value, source in plain:
        one.add_plain(lp.decode(value), source)
    batch = RecipientCollector(["example.com", "example.org"], watch=["postmaster@example.com"])
    lp.feed_page(page, batch, lp.ExportStats())
    event("typed values as one text: %s" % (lp.ascii_lines(page.typed) is not None and bool(page.typed)))
    event("other types counted: %s" % bool(batch.ignored_by_type))
    assert (batch.addresses, batch.refused, batch.refused_count, batch.dropped_by_domain, batch.ignored_by_type,
            batch.values_seen, batch.watched) == (
        one.addresses, one.refused, one.refused_count, one.dropped_by_domain, one.ignored_by_type, one.values_seen,
        one.watched)


@pytest.mark.parametrize(
    "values",
    [
        [],
        [b"smtp:a@example.com"],
        [b"smtp:a@example.com", b"", b"SMTP:b@example.com"],
        [b"smtp:a@example.com\nsmtp:b@example.com", b"smtp:c@example.com"],  # a newline inside a value
        [b"smtp:a@example.com\nsmtp:b@example.com\nsmtp:c@example.com"],  # one value, not three
        [b"smtp:z\xc3\xb6e@example.com", b"smtp:a@example.com"],
    ],
)
def test_values_are_decoded_one_for_one(values):
    assert lp.decode_values(values) == [value.decode("utf-8") for value in values]


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
    assert (lc.transport_problem(uri, start_tls, plaintext) is None) is ok


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
            raise le.LDAPException("connection refused")
        return "conn-%s" % uri

    monkeypatch.setattr(lc, "_connect_one", fake_connect_one)
    assert lc.connect(OPTS) == ("conn-ldaps://dc2", "ldaps://dc2")
    assert tried == ["ldaps://dc1", "ldaps://dc2"]


@pytest.mark.skipif(not le.HAS_LDAP3, reason="ldap3 is not installed")
def test_connect_reports_every_uri_and_never_the_password():
    opts = dict(OPTS, server_uris=["ldap://127.0.0.1:1", "ldaps://127.0.0.1:2"], allow_plaintext=True)
    with pytest.raises(le.LdapSourceError) as err:
        lc.connect(opts)
    message = str(err.value)
    assert "ldap://127.0.0.1:1:" in message and "ldaps://127.0.0.1:2:" in message
    assert "s3cret-password" not in message


# Reading search responses off the wire ----------------------------------------
#
# The messages are encoded with ldap3's own ASN.1 definitions (pyasn1), as a
# server sends them; the acceptance test against real servers (OpenLDAP and
# Samba AD over TLS) is the Molecule scenario `recipients`.

needs_ldap3 = pytest.mark.skipif(not le.HAS_LDAP3, reason="ldap3 is not installed")


def ber_message(message_id, op_name, op, controls=None):
    from pyasn1.codec.ber import encoder
    from ldap3.protocol import rfc4511
    from ldap3.protocol.convert import build_controls_list

    protocol_op = rfc4511.ProtocolOp()
    protocol_op[op_name] = op
    message = rfc4511.LDAPMessage()
    message["messageID"] = rfc4511.MessageID(message_id)
    message["protocolOp"] = protocol_op
    if controls:
        message["controls"] = build_controls_list(controls)
    return encoder.encode(message)


def ber_entry(dn, attributes, message_id=7):
    from ldap3.protocol import rfc4511

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
    return ber_message(message_id, "searchResEntry", entry_op)


def ber_reference(uris, message_id=7):
    from ldap3.protocol import rfc4511

    reference = rfc4511.SearchResultReference()
    for i, uri in enumerate(uris):
        reference.setComponentByPosition(i, rfc4511.URI(uri))
    return ber_message(message_id, "searchResRef", reference)


def ber_done(code=0, message_id=7, cookie=None, text=""):
    from ldap3.protocol import rfc4511
    from ldap3.protocol.rfc2696 import paged_search_control

    done = rfc4511.SearchResultDone()
    done["resultCode"] = rfc4511.ResultCode(code)
    done["matchedDN"] = rfc4511.LDAPDN("")
    done["diagnosticMessage"] = rfc4511.LDAPString(text)
    controls = [paged_search_control(False, 0, cookie)] if cookie is not None else None
    return ber_message(message_id, "searchResDone", done, controls)


def ber_notice_of_disconnection():
    from ldap3.protocol import rfc4511

    notice = rfc4511.ExtendedResponse()
    notice["resultCode"] = rfc4511.ResultCode(52)
    notice["matchedDN"] = rfc4511.LDAPDN("")
    notice["diagnosticMessage"] = rfc4511.LDAPString("server shutting down")
    notice["responseName"] = rfc4511.ResponseName("1.3.6.1.4.1.1466.20036")
    return ber_message(0, "extendedResp", notice)


def entry_content(message):
    """(buffer, start, end) of the searchResEntry content inside an encoded message."""
    _start, _end = lw._tlv(message, 0, 0x30, "message")
    id_start, id_end = lw._tlv(message, _start, 0x02, "id")
    op_start, op_end = lw._tlv(message, id_end, 0x64, "entry")
    return message, op_start, op_end


class WireSocket:
    """Hands out ``data`` in pieces of the given sizes, then EOF (b"") or an exception."""

    def __init__(self, data, sizes=(5, 1, 300, 17), end=b""):
        self.data = data
        self.sizes = sizes
        self.calls = 0
        self.end = end

    def recv(self, limit):
        if not self.data:
            if isinstance(self.end, Exception):
                raise self.end
            return self.end
        size = min(limit, self.sizes[self.calls % len(self.sizes)])
        self.calls += 1
        piece, self.data = self.data[:size], self.data[size:]
        return piece


class WireConnection:
    """What the reader uses of an ldap3 connection: socket, strategy, result and response."""

    def __init__(self, data, **socket_options):
        from ldap3.strategy.sync import SyncStrategy

        self.socket = WireSocket(data, **socket_options)
        self.strategy = SyncStrategy.__new__(SyncStrategy)
        self.strategy.connection = self
        self.strategy._outstanding = {7: "the search request"}
        self.result = None
        self.response = None


def read_page(data, exclude_disabled=False, system_rule=None, **socket_options):
    from ldap3.utils.asn1 import decode_message_fast

    conn = WireConnection(data, **socket_options)
    reader = lw.WireSearchReader(
        conn, exclude_disabled, lambda raw: conn.strategy.decode_response_fast(decode_message_fast(raw)), system_rule
    )
    assert reader(7) == []
    return conn


X500 = b"X500:/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=" + b"f" * 40


@needs_ldap3
@pytest.mark.parametrize(
    "count",
    [
        0,  # values of 128-255 bytes (length 0x81 xx), the sets and attributes too, the entry 0x82 xx xx
        20,  # a set of 256-65535 bytes (0x82 xx xx)
        3000,  # a set longer than 65535 bytes (0x83 xx xx xx)
    ],
)
def test_an_entry_is_read_as_ldap3_reads_it(count):
    from ldap3.utils.asn1 import decode_message_fast

    long_value = b"smtp:" + b"x" * 200 + b"@example.com"
    longer_value = b"X500:/o=" + b"y" * 300  # a value of 256 bytes or more: length 0x82 xx xx
    many = [b"smtp:a%04d@example.com" % i for i in range(count)]
    message = ber_entry(
        "CN=Zoë Müller,OU=Users,DC=corp,DC=example,DC=com",
        [("proxyAddresses", [b"SMTP:zoe@example.com", b"X500:/o=corp/cn=zoe", long_value, longer_value] + many),
         ("targetAddress", [X500]), ("mail", [b"zoe@example.com"]), ("userAccountControl", [b"512"])],
    )
    dn, attributes = lw.parse_entry(*entry_content(message))
    real = lc._connection("ldap://127.0.0.1", dict(OPTS, allow_plaintext=True))
    stock = real.strategy.decode_response_fast(decode_message_fast(message))
    assert dn.decode("utf-8") == stock["dn"] == "CN=Zoë Müller,OU=Users,DC=corp,DC=example,DC=com"
    assert {name.decode(): values for name, values in attributes} == stock["raw_attributes"]


@needs_ldap3
@pytest.mark.parametrize(
    "damage",
    [
        lambda m: m[:-1],  # the last value is one byte short
        lambda m: m.replace(b"\x04\x14SMTP:zoe", b"\x05\x14SMTP:zoe"),  # a value that is not an octet string
        lambda m: m.replace(b"\x04\x14SMTP:zoe", b"\x04\x7fSMTP:zoe"),  # a value longer than its set
        lambda m: m.replace(b"\x04\x14SMTP:zoe", b"\x04\x85SMTP:zoe"),  # a length of five bytes
        lambda m: m.replace(b"\x04\x14SMTP:zoe", b"\x04\x81\xf0SMTP:zoe"),  # a one-byte long length past the set
        lambda m: m[:-len(X500) - 1],  # the message ends inside the long length of its last value
        lambda m: m[:-1],  # the last value (one of 128-255 bytes) is one byte short
    ],
)
def test_a_damaged_entry_is_a_protocol_error_not_misread_values(damage):
    message = ber_entry("CN=z", [("proxyAddresses", [b"SMTP:zoe@example.com"]), ("mail", [b"z@example.com"]),
                                 ("targetAddress", [X500])])
    buf, start, end = entry_content(message)
    damaged = damage(buf)
    with pytest.raises((le.ProtocolError, IndexError)):
        lw.parse_entry(damaged, start, end - (len(buf) - len(damaged)))


@needs_ldap3
@pytest.mark.parametrize("sizes", [(1,), (3, 700), (65536,)])
def test_a_page_is_read_whatever_the_network_hands_over_at_a_time(sizes):
    data = (
        ber_entry("CN=a,DC=x", [("proxyAddresses", [b"SMTP:a@example.com", b"X500:/o=a"])])
        + ber_entry("CN=e,DC=x", [("proxyAddresses", [b"smtp:e%03d@example.com" % i for i in range(20)] + [X500])])
        + ber_reference(["ldap://DomainDnsZones.corp/DC=DomainDnsZones"])
        + ber_entry("CN=b,DC=x", [("proxyAddresses", [b"smtp:b@example.com"]), ("mail", [b"mb@example.com"])])
        + ber_entry("CN=c,DC=x", [])
        + ber_done(cookie=b"next-page")
    )
    conn = read_page(data, sizes=sizes)
    page = conn.response
    e_values = [b"smtp:e%03d@example.com" % i for i in range(20)] + [X500]
    assert (page.entries, page.typed, page.plain) == (
        4, [b"SMTP:a@example.com", b"X500:/o=a"] + e_values + [b"smtp:b@example.com"], [b"mb@example.com"])
    assert page.references == ["ldap://DomainDnsZones.corp/DC=DomainDnsZones"]
    assert conn.result["type"] == "searchResDone" and conn.result["result"] == 0
    assert ls.page_cookie(conn.result) == b"next-page"
    assert conn.strategy._outstanding == {}
    collector = RecipientCollector(["example.com"])
    stats = lp.ExportStats()
    lp.feed_page(page, collector, stats)
    assert collector.sorted_addresses() == sorted(
        ["a@example.com", "b@example.com", "mb@example.com"] + [v[5:].decode() for v in e_values[:-1]])
    assert dict(collector.ignored_by_type) == {"X500": 2}


@needs_ldap3
def test_a_size_limit_result_reaches_the_page_check():
    conn = read_page(ber_entry("CN=a", [("proxyAddresses", [b"SMTP:a@example.com"])]) + ber_done(code=4, text="limit"))
    assert "sizeLimitExceeded" in ls.result_problem(conn.result, "DC=x", 3)


@needs_ldap3
@pytest.mark.parametrize(
    "data, end, message",
    [
        (lambda: ber_entry("CN=a", [("proxyAddresses", [b"SMTP:a@example.com"])]), b"", "^the server closed the connection in the middle of a search$"),
        (lambda: ber_entry("CN=a", [("mail", [b"a@example.com"])])[:-3], OSError(11, "timed out"), "receiving search results failed"),
        (lambda: ber_entry("CN=a", [("mail", [b"a@example.com"])])[:-3], TimeoutError(),
         "receiving search results failed: TimeoutError$"),  # an exception without text is named
        (ber_notice_of_disconnection, b"", "ended the session: 1.3.6.1.4.1.1466.20036"),
        (lambda: ber_done(message_id=8), b"", "a response to message 8 arrived during search 7"),
        (lambda: ber_done() + ber_done(), b"", "arrived after the end of the search"),
        (lambda: b"\x31\x03\x02\x01\x07", b"", "^LDAP message: expected tag 0x30, found 0x31$"),
    ],
)
def test_anything_but_a_clean_page_is_a_failure(data, end, message):
    with pytest.raises(le.LdapSourceError, match=message):
        read_page(data(), end=end)


@needs_ldap3
def test_disabled_accounts_are_skipped_on_the_wire_when_asked():
    data = (
        ber_entry("CN=d", [("proxyAddresses", [b"SMTP:d@example.com"]), ("userAccountControl", [b"514"])])
        + ber_entry("CN=e", [("proxyAddresses", [b"SMTP:e@example.com"]), ("UserAccountControl", [b"512"])])
        + ber_done()
    )
    page = read_page(data, exclude_disabled=True).response
    assert (page.entries, page.disabled, page.typed) == (2, 1, [b"SMTP:e@example.com"])


@needs_ldap3
def test_the_reader_replaces_only_the_receiving_side_of_a_real_connection():
    conn = lc._connection("ldap://127.0.0.1", dict(OPTS, allow_plaintext=True))
    send = conn.send
    reader = lw.read_searches_off_the_wire(conn, False)
    assert isinstance(reader, lw.WireSearchReader)
    assert conn.post_send_search is reader and conn.send == send


def test_a_connection_that_is_not_ldap3s_keeps_its_own_receiving():
    conn = FakeConnection([])
    assert lw.read_searches_off_the_wire(conn, False) is None
    assert not hasattr(conn, "post_send_search")


def ber_length(length):
    return bytes([length]) if length < 0x80 else b"\x84" + length.to_bytes(4, "big")


def tlv(tag, *parts):
    """A hand-made BER element, for damage that pyasn1 would refuse to encode."""
    content = b"".join(parts)
    return bytes([tag]) + ber_length(len(content)) + content


def ad_style(data):
    """``data`` (whole BER elements) re-encoded with every length in four bytes, as Active Directory sends it."""
    out, pos = b"", 0
    while pos < len(data):
        tag = data[pos]
        start, end = lw._tlv(data, pos, tag, "element")
        content = ad_style(data[start:end]) if tag & 0x20 else data[start:end]  # constructed: re-encode within
        out += bytes([tag]) + b"\x84" + len(content).to_bytes(4, "big") + content
        pos = end
    return out


def hand_attribute(name, *values):
    return tlv(0x30, tlv(0x04, name), tlv(0x31, *[tlv(0x04, value) for value in values]))


def hand_message(op_tag, content, message_id=7):
    return tlv(0x30, tlv(0x02, bytes([message_id])), tlv(op_tag, content))


@needs_ldap3
def test_four_byte_lengths_as_active_directory_sends_them_are_read():
    from ldap3.utils.asn1 import decode_message_fast

    message = ad_style(ber_entry("CN=a,DC=x", [("proxyAddresses", [b"SMTP:a@example.com", b"smtp:a bad@example.com"]),
                                               ("description", [b""])]))
    assert message[1] == 0x84
    dn, attributes = lw.parse_entry(*entry_content(message))
    real = lc._connection("ldap://127.0.0.1", dict(OPTS, allow_plaintext=True))
    stock = real.strategy.decode_response_fast(decode_message_fast(message))
    assert dn.decode() == stock["dn"] and {name.decode(): values for name, values in attributes} == stock["raw_attributes"]

    data = message + ad_style(ber_reference(["ldap://other.example/DC=other"])) + ad_style(ber_done(cookie=b""))
    conn = read_page(data, sizes=(6, 1))
    assert (conn.response.entries, conn.response.references, conn.result["result"]) == (1, ["ldap://other.example/DC=other"], 0)
    collector = RecipientCollector(["example.com"])
    lp.feed_page(conn.response, collector, lp.ExportStats())
    assert collector.sorted_addresses() == ["a@example.com"]
    assert collector.refused_as_dicts()[0]["source"] == "CN=a,DC=x (proxyaddresses)"


@pytest.mark.parametrize("length_byte", [b"\x80", b"\x85"])  # indefinite length; more than four length bytes
def test_a_length_form_ldap_does_not_allow_is_a_protocol_error(length_byte):
    data = b"\x30" + length_byte + b"\x00" * 12
    with pytest.raises(le.ProtocolError, match="^unsupported BER length byte 0x%02x$" % length_byte[0]):
        read_page(data)


DN = tlv(0x04, b"CN=z")
MAIL = hand_attribute(b"mail", b"z@example.com")


@pytest.mark.parametrize(
    "content, end_short_by, message",
    [
        (tlv(0x05, b"CN=z") + tlv(0x30, MAIL), 0, "entry DN: expected tag 0x04, found 0x05"),
        (DN + tlv(0x31, MAIL), 0, "attribute list: expected tag 0x30, found 0x31"),
        (DN + tlv(0x30, tlv(0x31, MAIL[1:])), 0, "attribute: expected tag 0x30, found 0x31"),
        (DN + tlv(0x30, tlv(0x30, tlv(0x0C, b"mail"), tlv(0x31, tlv(0x04, b"z@example.com")))), 0,
         "attribute type: expected tag 0x04, found 0x0c"),
        (DN + tlv(0x30, tlv(0x30, tlv(0x04, b"mail"), tlv(0x30, tlv(0x04, b"z@example.com")))), 0,
         "attribute values: expected tag 0x31, found 0x30"),
        (DN + tlv(0x30, tlv(0x30, tlv(0x04, b"mail"), tlv(0x31, tlv(0x0C, b"z@example.com")))), 0,
         "entry b'CN=z': a value of b'mail' is not an octet string"),
        (DN + tlv(0x30, tlv(0x30, tlv(0x04, b"mail"), tlv(0x31, tlv(0x04, b"z@example.com")), b"\x04\x00")), 0,
         "entry b'CN=z': the values of b'mail' do not end with the attribute"),
        (DN + tlv(0x30, tlv(0x30, tlv(0x04, b"mail"), tlv(0x31, b"\x04\x0fz@example.com"))), 0,
         "entry b'CN=z': the values of b'mail' overrun the attribute"),
        (DN + tlv(0x30, tlv(0x30, tlv(0x04, b"mail"), tlv(0x31, b"\x04\x80" + b"z@example.com\x00\x00"))), 0,
         "unsupported BER length byte 0x80"),  # an indefinite length
        (DN + tlv(0x30, MAIL) + b"\x04\x00", 0, "entry b'CN=z': the attribute list does not end with the entry"),
        (DN + b"\x30" + bytes([len(MAIL) - 2]) + MAIL, 2, "entry b'CN=z': the attributes overrun the entry"),
    ],
)
def test_a_damaged_entry_is_reported_with_the_part_that_does_not_add_up(content, end_short_by, message):
    with pytest.raises(le.ProtocolError) as err:
        lw.parse_entry(content, 0, len(content) - end_short_by)
    assert str(err.value) == message


@pytest.mark.parametrize(
    "content, end_short_by, message",
    [
        (tlv(0x04, b"ldap://a/DC=a") + tlv(0x0C, b"ldap://b/DC=b"), 0, "reference URI: expected tag 0x04, found 0x0c"),
        (tlv(0x04, b"ldap://a/DC=a"), 2, "a search reference overruns its message"),
    ],
)
def test_a_damaged_reference_is_a_protocol_error(content, end_short_by, message):
    with pytest.raises(le.ProtocolError) as err:
        lw.parse_reference(content, 0, len(content) - end_short_by)
    assert str(err.value) == message


def test_a_reference_that_is_not_utf8_is_reported_not_a_crash():
    content = tlv(0x04, b"ldap://m\xfcller.example/DC=x") + tlv(0x04, b"ldap://b/DC=b")
    assert lw.parse_reference(content, 0, len(content)) == ["ldap://m\ufffdller.example/DC=x", "ldap://b/DC=b"]


def ber_result(op_name, code=0, message_id=7, text="", **fields):
    from ldap3.protocol import rfc4511

    classes = {"bindResponse": rfc4511.BindResponse, "extendedResp": rfc4511.ExtendedResponse,
               "modifyResponse": rfc4511.ModifyResponse}
    op = classes[op_name]()
    op["resultCode"] = rfc4511.ResultCode(code)
    op["matchedDN"] = rfc4511.LDAPDN("")
    op["diagnosticMessage"] = rfc4511.LDAPString(text)
    for name, value in fields.items():
        op[name] = value
    return ber_message(message_id, op_name, op)


def ber_intermediate(name, message_id=7):
    from ldap3.protocol import rfc4511

    intermediate = rfc4511.IntermediateResponse()
    intermediate["responseName"] = rfc4511.IntermediateResponseName(name)
    return ber_message(message_id, "intermediateResponse", intermediate)


@needs_ldap3
def test_an_intermediate_response_within_a_search_is_passed_over():
    # OpenLDAP's content synchronisation sends syncInfo messages among the entries.
    data = (ber_entry("CN=a", [("mail", [b"a@example.com"])]) + ber_intermediate("1.3.6.1.4.1.4203.1.9.1.4")
            + ber_entry("CN=b", [("mail", [b"b@example.com"])]) + ber_done())
    conn = read_page(data)
    assert (conn.response.plain, conn.result["type"]) == ([b"a@example.com", b"b@example.com"], "searchResDone")


@needs_ldap3
@pytest.mark.parametrize(
    "fields, said",
    [
        ({"responseName": "1.3.6.1.4.1.1466.20036", "text": "server shutting down"}, "1.3.6.1.4.1.1466.20036 server shutting down"),
        ({"responseName": "1.3.6.1.4.1.1466.20036"}, "1.3.6.1.4.1.1466.20036 unavailable"),
        ({"text": "idle too long"}, "idle too long"),
    ],
)
def test_a_notice_of_disconnection_is_reported_with_what_the_server_said(fields, said):
    from ldap3.protocol import rfc4511

    name = fields.get("responseName")
    extra = {"responseName": rfc4511.ResponseName(name)} if name else {}
    notice = ber_result("extendedResp", code=52, message_id=0, text=fields.get("text", ""), **extra)
    with pytest.raises(le.LdapSourceError) as err:
        read_page(ber_entry("CN=a", [("mail", [b"a@example.com"])]) + notice)
    assert str(err.value).split() == ("the server ended the session: " + said).split()
    assert not isinstance(err.value, le.ProtocolError)


@needs_ldap3
@pytest.mark.parametrize(
    "data, message",
    [
        (lambda: ber_result("modifyResponse"), "^unexpected modifyResponse during a search$"),
        (lambda: b"\x30\x05\x02\x01\x07\x7e\x00", "^ldap3 could not decode a response: "),
        (lambda: b"\x30\x05\x04\x01\x07\x65\x00", "message ID: expected tag 0x02, found 0x04"),
        (lambda: tlv(0x30, b"\x02\x01\x07", b"\x64\x7f", DN) + ber_done(), "^a search result overruns its message$"),
        (lambda: ber_reference(["ldap://a/DC=a"], message_id=8), "^a response to message 8 arrived during search 7$"),
    ],
)
def test_a_message_that_does_not_belong_in_a_search_is_a_protocol_error(data, message):
    with pytest.raises(le.ProtocolError, match=message):
        read_page(data())


@needs_ldap3
def test_a_message_that_ends_in_the_middle_of_a_value_is_reported_with_its_size():
    cut = hand_message(0x64, DN + tlv(0x30, tlv(0x30, tlv(0x04, b"mail"), tlv(0x31, b"\x04"))))
    with pytest.raises(le.ProtocolError) as err:
        read_page(ber_entry("CN=a", [("mail", [b"a@example.com"])]) + cut)
    assert str(err.value) == "a message of %d bytes ends in the middle of a value" % len(cut)


@needs_ldap3
def test_bytes_after_the_end_of_the_search_are_counted():
    extra = ber_entry("CN=late", [("mail", [b"late@example.com"])])
    with pytest.raises(le.ProtocolError) as err:
        read_page(ber_entry("CN=a", [("mail", [b"a@example.com"])]) + ber_done() + extra, sizes=(65536,))
    assert str(err.value) == "%d bytes arrived after the end of the search" % len(extra)


@needs_ldap3
@pytest.mark.parametrize(
    "socket_error, message",
    [
        (TimeoutError("timed out"), "receiving search results failed: timed out"),
        (ConnectionResetError(104, "Connection reset by peer"), "receiving search results failed: [Errno 104] Connection reset by peer"),
    ],
)
def test_a_socket_error_is_reported_with_its_reason(socket_error, message):
    with pytest.raises(le.LdapSourceError) as err:
        read_page(ber_entry("CN=a", [("mail", [b"a@example.com"])]), end=socket_error)
    assert str(err.value) == message


@needs_ldap3
def test_a_connection_whose_socket_is_gone_is_a_failure_not_a_crash():
    conn = WireConnection(b"")
    conn.socket = None  # what ldap3 leaves after closing the connection
    with pytest.raises(le.LdapSourceError, match="receiving search results failed: 'NoneType' object has no attribute 'recv'"):
        lw.WireSearchReader(conn, False, None)(7)


@needs_ldap3
def test_the_reader_stays_out_of_connections_it_cannot_serve():
    from ldap3 import ASYNC, DIGEST_MD5, SASL, Connection, Server

    asynchronous = Connection(Server("ldap://127.0.0.1"), client_strategy=ASYNC)
    digest = Connection(Server("ldap://127.0.0.1"), authentication=SASL, sasl_mechanism=DIGEST_MD5, sasl_credentials=(None, "u", "p", None))
    kerberos = lc._connection("ldap://127.0.0.1", dict(OPTS, sasl_mechanism="GSSAPI", allow_plaintext=True))
    assert lw.read_searches_off_the_wire(asynchronous, False) is None
    assert lw.read_searches_off_the_wire(digest, False) is None  # its security layer wraps every message
    assert isinstance(lw.read_searches_off_the_wire(kerberos, False), lw.WireSearchReader)  # ldap3 has no layer for GSSAPI


def test_a_refused_value_names_its_entry_and_attribute():
    collector = RecipientCollector(["example.com"])
    stats = lp.ExportStats()
    lp.feed_entries([entry("CN=Bad,DC=x", proxyAddresses=["smtp:bad user@example.com"])], collector, stats, False)
    assert collector.refused_as_dicts() == [
        {"source": "CN=Bad,DC=x (proxyaddresses)", "value": "smtp:bad user@example.com", "reason": "whitespace ' '"}
    ]


def test_closing_a_connection_whose_socket_is_gone_keeps_the_first_error():
    # The directory stopped mid-search: the unbind that follows fails to send,
    # and that must not replace why the search failed (the module closes in a
    # finally after the export, as here).
    class Gone:
        def __init__(self, error):
            self.error = error
            self.unbinds = 0

        def unbind(self):
            self.unbinds += 1
            raise self.error

    for socket_error in (le.LDAPException("socket sending error[Errno 32] Broken pipe"), BrokenPipeError(32, "Broken pipe")):
        conn = Gone(socket_error)
        with pytest.raises(le.LdapSourceError, match="failed on page 3"):
            try:
                raise le.LdapSourceError("failed on page 3: the server closed the connection")
            finally:
                lc.close(conn)
        assert conn.unbinds == 1
    # A programming error is not a socket error: it is not hidden.
    with pytest.raises(TypeError):
        lc.close(Gone(TypeError("not a connection")))


# The connection options ---------------------------------------------------------


def test_the_connection_options_are_the_documented_ones():
    import yaml
    from ansible_collections.mailrelay.exchange.plugins.doc_fragments.ldap_options import ModuleDocFragment

    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    spec = lc.ldap_argument_spec()
    assert sorted(spec) == sorted(documented)
    for name, option in documented.items():
        expected = {key: option[key] for key in ("type", "elements", "choices", "default") if key in option}
        assert {key: value for key, value in spec[name].items() if key != "no_log"} == expected, name
    assert [name for name, option in spec.items() if option.get("no_log")] == ["bind_password"]


@pytest.mark.parametrize(
    "uri, start_tls, plaintext, message",
    [
        ("ldaps://dc1", True, False, "ldaps://dc1: start_tls cannot be combined with ldaps://"),
        ("ldapi:///run/slapd.sock", False, True, "ldapi:///run/slapd.sock: only ldap:// and ldaps:// URIs are supported"),
        ("ldap://dc1", False, False, "ldap://dc1: plain LDAP without TLS; use ldaps://, start_tls, or set allow_plaintext explicitly"),
    ],
)
def test_a_refused_uri_is_named_with_the_reason(uri, start_tls, plaintext, message):
    assert lc.transport_problem(uri, start_tls, plaintext) == message


# Connecting, binding and searching over a socket ----------------------------------
#
# A scripted directory on 127.0.0.1 answers ldap3's real requests with BER
# messages as a server sends them.

BIND, UNBIND, SEARCH, EXTENDED = 0x60, 0x42, 0x63, 0x77
REQUEST_TAGS = {"bind": BIND, "search": SEARCH, "extended": EXTENDED}


def request_header(buf, pos):
    """(content start, content end) of the BER element at ``pos``, or None while it is incomplete."""
    if len(buf) < pos + 2:
        return None
    start, length = pos + 2, buf[pos + 1]
    if length & 0x80:
        start += length & 0x7F
        length = int.from_bytes(buf[pos + 2:start], "big")
    return (start, start + length) if start + length <= len(buf) else None


class ScriptedDirectory:
    """Accepts one connection and answers each request with the next reply scripted for its kind.

    ``replies`` maps a request tag (BIND, SEARCH, EXTENDED) to functions of
    the message ID that return the answer's bytes. ``requests`` records the
    (tag, whole request) of everything the client sent.
    """

    def __init__(self, replies):
        self.replies = {tag: list(answers) for tag, answers in replies.items()}
        self.requests = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.uri = "ldap://127.0.0.1:%d" % self.listener.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def tags(self):
        return [tag for tag, _request in self.requests]

    def _serve(self):
        with self.listener:
            while not self.stopping:
                try:
                    peer, _address = self.listener.accept()
                except socket.timeout:
                    continue
                with peer:
                    self._talk(peer)
                return

    def _talk(self, peer):
        peer.settimeout(5)
        buf = b""
        while True:
            header = request_header(buf, 0)
            if header is None:
                data = peer.recv(65536)
                if not data:
                    return
                buf += data
                continue
            start, end = header
            message_id = int.from_bytes(buf[start + 2:start + 2 + buf[start + 1]], "big")
            tag = buf[start + 2 + buf[start + 1]]
            self.requests.append((tag, buf[:end]))
            buf = buf[end:]
            if self.replies.get(tag):
                peer.sendall(self.replies[tag].pop(0)(message_id))

    def stop(self):
        self.stopping = True
        self.thread.join(5)


@pytest.fixture
def directories():
    started = []

    def start(**replies):
        directory = ScriptedDirectory({REQUEST_TAGS[kind]: answers for kind, answers in replies.items()})
        started.append(directory)
        return directory

    yield start
    for directory in started:
        directory.stop()


def bound(message_id):
    return ber_result("bindResponse", message_id=message_id)


def refused(code, text=""):
    return lambda message_id: ber_result("bindResponse", code, message_id, text)


def connect_opts(*directories, **options):
    return dict(OPTS, server_uris=[d.uri for d in directories], allow_plaintext=True, **options)


def search_page(entries, cookie):
    return lambda message_id: b"".join(ber_entry(dn, attributes, message_id) for dn, attributes in entries) + ber_done(
        message_id=message_id, cookie=cookie)


@needs_ldap3
def test_an_export_binds_and_reads_every_page_off_the_socket(directories):
    directory = directories(
        bind=[bound],
        search=[
            search_page([("CN=a,DC=x", [("proxyAddresses", [b"SMTP:a@example.com"])]),
                         ("CN=d,DC=x", [("proxyAddresses", [b"SMTP:d@example.com"]), ("userAccountControl", [b"514"])])],
                        b"page-2"),
            search_page([("CN=b,DC=x", [("proxyAddresses", [b"smtp:bad b@example.com"]), ("mail", [b"b@example.com"])])], b""),
        ],
    )
    conn, uri = lc.connect(connect_opts(directory))
    collector = RecipientCollector(["example.com"])
    try:
        stats = ls.export(conn, ["DC=x"], "(x=*)", ["proxyAddresses", "mail"], 2, collector, True)
    finally:
        lc.close(conn)
    directory.stop()
    assert uri == directory.uri
    assert collector.sorted_addresses() == ["a@example.com", "b@example.com"]
    assert collector.refused_as_dicts()[0]["source"] == "CN=b,DC=x (proxyaddresses)"
    assert (stats.pages, stats.entries, stats.disabled_skipped) == (2, 3, 1)
    assert isinstance(conn.post_send_search, lw.WireSearchReader)
    # A simple bind with the configured DN and password, nothing read from the server
    # before it (no root DSE, no schema), then the pages, then the unbind.
    assert directory.tags() == [BIND, SEARCH, SEARCH, UNBIND]
    bind_request = directory.requests[0][1]
    assert b"\x04\x03svc\x80\x0fs3cret-password" in bind_request


def wait_for(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


@needs_ldap3
def test_a_page_is_handed_on_once_the_next_one_is_asked_for(directories):
    directory = directories(
        bind=[bound],
        search=[search_page([("CN=a,DC=x", [("mail", [b"a@example.com"])])], b"page-2"),
                search_page([("CN=b,DC=x", [("mail", [b"b@example.com"])])], b"page-3"),
                search_page([("CN=c,DC=x", [("mail", [b"c@example.com"])])], b"")],
    )
    conn, _uri = lc.connect(connect_opts(directory))
    lw.read_searches_off_the_wire(conn, False)
    try:
        pages = ls.iter_pages(conn, "DC=x", "(x=*)", ["mail"], 1)
        first = next(pages)
        # The server has the request for page 2 while page 1 is being used.
        assert wait_for(lambda: directory.tags().count(SEARCH) == 2)
        assert first.plain == [b"a@example.com"]
        assert [p.plain for p in pages] == [[b"b@example.com"], [b"c@example.com"]]
    finally:
        lc.close(conn)
    directory.stop()
    assert directory.tags() == [BIND, SEARCH, SEARCH, SEARCH, UNBIND]


@needs_ldap3
def test_a_page_that_fails_after_the_one_before_was_handed_on_still_fails_the_search(directories):
    directory = directories(
        bind=[bound],
        search=[search_page([("CN=a,DC=x", [("mail", [b"a@example.com"])])], b"page-2"),
                lambda message_id: ber_done(4, message_id, text="size limit")],
    )
    conn, _uri = lc.connect(connect_opts(directory))
    collector = RecipientCollector(["example.com"])
    try:
        with pytest.raises(le.LdapSourceError) as err:
            ls.export(conn, ["DC=x"], "(x=*)", ["mail"], 1, collector, False)
    finally:
        lc.close(conn)
    assert str(err.value).startswith("search under 'DC=x' failed on page 2: sizeLimitExceeded (result code 4)")


@needs_ldap3
def test_a_damaged_answer_read_after_the_page_before_was_handed_on_names_the_page(directories):
    def cut(message_id):
        return hand_message(0x64, DN + tlv(0x30, tlv(0x30, tlv(0x04, b"mail"), tlv(0x31, b"\x04"))), message_id)

    directory = directories(
        bind=[bound], search=[search_page([("CN=a,DC=x", [("mail", [b"a@example.com"])])], b"page-2"), cut],
    )
    conn, _uri = lc.connect(connect_opts(directory))
    lw.read_searches_off_the_wire(conn, False)
    try:
        pages = ls.iter_pages(conn, "DC=x", "(x=*)", ["mail"], 1)
        next(pages)
        with pytest.raises(le.LdapSourceError) as err:
            next(pages)
    finally:
        lc.close(conn)
    assert str(err.value) == "search under 'DC=x' failed on page 2: a message of %d bytes ends in the middle of a value" % len(cut(3))


def test_the_reader_receives_only_a_search_it_sent():
    reader = lw.WireSearchReader(WireConnection(b""), False, None)
    with pytest.raises(le.ProtocolError, match="no search is waiting for its answer"):
        reader.receive()


@needs_ldap3
@pytest.mark.parametrize(
    "text, reason",
    [
        ("80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e, v4563",
         "bind failed: invalidCredentials 80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 52e, v4563"),
        ("", "bind failed: invalidCredentials"),
    ],
)
def test_a_refused_bind_is_reported_in_the_servers_words_and_the_connection_closed(directories, text, reason):
    directory = directories(bind=[refused(49, text)])
    with pytest.raises(le.LdapSourceError) as err:
        lc.connect(connect_opts(directory))
    assert str(err.value) == "no directory server could be used: %s: %s" % (directory.uri, reason)
    directory.stop()
    assert directory.tags() == [BIND, UNBIND]


@needs_ldap3
def test_a_refused_start_tls_is_a_failure_before_any_credentials_are_sent(directories):
    def unavailable(message_id):
        return ber_result("extendedResp", 52, message_id, "TLS not configured")

    first, second = directories(extended=[unavailable]), directories(extended=[unavailable])
    with pytest.raises(le.LdapSourceError) as err:
        lc.connect(connect_opts(first, second, start_tls=True))
    # ldap3 raises on a refused StartTLS, in its own words.
    assert str(err.value) == "no directory server could be used: %s: startTLS failed - unavailable; %s: startTLS failed - unavailable" % (
        first.uri, second.uri)
    first.stop()
    assert first.tags() == [EXTENDED, UNBIND]


def test_no_bind_follows_a_start_tls_that_did_not_happen(monkeypatch):
    # ldap3's start_tls() can also just return False (an operation still
    # outstanding, TLS already up): the password must not follow in clear.
    class Declining:
        result = {"description": "operationsError"}

        def __init__(self):
            self.calls = []

        def open(self):
            self.calls.append("open")

        def start_tls(self, read_server_info):
            self.calls.append("start_tls")
            return False

        def bind(self, read_server_info):
            self.calls.append("bind")
            return True

        def unbind(self):
            self.calls.append("unbind")

    conn = Declining()
    monkeypatch.setattr(lc, "_connection", lambda uri, opts: conn)
    with pytest.raises(le.LdapSourceError) as err:
        lc.connect(dict(OPTS, server_uris=["ldap://dc1"], start_tls=True))
    assert str(err.value) == "no directory server could be used: ldap://dc1: StartTLS failed: operationsError"
    assert conn.calls == ["open", "start_tls", "unbind"]


@needs_ldap3
def test_connect_fails_over_past_a_refusing_server_to_one_that_binds(directories):
    refusing, working = directories(bind=[refused(53, "unwilling")]), directories(bind=[bound])
    conn, uri = lc.connect(connect_opts(refusing, working))
    try:
        assert uri == working.uri and conn.bound
    finally:
        lc.close(conn)
    refusing.stop()
    assert refusing.tags() == [BIND, UNBIND]


@needs_ldap3
def test_a_connection_is_read_only_checks_certificates_and_leaves_failures_to_the_page_checks(tmp_path):
    from ldap3 import ANONYMOUS, GSSAPI, NONE, SASL, SIMPLE

    ca_file = tmp_path / "corp-ca.pem"
    ca_file.write_text("")
    conn = lc._connection("ldaps://dc1:636", dict(OPTS, timeout=7, ca_file=str(ca_file)))
    # ldap3 must not raise on a result code (iter_pages checks them), must not
    # follow referrals to other servers with the credentials, and must not add
    # empty lists for attributes an entry lacks.
    assert (conn.raise_exceptions, conn.auto_referrals, conn.empty_attributes, conn.read_only) == (False, False, False, True)
    assert (conn.receive_timeout, conn.server.connect_timeout, conn.server.get_info) == (7, 7, NONE)
    assert (conn.server.tls.validate, conn.server.tls.ca_certs_file) == (ssl.CERT_REQUIRED, str(ca_file))
    assert (conn.authentication, conn.user, conn.password) == (SIMPLE, "svc", "s3cret-password")

    lab = lc._connection("ldaps://dc1", dict(OPTS, validate_certs=False, bind_dn=None, bind_password=None))
    assert (lab.server.tls.validate, lab.authentication, lab.user) == (ssl.CERT_NONE, ANONYMOUS, None)
    kerberos = lc._connection("ldaps://dc1", dict(OPTS, bind_dn=None, bind_password=None, sasl_mechanism="GSSAPI"))
    assert (kerberos.authentication, kerberos.sasl_mechanism) == (SASL, GSSAPI)


# Ranged values (AD's MaxValRange) ---------------------------------------------


def addresses(first, last):
    return ["smtp:a%04d@example.com" % i for i in range(first, last + 1)]


@pytest.mark.parametrize(
    "name, expected",
    [
        (b"proxyaddresses;range=0-1499", (b"proxyaddresses", 1500)),
        (b"proxyaddresses;range=1500-*", (b"proxyaddresses", None)),
        (b"targetaddress;range=0-0", (b"targetaddress", 1)),
        (b"mail;range=3-4", (b"mail", 5)),
        (b"member;range=0-1499", (None, None)),
        (b"proxyaddresses;binary", (None, None)),
    ],
)
def test_a_ranged_name_gives_the_attribute_and_where_the_rest_starts(name, expected):
    assert lp.parse_range(name) == expected


@pytest.mark.parametrize("span", [b"", b"0", b"-5", b"a-b", b"5-4", b"0-*5", b"0-1499-2999"])
def test_a_range_ad_never_sends_is_a_protocol_error(span):
    with pytest.raises(le.ProtocolError, match="not a value range"):
        lp.parse_range(b"proxyaddresses;range=" + span)


def test_ranged_values_are_read_to_the_last_range_with_base_searches():
    big = "CN=Big,OU=1"
    conn = FakeConnection(
        [
            page([entry(big, **{"proxyAddresses;range=0-2": addresses(0, 2)}),
                  entry("CN=small,OU=1", proxyAddresses=["SMTP:small@example.com"])], b""),
            page([entry(big, **{"proxyAddresses;range=3-5": addresses(3, 5)})], None),
            page([entry(big, **{"proxyAddresses;range=6-*": addresses(6, 7)})], None),
        ]
    )
    collector = RecipientCollector(["example.com"])
    stats = ls.export(conn, ["OU=1"], "(x=*)", ["proxyAddresses"], 10, collector, False, time_limit=9)
    assert collector.sorted_addresses() == sorted(a[5:] for a in addresses(0, 7)) + ["small@example.com"]
    assert (stats.pages, stats.entries, stats.ranged_entries, stats.range_searches) == (1, 2, 1, 2)
    follow_ups = [(c["search_base"], c["search_scope"], c["attributes"], c["time_limit"]) for c in conn.calls[1:]]
    assert follow_ups == [
        (big, ls.BASE, ["proxyaddresses;range=3-*"], 9),
        (big, ls.BASE, ["proxyaddresses;range=6-*"], 9),
    ]


def test_a_refused_ranged_value_names_its_entry():
    conn = FakeConnection(
        [
            page([entry("CN=Big,OU=1", **{"proxyAddresses;range=0-0": ["smtp:a@example.com"]})], b""),
            page([entry("CN=Big,OU=1", **{"proxyAddresses;range=1-*": ["smtp:bad one@example.com"]})], None),
        ]
    )
    collector = RecipientCollector(["example.com"])
    ls.export(conn, ["OU=1"], "(x=*)", [], 10, collector, False)
    assert collector.refused_as_dicts()[0]["source"] == "CN=Big,OU=1 (proxyaddresses)"


@pytest.mark.parametrize(
    "answer, message",
    [
        (page([], None), "the answer has 0 entries and 0 parts"),
        (page([entry("CN=Big,OU=1", proxyAddresses=addresses(1, 2))], None), "the answer has 1 entries and 0 parts"),
        (page([], None, code=32, description="noSuchObject"), r"failed: noSuchObject \(result code 32\)"),
        (page([entry("CN=Big,OU=1", **{"proxyAddresses;range=0-0": addresses(0, 0)})], None), "does not move on"),
    ],
)
def test_a_follow_up_without_the_asked_range_fails_the_export(answer, message):
    conn = FakeConnection([page([entry("CN=Big,OU=1", **{"proxyAddresses;range=0-0": addresses(0, 0)})], b""), answer])
    with pytest.raises(le.LdapSourceError, match="reading proxyaddresses;range=1-\\* of CN=Big,OU=1.*" + message):
        ls.export(conn, ["OU=1"], "(x=*)", [], 10, RecipientCollector(["example.com"]), False)


@needs_ldap3
def test_the_wire_reader_follows_ranges_off_the_socket(directories):
    def answer(entries, cookie=None):
        return lambda message_id: b"".join(ber_entry(dn, attributes, message_id) for dn, attributes in entries) + ber_done(
            message_id=message_id, cookie=cookie)

    first = [v.encode() for v in addresses(0, 1499)]
    rest = [v.encode() for v in addresses(1500, 1599)]
    directory = directories(
        bind=[bound],
        search=[
            answer([("CN=Big,DC=x", [("proxyAddresses;Range=0-1499", first)])], b""),
            answer([("CN=Big,DC=x", [("proxyAddresses;range=1500-*", rest)])]),
        ],
    )
    conn, _uri = lc.connect(connect_opts(directory))
    collector = RecipientCollector(["example.com"])
    try:
        stats = ls.export(conn, ["DC=x"], "(x=*)", ["proxyAddresses"], 1000, collector, False)
    finally:
        lc.close(conn)
    directory.stop()
    assert isinstance(conn.post_send_search, lw.WireSearchReader)
    assert len(collector.sorted_addresses()) == 1600
    assert (stats.pages, stats.entries, stats.ranged_entries, stats.range_searches) == (1, 1, 1, 1)
    assert directory.tags() == [BIND, SEARCH, SEARCH, UNBIND]
    assert b"proxyaddresses;range=1500-*" in directory.requests[2][1]


# Kerberos from a client keytab ------------------------------------------------


def test_a_keytab_gives_a_fresh_ticket_in_memory_every_run():
    assert lc.kerberos_environment("/etc/relay/svc.keytab") == {
        "KRB5_CLIENT_KTNAME": "FILE:/etc/relay/svc.keytab",
        "KRB5CCNAME": "MEMORY:mailrelay-exchange",
    }


def test_connect_points_kerberos_at_a_readable_keytab_and_refuses_a_missing_one(tmp_path, monkeypatch):
    for name in ("KRB5_CLIENT_KTNAME", "KRB5CCNAME"):
        monkeypatch.delenv(name, raising=False)
    missing = str(tmp_path / "missing.keytab")
    with pytest.raises(le.LdapSourceError, match="cannot read the keytab %s: No such file" % missing):
        lc.connect(dict(OPTS, server_uris=["ldaps://127.0.0.1:1"], sasl_mechanism="GSSAPI", keytab=missing))
    assert "KRB5_CLIENT_KTNAME" not in os.environ
    keytab = tmp_path / "svc.keytab"
    keytab.write_bytes(b"\x05\x02")
    lc.use_keytab(str(keytab))
    assert os.environ["KRB5_CLIENT_KTNAME"] == "FILE:%s" % keytab
    assert os.environ["KRB5CCNAME"] == "MEMORY:mailrelay-exchange"


def test_system_mailboxes_are_asked_for_by_type_only_when_excluded():
    assert ls.requested_attributes(False, False, False, False) == ["proxyAddresses"]
    assert ls.requested_attributes(False, False, True, True) == [
        "proxyAddresses", "userAccountControl", "msExchRecipientTypeDetails",
    ]


def system_entries():
    return [
        entry("CN=HealthMailbox0a1b2c3d,CN=Users,DC=x", proxyAddresses=["SMTP:health@example.com"]),
        entry("CN=Audit,DC=x", proxyAddresses=["SMTP:audit@example.com"], msExchRecipientTypeDetails=["4398046511104"]),
        entry("CN=Anna,DC=x", proxyAddresses=["SMTP:anna@example.com"], msExchRecipientTypeDetails=["1"]),
        entry("CN=SystemMailbox{1f05a927-3be2},DC=x", proxyAddresses=["SMTP:sm@example.com"], userAccountControl=["514"]),
    ]


def test_system_mailboxes_are_exported_unless_excluded():
    collector = RecipientCollector(["example.com"])
    stats = lp.ExportStats()
    lp.feed_entries(system_entries(), collector, stats, exclude_disabled=False)
    assert len(collector.sorted_addresses()) == 4
    assert (stats.system_skipped, stats.system_sample) == (0, [])


def test_excluded_system_mailboxes_are_counted_and_named_and_disabled_ones_count_as_disabled():
    collector = RecipientCollector(["example.com"])
    stats = lp.ExportStats()
    rule = system_mailboxes.system_mailbox
    lp.feed_entries(system_entries(), collector, stats, exclude_disabled=True, system_rule=rule)
    assert collector.sorted_addresses() == ["anna@example.com"]
    assert (stats.entries, stats.disabled_skipped, stats.system_skipped) == (4, 1, 2)
    assert stats.system_sample == [
        {"dn": "CN=HealthMailbox0a1b2c3d,CN=Users,DC=x", "reason": "name HealthMailbox..."},
        {"dn": "CN=Audit,DC=x", "reason": "msExchRecipientTypeDetails AuditLogMailbox (4398046511104)"},
    ]


def test_the_list_of_excluded_system_mailboxes_is_bounded_but_all_are_counted():
    collector = RecipientCollector(["example.com"])
    stats = lp.ExportStats()
    rule = system_mailboxes.system_mailbox
    limit = system_mailboxes.SAMPLE_LIMIT
    for first in (0, limit - 2):
        health = [entry("CN=HealthMailbox%04x" % n, proxyAddresses=["SMTP:h%d@example.com" % n]) for n in range(first, first + limit - 2)]
        lp.feed_entries(health, collector, stats, exclude_disabled=False, system_rule=rule)
    assert stats.system_skipped == 2 * limit - 4
    assert [s["dn"] for s in stats.system_sample] == ["CN=HealthMailbox%04x" % n for n in range(limit)]


@needs_ldap3
def test_system_mailboxes_are_excluded_on_the_wire_too():
    data = (
        ber_entry("CN=Migration.8f3e7716,DC=x", [("proxyAddresses", [b"SMTP:mig@example.com"])])
        + ber_entry("CN=Anna,DC=x", [("proxyAddresses", [b"SMTP:anna@example.com"]), ("msExchRecipientTypeDetails", [b"1"])])
        + ber_done()
    )
    page = read_page(data, system_rule=system_mailboxes.system_mailbox).response
    assert (page.entries, page.typed, page.system) == (2, [b"SMTP:anna@example.com"], [(b"CN=Migration.8f3e7716,DC=x", "name Migration....")])


@needs_ldap3
def test_ranged_values_of_a_kept_entry_are_not_judged_again_by_the_system_mailbox_rule(directories):
    # A user mailbox (type 1) whose name looks like a health mailbox: kept by its type on
    # the page; the follow-up answer has no type, only the ranged attribute.
    def answer(entries, cookie=None):
        return lambda message_id: b"".join(ber_entry(dn, attributes, message_id) for dn, attributes in entries) + ber_done(
            message_id=message_id, cookie=cookie)

    dn = "CN=HealthMailbox0a1b2c3d,DC=x"
    directory = directories(
        bind=[bound],
        search=[
            answer([(dn, [("msExchRecipientTypeDetails", [b"1"]),
                          ("proxyAddresses;range=0-1", [b"SMTP:h0@example.com", b"smtp:h1@example.com"])])], b""),
            answer([(dn, [("proxyAddresses;range=2-*", [b"smtp:h2@example.com"])])]),
        ],
    )
    conn, _uri = lc.connect(connect_opts(directory))
    collector = RecipientCollector(["example.com"])
    try:
        stats = ls.export(conn, ["DC=x"], "(x=*)", ["proxyAddresses"], 10, collector, False, exclude_system_mailboxes=True)
    finally:
        lc.close(conn)
    directory.stop()
    assert collector.sorted_addresses() == ["h0@example.com", "h1@example.com", "h2@example.com"]
    assert (stats.system_skipped, stats.ranged_entries, stats.range_searches) == (0, 1, 1)
    assert conn.post_send_search.system_rule is not None
