# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DirSync state of a map: the objects seen, the cookie and the DC it belongs to.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

Two files in the state directory, both replaced atomically (see _textfile):

- ``objects.json``, a snapshot: every object the DirSync passes returned
  (object GUID -> DN and the stored attributes), the cookie that follows
  them, the DC (``dnsHostName``, ``invocationId``) that gave the cookie,
  the fingerprint of the settings that shaped the search, and the hash and
  count of the map rendered from it. A snapshot gets a new random
  ``generation`` each time it is written.
- ``cookie.json``, a newer cookie over the same objects: a poll that changed
  no object moves only the cookie, without rewriting the snapshot. It counts
  only while its ``generation`` is the snapshot's.

A state that is absent, unreadable, of another version, from another DC or
DC database (``invocationId``), or made with other settings means a full
resync; ``load`` and ``resync_reason`` say which one and why.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import hashlib
import json
import os
import uuid

from ansible_collections.mailrelay.exchange.plugins.module_utils._textfile import write_atomically

VERSION = 1
OBJECTS_FILE = "objects.json"
COOKIE_FILE = "cookie.json"
# Why a run started again from an empty state (label ``reason`` of the metrics).
RESYNC_REASONS = (
    "no_state",
    "state_invalid",
    "settings_changed",
    "dc_changed",
    "invocation_id_changed",
    "cookie_refused",
    "requested",
)


class State:
    """A DirSync state in memory; ``objects`` maps a GUID (hex) to {"dn": ..., "attributes": {...}}."""

    def __init__(self):
        self.generation = None
        self.dns_host_name = None
        self.invocation_id = None
        self.settings = None
        self.cookie = None
        self.map_sha256 = None
        self.entries = None
        self.refused_count = 0
        self.objects = {}

    def snapshot(self):
        return dict(
            version=VERSION,
            generation=self.generation,
            server=dict(dns_host_name=self.dns_host_name, invocation_id=self.invocation_id),
            settings=self.settings,
            cookie=encode_cookie(self.cookie),
            map=dict(sha256=self.map_sha256, entries=self.entries, refused_count=self.refused_count),
            objects=self.objects,
        )


def encode_cookie(cookie):
    return None if cookie is None else base64.b64encode(cookie).decode("ascii")


def decode_cookie(text):
    if text is None:
        return None
    return base64.b64decode(text.encode("ascii"), validate=True)


def settings_fingerprint(**settings):
    """A short hash of the settings that decide what the state holds; another one means a full resync."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _state_from(data):
    """A State from a parsed snapshot; ValueError when it is not one."""
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ValueError("not a version %d state" % VERSION)
    state = State()
    try:
        state.generation = data["generation"]
        state.dns_host_name = data["server"]["dns_host_name"]
        state.invocation_id = data["server"]["invocation_id"]
        state.settings = data["settings"]
        state.cookie = decode_cookie(data["cookie"])
        state.map_sha256 = data["map"]["sha256"]
        state.entries = data["map"]["entries"]
        state.refused_count = data["map"].get("refused_count", 0)
        state.objects = data["objects"]
    except (KeyError, TypeError, binascii.Error) as exc:
        raise ValueError("a field is missing or wrong: %s" % exc)
    if not isinstance(state.objects, dict) or not state.cookie or not isinstance(state.generation, str):
        raise ValueError("no objects, cookie or generation")
    return state


def load(directory):
    """(State, reason, detail): the saved state, or an empty one with the reason for a full resync.

    ``reason`` is None when the saved state can be used.
    """
    path = os.path.join(directory, OBJECTS_FILE)
    try:
        with open(path, encoding="utf-8") as stream:
            state = _state_from(json.load(stream))
    except FileNotFoundError:
        return State(), "no_state", "no DirSync state in %s yet" % directory
    except (OSError, ValueError) as exc:
        return State(), "state_invalid", "the DirSync state %s cannot be used: %s" % (path, exc)
    try:
        with open(os.path.join(directory, COOKIE_FILE), encoding="utf-8") as stream:
            newer = json.load(stream)
        if isinstance(newer, dict) and newer.get("generation") == state.generation:
            state.cookie = decode_cookie(newer["cookie"]) or state.cookie
    except (OSError, ValueError, KeyError, TypeError, binascii.Error):
        pass  # the snapshot's own cookie is older but consistent with its objects
    return state, None, None


def resync_reason(state, dns_host_name, invocation_id, settings):
    """(reason, detail) when ``state`` cannot go on with the DC that answers now; (None, None) when it can."""
    if state.settings != settings:
        return "settings_changed", "the settings that shape the search changed (%s, was %s)" % (settings, state.settings)
    if (state.dns_host_name or "").lower() != (dns_host_name or "").lower():
        return "dc_changed", "the cookie is from %s, this run reads %s" % (state.dns_host_name, dns_host_name)
    if state.invocation_id != invocation_id:
        return "invocation_id_changed", "the invocationId of %s changed from %s to %s (restored or rebuilt DC)" % (
            dns_host_name, state.invocation_id, invocation_id,
        )
    return None, None


def save_snapshot(directory, state):
    """Write ``state`` as the new snapshot (a new generation); its older cookie file no longer counts."""
    state.generation = uuid.uuid4().hex
    text = json.dumps(state.snapshot(), sort_keys=True, separators=(",", ":"))
    write_atomically(os.path.join(directory, OBJECTS_FILE), text + "\n", mode=0o600)


def save_cookie(directory, state):
    """Move only the cookie of the saved snapshot on (a poll that changed no object)."""
    text = json.dumps(dict(generation=state.generation, cookie=encode_cookie(state.cookie)), sort_keys=True)
    write_atomically(os.path.join(directory, COOKIE_FILE), text + "\n", mode=0o600)
