# -*- coding: utf-8 -*-
"""The DirSync state database: what a run may go on from, why it must start again, and what a poll writes."""

import os
import sqlite3

import pytest

from ansible_collections.mailrelay.exchange.plugins.module_utils import _dirsync_state as ds
from ansible_collections.mailrelay.exchange.plugins.module_utils._dirsync_render import address_keys

SETTINGS = ds.settings_fingerprint(base="dc=corp", attributes=["proxyaddresses"], object_security=False)


def record(dn, *values):
    return {"dn": dn, "attributes": {"proxyaddresses": list(values)}}


OBJECTS = {
    "0a": record("CN=A,DC=corp", "SMTP:a@example.com", "smtp:shared@example.com"),
    "0b": record("CN=B,DC=corp", "SMTP:shared@example.com"),
    "0c": record("CN=C,DC=corp", "smtp:c@example.com"),
}


def saved(directory, cookie=b"cookie-1", objects=None):
    state = ds.State()
    state.dns_host_name, state.invocation_id, state.settings = "DC1.corp.example.com", "aa11", SETTINGS
    state.cookie, state.map_sha256, state.entries = cookie, "f" * 64, 3
    state.render = {"fingerprint": "r1", "totals": {"exported": 3}}
    ds.save_all(str(directory), state, dict(OBJECTS) if objects is None else objects, address_keys)
    state.close()
    return state


def test_no_state_means_a_full_resync_with_that_reason(tmp_path):
    state, reason, detail = ds.load(str(tmp_path))
    assert (reason, state.cookie, state.all_records(), state.count()) == ("no_state", None, {}, 0)
    assert str(tmp_path) in detail


def test_a_saved_state_loads_back_whole_and_private(tmp_path):
    before = saved(tmp_path)
    state, reason, _detail = ds.load(str(tmp_path))
    assert reason is None
    assert state.header() == before.header()
    assert state.all_records() == OBJECTS and state.count() == 3
    assert state.records(["0b", "zz"]) == {"0b": OBJECTS["0b"]}
    assert os.stat(os.path.join(str(tmp_path), ds.STATE_FILE)).st_mode & 0o777 == 0o600


def test_holders_are_the_other_objects_whose_keys_hold_an_address(tmp_path):
    saved(tmp_path)
    state = ds.load(str(tmp_path))[0]
    assert set(state.holders({"shared@example.com"})) == {"0a", "0b"}
    assert set(state.holders({"shared@example.com"}, exclude={"0a"})) == {"0b"}
    assert state.holders({"nobody@example.com"}) == {}


def test_a_poll_writes_its_changed_objects_and_their_keys_in_one_go(tmp_path):
    saved(tmp_path)
    state = ds.load(str(tmp_path))[0]
    before = state.records(["0a", "0c"])
    changed = record("CN=A2,DC=corp", "SMTP:a2@example.com")
    state.cookie = b"cookie-2"
    ds.save_changes(str(tmp_path), state, {"0a": changed, "0c": None, "0d": record("CN=D,DC=corp", "smtp:d@example.com")},
                    before, address_keys)
    again = ds.load(str(tmp_path))[0]
    assert again.cookie == b"cookie-2"
    assert again.all_records() == {"0a": changed, "0b": OBJECTS["0b"], "0d": record("CN=D,DC=corp", "smtp:d@example.com")}
    # The old keys of a changed or deleted object are gone, the new ones there.
    assert set(again.holders({"shared@example.com"})) == {"0b"}
    assert again.holders({"c@example.com"}) == {}
    assert set(again.holders({"a2@example.com", "d@example.com"})) == {"0a", "0d"}


def test_a_failed_write_leaves_the_state_as_it_was(tmp_path):
    saved(tmp_path)
    state = ds.load(str(tmp_path))[0]
    state.cookie = b"cookie-2"

    def broken_keys(attributes):
        raise RuntimeError("in the middle of the transaction")

    with pytest.raises(RuntimeError):
        ds.save_changes(str(tmp_path), state, {"0c": None}, state.records(["0c"]), broken_keys)
    again = ds.load(str(tmp_path))[0]
    assert again.cookie == b"cookie-1" and again.all_records() == OBJECTS


def test_a_cookie_alone_moves_on_without_the_objects(tmp_path):
    saved(tmp_path)
    state = ds.load(str(tmp_path))[0]
    state.cookie = b"cookie-2"
    ds.save_cookie(state)
    again = ds.load(str(tmp_path))[0]
    assert again.cookie == b"cookie-2" and again.all_records() == OBJECTS


def test_a_full_resync_replaces_every_object_and_removes_version_1_files(tmp_path):
    for name in ds.OLD_FILES:
        (tmp_path / name).write_text("{}")
    state, reason, detail = ds.load(str(tmp_path))
    assert reason == "state_invalid" and "version 1" in detail
    saved(tmp_path)
    saved(tmp_path, cookie=b"cookie-3", objects={"0c": OBJECTS["0c"]})
    state = ds.load(str(tmp_path))[0]
    assert state.cookie == b"cookie-3" and state.all_records() == {"0c": OBJECTS["0c"]}
    assert state.holders({"shared@example.com"}) == {}
    assert sorted(os.listdir(str(tmp_path))) == [ds.STATE_FILE]


def test_a_broken_or_foreign_state_means_state_invalid(tmp_path):
    path = os.path.join(str(tmp_path), ds.STATE_FILE)
    with open(path, "w") as stream:
        stream.write("not a database")
    state, reason, detail = ds.load(str(tmp_path))
    assert reason == "state_invalid" and state.count() == 0 and path in detail
    os.unlink(path)
    saved(tmp_path)
    db = sqlite3.connect(path)
    db.execute("UPDATE header SET doc = ?", ('{"version": 1}',))
    db.commit()
    db.close()
    assert ds.load(str(tmp_path))[1] == "state_invalid"


def test_a_database_error_after_loading_is_a_state_error(tmp_path):
    saved(tmp_path)
    state = ds.load(str(tmp_path))[0]
    state.db.execute("DROP TABLE objects")
    with pytest.raises(ds.StateError, match="objects"):
        state.records(["0a"])


def test_another_dc_another_invocation_id_or_other_settings_mean_a_full_resync(tmp_path):
    state = saved(tmp_path)
    assert ds.resync_reason(state, "dc1.CORP.example.com", "aa11", SETTINGS) == (None, None)
    reason, detail = ds.resync_reason(state, "dc2.corp.example.com", "aa11", SETTINGS)
    assert reason == "dc_changed" and "DC1.corp.example.com" in detail and "dc2.corp.example.com" in detail
    assert ds.resync_reason(state, "dc1.corp.example.com", "bb22", SETTINGS)[0] == "invocation_id_changed"
    other = ds.settings_fingerprint(base="dc=corp", attributes=["mail", "proxyaddresses"], object_security=False)
    assert ds.resync_reason(state, "dc1.corp.example.com", "aa11", other)[0] == "settings_changed"


def test_every_reason_returned_is_a_known_metrics_label():
    assert {"no_state", "state_invalid", "settings_changed", "dc_changed", "invocation_id_changed"} <= set(ds.RESYNC_REASONS)
