# -*- coding: utf-8 -*-
"""DKIM key records and the choice of the signing selector (_dkim_record)."""

import pytest

from ansible_collections.mailrelay.exchange.plugins.module_utils import _dkim_record as dr

RSA_P = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwr81PUX1lcldCMSL" + "A" * 300 + "IDAQAB"
ED_P = "iVKSGbza6MWU0hRrtvLwIpIySlZY/DGOwledqM/cxRk="


@pytest.mark.parametrize("name", ["mr2026a", "a", "s1", "x-1", "a" * 32])
def test_good_selectors(name):
    assert dr.check_selector(name) == name


@pytest.mark.parametrize("name", ["", "-a", "a-", "Mr1", "a.b", "a_b", "a" * 33, None, "a b"])
def test_bad_selectors_are_refused(name):
    with pytest.raises(dr.DkimRecordError, match="lower-case letters"):
        dr.check_selector(name)


def test_selector_names_and_record_text():
    assert dr.selector_name("mr1", "rsa") == "mr1-rsa"
    assert dr.selector_name("mr1", "ed25519") == "mr1-ed25519"
    assert dr.record_text("ed25519", ED_P) == "v=DKIM1; k=ed25519; p=" + ED_P
    with pytest.raises(dr.DkimRecordError):
        dr.record_text("dsa", ED_P)
    with pytest.raises(dr.DkimRecordError, match="not base64"):
        dr.record_text("rsa", "p; v=DKIM1")


def test_parse_tags_joins_folded_values_and_refuses_duplicates():
    assert dr.parse_tags("v=DKIM1; k=rsa;  p=MIIB IjAN\n BgkA ;") == {"v": "DKIM1", "k": "rsa", "p": "MIIBIjANBgkA"}
    with pytest.raises(dr.DkimRecordError, match="twice"):
        dr.parse_tags("p=a; p=b")
    with pytest.raises(dr.DkimRecordError, match="not a tag=value"):
        dr.parse_tags("v=DKIM1; garbage")


@pytest.mark.parametrize("answers, state", [
    ([], dr.MISSING),
    (["v=DKIM1; k=rsa; p=" + RSA_P], dr.PUBLISHED),
    (["k=rsa; p=" + RSA_P], dr.PUBLISHED),                     # v is optional
    (["v=DKIM1; p=" + RSA_P], dr.PUBLISHED),                   # k defaults to rsa
    (["v=DKIM1; k=rsa; p=" + RSA_P[:-4] + "AAAA"], dr.MISMATCH),  # another key
    (["v=DKIM1; k=ed25519; p=" + RSA_P], dr.MISMATCH),         # another type
    (["v=DKIM1; k=rsa; p="], dr.MISMATCH),                     # revoked
    (["v=spf1 -all", "v=DKIM1; k=rsa; p=" + RSA_P], dr.PUBLISHED),
    (["v=DKIM2; k=rsa; p=" + RSA_P], dr.MISMATCH),
    (["garbage", "p=x; p=y"], dr.MISMATCH),
])
def test_compare(answers, state):
    assert dr.compare("rsa", RSA_P, answers) == state


def test_zone_lines_split_long_strings_at_255():
    records = {"rsa": dr.record_text("rsa", RSA_P), "ed25519": dr.record_text("ed25519", ED_P)}
    lines = dr.zone_lines("mr1", "example.com.", records)
    assert lines[1] == 'mr1-ed25519._domainkey.example.com. IN TXT ( "v=DKIM1; k=ed25519; p=%s" )' % ED_P
    assert lines[0].startswith('mr1-rsa._domainkey.example.com. IN TXT ( "v=DKIM1; k=rsa; p=MIIB')
    chunks = lines[0].split('( ', 1)[1].rsplit(' )', 1)[0].split('" "')
    assert [len(c.strip('"')) for c in chunks][:-1] == [255] * (len(chunks) - 1)
    assert "".join(c.strip('"') for c in chunks) == dr.record_text("rsa", RSA_P)


def states(rsa, ed):
    return {"rsa": rsa, "ed25519": ed}


P, M, X = dr.PUBLISHED, dr.MISSING, dr.MISMATCH


@pytest.mark.parametrize("status, expected", [
    ({"s1": {"a.com": states(P, P)}}, "s1"),
    ({"s1": {"a.com": states(P, M)}}, None),                     # half published signs nothing
    ({"s1": {"a.com": states(P, P)}, "s2": {"a.com": states(M, M)}}, "s1"),   # new key not yet published
    ({"s1": {"a.com": states(P, P)}, "s2": {"a.com": states(P, P)}}, "s2"),   # both: the newest
    ({"s1": {"a.com": states(P, P), "b.com": states(P, P)},
      "s2": {"a.com": states(P, P), "b.com": states(P, X)}}, "s1"),           # every domain or none
    ({"s1": {"a.com": states(M, M)}, "s2": {"a.com": states(P, P)}}, "s2"),
    ({"s1": {}}, None),
])
def test_choose_active(status, expected):
    assert dr.choose_active(sorted(status), status) == expected


def test_choose_active_without_dns_and_without_selectors():
    assert dr.choose_active(["s1", "s2"], {}, require_published=False) == "s2"
    assert dr.choose_active([], {}, require_published=False) is None
