# -*- coding: utf-8 -*-
"""The DirSync state files: what a run may go on from, and why it must start again."""

import json
import os

from ansible_collections.mailrelay.exchange.plugins.module_utils import _dirsync_state as ds

SETTINGS = ds.settings_fingerprint(base="dc=corp", attributes=["proxyaddresses"], object_security=False)


def saved(directory, cookie=b"cookie-1", objects=None):
    state = ds.State()
    state.dns_host_name, state.invocation_id, state.settings = "DC1.corp.example.com", "aa11", SETTINGS
    state.cookie, state.map_sha256, state.entries = cookie, "f" * 64, 3
    state.objects = {"0a": {"dn": "CN=A,DC=corp", "attributes": {"proxyaddresses": ["SMTP:a@example.com"]}}} if objects is None else objects
    ds.save_snapshot(str(directory), state)
    return state


def test_no_state_means_a_full_resync_with_that_reason(tmp_path):
    state, reason, detail = ds.load(str(tmp_path))
    assert (reason, state.cookie, state.objects) == ("no_state", None, {})
    assert str(tmp_path) in detail


def test_a_saved_state_loads_back_whole_and_private(tmp_path):
    before = saved(tmp_path)
    state, reason, _detail = ds.load(str(tmp_path))
    assert reason is None
    assert state.snapshot() == before.snapshot()
    assert os.stat(os.path.join(str(tmp_path), ds.OBJECTS_FILE)).st_mode & 0o777 == 0o600


def test_a_broken_or_foreign_state_means_state_invalid(tmp_path):
    path = os.path.join(str(tmp_path), ds.OBJECTS_FILE)
    for text in ("{not json", json.dumps({"version": 99}), json.dumps({"version": 1, "objects": {}})):
        with open(path, "w") as stream:
            stream.write(text)
        state, reason, detail = ds.load(str(tmp_path))
        assert reason == "state_invalid" and state.objects == {} and path in detail


def test_a_newer_cookie_counts_only_over_its_own_snapshot(tmp_path):
    state = saved(tmp_path)
    state.cookie = b"cookie-2"
    ds.save_cookie(str(tmp_path), state)
    assert ds.load(str(tmp_path))[0].cookie == b"cookie-2"
    # A new snapshot (new generation) makes the cookie file stale: its own cookie counts.
    saved(tmp_path, cookie=b"cookie-3")
    assert ds.load(str(tmp_path))[0].cookie == b"cookie-3"


def test_a_cookie_file_that_cannot_be_read_leaves_the_snapshot_cookie(tmp_path):
    saved(tmp_path)
    with open(os.path.join(str(tmp_path), ds.COOKIE_FILE), "w") as stream:
        stream.write("garbage")
    state, reason, _detail = ds.load(str(tmp_path))
    assert reason is None and state.cookie == b"cookie-1"


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
