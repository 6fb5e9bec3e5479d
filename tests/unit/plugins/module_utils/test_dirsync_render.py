# -*- coding: utf-8 -*-
"""Rendering a DirSync state: the address keys, the totals, and a poll's change to the map."""

import random

from ansible_collections.mailrelay.exchange.plugins.module_utils import _dirsync_render as dr
from ansible_collections.mailrelay.exchange.plugins.module_utils import _dirsync_state as ds
from ansible_collections.mailrelay.exchange.plugins.module_utils import _postfix_map as pm
from ansible_collections.mailrelay.exchange.plugins.module_utils._collector import RecipientCollector
from ansible_collections.mailrelay.exchange.plugins.module_utils._dirsync_delta import Change, apply_changes
from ansible_collections.mailrelay.exchange.plugins.module_utils._map_patch import patch_source

BASES = ["OU=Mail,DC=corp"]
DOMAINS = ["example.com", "example.org"]


def test_address_keys_are_every_smtp_and_mail_value_lower_cased():
    attributes = {"proxyaddresses": ["SMTP:A@Example.com", "x500:/o=x", "smtp:b@example.org", " smtp:c@example.com"],
                  "targetaddress": ["SMTP:T@example.net"], "mail": ["M@Example.com"], "useraccountcontrol": ["514"]}
    assert dr.address_keys(attributes) == {"a@example.com", "b@example.org", "t@example.net", "m@example.com"}


def test_totals_move_by_what_was_taken_out_and_put_in():
    totals = dr.RenderTotals(10, 2, 1, 5, {"other.net": 3}, {"X500": 7})
    before = dr.RenderTotals(2, 1, 0, 1, {"other.net": 3}, {"X500": 2})
    after = dr.RenderTotals(1, 0, 1, 2, {"else.net": 1}, {"X500": 1, "SIP": 1})
    moved = totals.moved(before, after)
    assert moved.as_dict() == dict(exported=9, disabled=1, system=2, refused=6, dropped_by_domain={"else.net": 1},
                                   ignored_by_type={"X500": 6, "SIP": 1})
    assert dr.RenderTotals.from_dict(moved.as_dict()).as_dict() == moved.as_dict()


def full_source(tmp_path, objects):
    """The map source and totals a whole rendering of ``objects`` gives, through the full export's sort."""
    work = pm.WorkDir(str(tmp_path / "full"))
    source = pm.SortedSource(work)
    collector = RecipientCollector(DOMAINS, sink=source)
    stats = dr.render(objects, BASES, collector, True)
    with open(source.finish(), "rb") as stream:
        data = stream.read()
    work.remove()
    return data, dr.RenderTotals.of(stats, collector)


def random_record(rng, n):
    values = []
    for _unused in range(rng.randint(0, 3)):
        values.append(rng.choice([
            "SMTP:user%d@example.com" % rng.randint(0, 30),   # shared between objects now and then
            "smtp:Alias%d@Example.org" % rng.randint(0, 30),
            "smtp:x%d@other.net" % n,                          # a domain not relayed
            "X500:/o=corp/cn=%d" % n,                          # another type
            "smtp:bad address%d@example.com" % n,              # refused
        ]))
    attributes = {"proxyaddresses": values} if values else {}
    if rng.random() < 0.2:
        attributes["useraccountcontrol"] = ["514"]
    parent = rng.choice(["OU=Mail,DC=corp", "OU=Mail,DC=corp", "OU=Other,DC=corp"])
    return "CN=o%d,%s" % (n, parent), attributes


def test_a_sequence_of_polls_patches_the_map_a_whole_rendering_gives(tmp_path):
    rng = random.Random(12)
    objects = {}
    for n in range(60):
        dn, attributes = random_record(rng, n)
        objects["%04x" % n] = {"dn": dn, "attributes": attributes}
    state = ds.State()
    state.cookie = b"c"
    data, totals = full_source(tmp_path, objects)
    live = tmp_path / "live"
    live.write_bytes(data)
    ds.save_all(str(tmp_path), state, objects, dr.address_keys)

    def render_of(some):
        return dr.Rendering(some, BASES, DOMAINS, 100, True)

    for poll in range(40):
        changes = []
        for guid in rng.sample(sorted(objects) + ["%04x" % n for n in range(60, 80)], rng.randint(1, 8)):
            if guid in objects and rng.random() < 0.25:
                changes.append(Change(guid, "CN=x,CN=Deleted Objects,DC=corp", {}, True))
            elif guid in objects and rng.random() < 0.3:
                # A partial change, as DirSync sends it: one attribute only.
                changes.append(Change(guid, objects[guid]["dn"], {"useraccountcontrol": [rng.choice(["512", "514"])]}, False))
            else:
                dn, attributes = random_record(rng, int(guid, 16))
                changes.append(Change(guid, dn, dict(attributes, proxyaddresses=attributes.get("proxyaddresses")), False))
        before = state.records(change.guid for change in changes)
        after = dict(before)
        apply_changes(after, changes)
        out, into, was, now = dr.map_change(before, after, state.holders, render_of)
        new = tmp_path / "new"
        patched = patch_source(str(live), str(new), out, into, 100)
        apply_changes(objects, changes)
        expected, expected_totals = full_source(tmp_path, objects)
        assert new.read_bytes() == expected, "poll %d" % poll
        totals = totals.moved(was.totals, now.totals)
        assert totals.as_dict() == expected_totals.as_dict(), "poll %d" % poll
        writes = dict((guid, after.get(guid)) for guid in set(before) | set(after) if after.get(guid) != before.get(guid))
        ds.save_changes(str(tmp_path), state, writes, before, dr.address_keys)
        live.write_bytes(new.read_bytes())
        assert patched.count == expected.count(b"\n")
    state.close()
