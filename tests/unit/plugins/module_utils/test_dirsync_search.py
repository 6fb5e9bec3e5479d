# -*- coding: utf-8 -*-
"""The DirSync pass against a fake connection: rounds to the end, the DC's identity,
and the server's refusals told apart (cookie, rights, base). Samba AD plays the
real server in the Molecule scenario ``dirsync``."""

import pytest

from ansible_collections.mailrelay.exchange.plugins.module_utils import _dirsync_search as dsearch
from ansible_collections.mailrelay.exchange.plugins.module_utils import _ldap_errors as le

OK = {"result": 0, "description": "success"}


def answer(entries, cookie, more=False):
    return dict(OK, controls={dsearch.DIRSYNC_OID: {"value": {"cookie": cookie, "more_results": more}}}), entries


def entry(guid, **attributes):
    raw = {"objectGUID": [bytes.fromhex(guid)]}
    raw.update((k, [v.encode()] if isinstance(v, str) else v) for k, v in attributes.items())
    return {"type": "searchResEntry", "dn": "CN=%s,DC=corp" % guid, "raw_attributes": raw}


class FakeConn:
    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = []
        self.result = self.response = None

    def search(self, **kwargs):
        self.calls.append(kwargs)
        self.result, self.response = self.answers.pop(0)


def test_a_pass_runs_until_the_server_has_no_more_and_keeps_the_last_cookie():
    conn = FakeConn([answer([entry("01", proxyAddresses="SMTP:a@example.com")], b"c1", more=True),
                     answer([entry("02", userAccountControl="514"), {"type": "searchResRef", "uri": ["x"]}], b"c2")])
    found = dsearch.read_changes(conn, "DC=corp", ["proxyAddresses"], None)
    assert (found.cookie, found.rounds, found.entries, found.deletions_visible) == (b"c2", 2, 2, False)
    assert [c.guid for c in found.changes] == ["01", "02"]
    call = conn.calls[0]
    assert call["search_base"] == "DC=corp" and call["search_filter"] == dsearch.SYNC_FILTER
    assert call["attributes"] == ["proxyAddresses", "name", "isDeleted"]
    assert [str(c[0]) for c in call["controls"]] == [dsearch.DIRSYNC_OID, "1.2.840.113556.1.4.417"]
    # The second round goes on from the first round's cookie.
    assert conn.calls[1]["controls"][0] != conn.calls[0]["controls"][0]


def test_a_pass_that_returns_the_deleted_objects_container_sees_deletions():
    container = entry("0d", isDeleted="TRUE")
    container["dn"] = "CN=Deleted Objects,DC=corp"
    found = dsearch.read_changes(FakeConn([answer([entry("01", proxyAddresses="SMTP:a@example.com"), container], b"c1")]), "DC=corp", [], None)
    assert found.deletions_visible


def test_a_cookie_the_server_cannot_read_is_refused_as_such():
    refused = {"result": 12, "description": "unavailableCriticalExtension", "message": "Unable to unmarshall cookie"}
    with pytest.raises(dsearch.CookieRefused, match="unmarshall"):
        dsearch.read_changes(FakeConn([(refused, [])]), "DC=corp", [], b"old")
    # Without a cookie the same answer means no DirSync at all, not a resync.
    with pytest.raises(le.LdapSourceError) as failure:
        dsearch.read_changes(FakeConn([(refused, [])]), "DC=corp", [], None)
    assert not isinstance(failure.value, dsearch.CookieRefused)


def test_missing_rights_name_the_replication_right_and_the_flag():
    denied = {"result": 50, "description": "insufficientAccessRights", "message": "error in module dirsync"}
    with pytest.raises(le.LdapSourceError) as failure:
        dsearch.read_changes(FakeConn([(denied, [])]), "DC=corp", [], None)
    assert "Replicating Directory Changes" in str(failure.value) and "dirsync_object_security" in str(failure.value)


def test_a_base_that_is_no_naming_context_says_so():
    denied = {"result": 50, "description": "insufficientAccessRights", "message": "dN is not one of the naming context"}
    with pytest.raises(le.LdapSourceError, match="head of a naming context"):
        dsearch.read_changes(FakeConn([(denied, [])]), "OU=x,DC=corp", [], None)


def test_an_answer_without_the_control_or_with_an_empty_cookie_fails():
    with pytest.raises(le.LdapSourceError, match="no DirSync control"):
        dsearch.read_changes(FakeConn([(OK, [])]), "DC=corp", [], None)
    with pytest.raises(le.LdapSourceError, match="empty cookie"):
        dsearch.read_changes(FakeConn([answer([], b"")]), "DC=corp", [], None)


def test_the_identity_names_the_dc_its_invocation_id_and_dirsync_support():
    root = {"type": "searchResEntry", "attributes": {
        "dnsHostName": ["dc1.corp.example.com"], "dsServiceName": ["CN=NTDS Settings,CN=DC1"],
        "defaultNamingContext": ["DC=corp"], "supportedControl": [dsearch.DIRSYNC_OID, "1.2.840.113556.1.4.319"]}}
    ntds = {"type": "searchResEntry", "raw_attributes": {"invocationId": [bytes.fromhex("5e36b39d")]}}
    identity = dsearch.read_identity(FakeConn([(OK, [root]), (OK, [ntds])]))
    assert identity == dsearch.Identity("dc1.corp.example.com", "5e36b39d", "DC=corp", True)
    openldap = {"type": "searchResEntry", "attributes": {"supportedControl": ["1.2.840.113556.1.4.319"]}}
    assert not dsearch.read_identity(FakeConn([(OK, [openldap])])).supports_dirsync
