# -*- coding: utf-8 -*-
"""DirSync entries merged into the state, and the state rendered as the full export reads the directory.

A model directory plays AD: each change returns what DirSync returns (only the
changed attributes, None for a cleared one, a tombstone for a deletion). After
any sequence of changes, the addresses rendered from the merged state must be
those the full export's own path (ldap3 response dicts, the server-side filter
``(proxyAddresses=smtp:*)`` and base DNs) collects from the directory as it is.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.mailrelay.exchange.plugins.module_utils import _dirsync_delta as dd
from ansible_collections.mailrelay.exchange.plugins.module_utils import _dirsync_render as dr
from ansible_collections.mailrelay.exchange.plugins.module_utils import _ldap_errors as le
from ansible_collections.mailrelay.exchange.plugins.module_utils._collector import RecipientCollector
from ansible_collections.mailrelay.exchange.plugins.module_utils._ldap_page import ExportStats, feed_entries

BASE = "OU=Staff,DC=corp,DC=example,DC=com"
OUTSIDE = "OU=Archive,DC=corp,DC=example,DC=com"
DOMAINS = ["example.com"]


def response(guid, dn, attributes, deleted=False):
    raw = {"objectGUID": [bytes.fromhex(guid)], "instanceType": [b"4"]}
    for name, values in attributes.items():
        raw[name] = None if values is None else [v.encode("utf-8") if isinstance(v, str) else v for v in values]
    if deleted:
        raw["isDeleted"] = [b"TRUE"]
    return {"type": "searchResEntry", "dn": dn, "raw_attributes": raw}


def test_an_entry_becomes_a_change_with_cleared_attributes_as_none():
    change = dd.change_of(response("0a0b", "CN=A," + BASE, {"proxyAddresses": None, "userAccountControl": ["514"], "name": ["A"]}))
    assert change == dd.Change("0a0b", "CN=A," + BASE, {"proxyaddresses": None, "useraccountcontrol": ["514"]}, False)
    assert dd.change_of({"type": "searchResRef", "uri": ["ldap://x"]}) is None


def test_only_smtp_values_of_typed_attributes_are_kept():
    change = dd.change_of(response("0a0b", "CN=A," + BASE, {
        "proxyAddresses": ["SMTP:a@example.com", "X500:/o=corp/cn=a", "sip:a@example.com", "smtp:b@example.org"],
        "mail": ["a@example.com"]}))
    assert change.attributes == {"proxyaddresses": ["SMTP:a@example.com", "smtp:b@example.org"], "mail": ["a@example.com"]}
    # An object left with no SMTP value has none: as cleared.
    assert dd.change_of(response("0a0b", "CN=A," + BASE, {"proxyAddresses": ["X500:/o=corp/cn=a"]})).attributes == {"proxyaddresses": None}


def test_a_tombstone_is_a_deletion():
    change = dd.change_of(response("0a0b", "CN=A\\0ADEL:x,CN=Deleted Objects,DC=corp", {"proxyAddresses": None}, deleted=True))
    assert change.deleted


def test_an_entry_without_guid_or_with_ranged_values_is_refused():
    with pytest.raises(le.ProtocolError):
        dd.change_of({"type": "searchResEntry", "dn": "CN=A", "raw_attributes": {"proxyAddresses": [b"SMTP:a@example.com"]}})
    with pytest.raises(le.ProtocolError, match="ranges"):
        dd.change_of(response("0a", "CN=A", {"proxyAddresses;range=0-1499": [b"SMTP:a@example.com"]}))


def test_merge_keeps_unchanged_attributes_and_counts_what_it_did():
    objects = {}
    first = [dd.Change("01", "CN=A", {"proxyaddresses": ["SMTP:a@example.com"], "useraccountcontrol": ["512"]}, False)]
    assert dd.apply_changes(objects, first) == dd.DeltaStats(1, 0, 0, 0)
    # A disabled account comes back with userAccountControl alone.
    stats = dd.apply_changes(objects, [dd.Change("01", "CN=A", {"useraccountcontrol": ["514"]}, False)])
    assert stats.changed == 1
    assert objects["01"]["attributes"] == {"proxyaddresses": ["SMTP:a@example.com"], "useraccountcontrol": ["514"]}
    stats = dd.apply_changes(objects, [dd.Change("01", "CN=A", {"useraccountcontrol": ["514"]}, False)])
    assert stats == dd.DeltaStats(0, 0, 1, 0)
    dd.apply_changes(objects, [dd.Change("01", "CN=A", {"proxyaddresses": None}, False)])
    assert objects["01"]["attributes"] == {"useraccountcontrol": ["514"]}
    # An older tombstone removes nothing; a known one removes the object.
    assert dd.apply_changes(objects, [dd.Change("99", "CN=X", {}, True), dd.Change("01", "CN=A", {}, True)]) == dd.DeltaStats(0, 1, 0, 1)
    assert objects == {}


def test_a_dn_is_under_a_base_whatever_the_case_and_blanks():
    bases = [dr.normalise_dn("ou=staff, dc=corp,DC=example, dc=com")]
    assert dr.under("CN=A,OU=Staff,DC=corp,DC=example,DC=com", bases)
    assert dr.under("OU=Staff,DC=corp,DC=example,DC=com", bases)
    assert not dr.under("CN=A,OU=NotStaff,DC=corp,DC=example,DC=com", bases)


def test_values_that_are_not_utf8_come_back_as_the_same_bytes():
    objects = {}
    raw = b"SMTP:caf\xe9@example.com"
    dd.apply_changes(objects, [dd.change_of(response("01", "CN=A," + BASE, {"proxyAddresses": [raw]}))])
    collector = RecipientCollector(DOMAINS)
    dr.render(objects, [BASE], collector, False)
    export = RecipientCollector(DOMAINS)
    feed_entries([response("01", "CN=A," + BASE, {"proxyAddresses": [raw]})], export, ExportStats(), False)
    assert collector.refused_as_dicts() == export.refused_as_dicts() and collector.refused_count == 1


# The model directory: guid -> (dn, {attribute: [values]}).
ADDRESS = st.sampled_from(["SMTP:a@example.com", "smtp:b@example.com", "SMTP:c@example.com", "smtp:d@other.org",
                           "X500:/o=corp/cn=a", "SMTP:bad address@example.com", "SMTP:E@Example.com"])
OPS = st.lists(
    st.tuples(
        st.sampled_from(["add", "addresses", "clear", "disable", "enable", "mail", "move_out", "move_in", "delete"]),
        st.integers(0, 5),
        st.lists(ADDRESS, min_size=1, max_size=3),
    ),
    max_size=25,
)


def full_export(directory, include_mail, exclude_disabled):
    """What the full export collects: the server filter and base, then the export's own page path."""
    entries = []
    for guid, (dn, attributes) in sorted(directory.items()):
        if not dr.under(dn, [dr.normalise_dn(BASE)]):
            continue
        if not any(v.lower().startswith("smtp:") for v in attributes.get("proxyAddresses", [])):
            continue
        wanted = {k: v for k, v in attributes.items() if k != "mail" or include_mail}
        entries.append(response(guid, dn, wanted))
    collector = RecipientCollector(DOMAINS)
    feed_entries(entries, collector, ExportStats(), exclude_disabled)
    return collector


def run(directory, objects, guid, attributes, deleted=False):
    """Change the model and merge what DirSync returns for it."""
    dd.apply_changes(objects, [dd.change_of(response(guid, directory[guid][0], attributes, deleted))])


@settings(max_examples=300, deadline=None)
@given(OPS, st.booleans(), st.booleans())
def test_after_any_changes_the_rendered_map_is_the_full_exports(ops, include_mail, exclude_disabled):
    directory, objects = {}, {}
    for op, n, values in ops:
        guid = "%02x" % n
        known = guid in directory
        if op == "add":
            if known:
                continue
            directory[guid] = ("CN=U%d,%s" % (n, BASE), {"proxyAddresses": values, "userAccountControl": ["512"]})
            run(directory, objects, guid, directory[guid][1])
        elif not known:
            continue
        elif op == "delete":
            run(directory, objects, guid, {"proxyAddresses": None}, deleted=True)
            del directory[guid]
        elif op in ("move_out", "move_in"):
            directory[guid] = ("CN=U%d,%s" % (n, OUTSIDE if op == "move_out" else BASE), directory[guid][1])
            run(directory, objects, guid, {"name": ["U%d" % n]})
        else:
            name, new = {
                "addresses": ("proxyAddresses", values),
                "clear": ("proxyAddresses", None),
                "disable": ("userAccountControl", ["514"]),
                "enable": ("userAccountControl", ["512"]),
                "mail": ("mail", [values[0].partition(":")[2]]),
            }[op]
            if new is None:
                directory[guid][1].pop(name, None)
            else:
                directory[guid][1][name] = new
            run(directory, objects, guid, {name: new})
    expected = full_export(directory, include_mail, exclude_disabled)
    rendered_objects = {
        guid: dict(record, attributes={k: v for k, v in record["attributes"].items() if k != "mail" or include_mail})
        for guid, record in objects.items()
    }
    got = RecipientCollector(DOMAINS)
    dr.render(rendered_objects, [BASE], got, exclude_disabled)
    assert sorted(got.addresses) == sorted(expected.addresses)
    assert got.refused_count == expected.refused_count
    assert got.dropped_by_domain == expected.dropped_by_domain
