# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DirSync state of a map: the objects seen, the cookie and the DC it belongs to.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

One SQLite database in the state directory, ``state.sqlite`` (0600), so that
a poll reads and writes only the objects it changed, never the whole state:

- ``header``: one JSON document: the cookie, the DC (``dnsHostName``,
  ``invocationId``) that gave it, the fingerprint of the settings that shaped
  the search, the hash and count of the map rendered from the objects, and
  ``render``: the fingerprint of the rendering settings and the totals of the
  rendering behind that map (see _dirsync_render.RenderTotals).
- ``objects``: object GUID -> JSON of the DN and the stored attributes.
- ``address_keys``: the addresses an object could put in the map
  (_dirsync_render.address_keys) -> its GUID, to find the other objects that
  still hold an address a changed object gave up.

A poll writes its changed objects and the new header in one transaction
(SQLite's journal makes it all or nothing); a full resync writes a new
database beside the old one and renames it into place. A state that is absent,
unreadable, of another version, from another DC or DC database
(``invocationId``), or made with other settings means a full resync; ``load``
and ``resync_reason`` say which one and why. A version 1 state (JSON files)
is ``state_invalid``; its files are removed by the first save.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import hashlib
import json
import os
import sqlite3

VERSION = 2
STATE_FILE = "state.sqlite"
# What version 1 kept, removed once a version 2 state is saved.
OLD_FILES = ("objects.json", "cookie.json")
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

_SCHEMA = (
    "CREATE TABLE header (id INTEGER PRIMARY KEY CHECK (id = 1), doc TEXT NOT NULL)",
    "CREATE TABLE objects (guid TEXT PRIMARY KEY, record TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE address_keys (key BLOB NOT NULL, guid TEXT NOT NULL, PRIMARY KEY (key, guid)) WITHOUT ROWID",
)


class StateError(Exception):
    """The state's database cannot be read or written (an sqlite3 error, named)."""


def _guarded(method):
    def call(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except sqlite3.Error as exc:
            raise StateError("%s: %s" % (type(exc).__name__, exc))

    call.__doc__ = method.__doc__
    return call


# SQLite's limit of parameters in one statement is 999 in older builds.
_CHUNK = 500


class State:
    """A DirSync state: its header in memory, its objects in ``db`` (None for an empty state)."""

    def __init__(self, db=None):
        self.db = db
        self.dns_host_name = None
        self.invocation_id = None
        self.settings = None
        self.cookie = None
        self.map_sha256 = None
        self.entries = None
        self.refused_count = 0
        self.render = None

    def header(self):
        return dict(
            version=VERSION,
            server=dict(dns_host_name=self.dns_host_name, invocation_id=self.invocation_id),
            settings=self.settings,
            cookie=encode_cookie(self.cookie),
            map=dict(sha256=self.map_sha256, entries=self.entries, refused_count=self.refused_count),
            render=self.render,
        )

    @_guarded
    def records(self, guids):
        """{guid: record} of those of ``guids`` the state holds."""
        return self._select("SELECT guid, record FROM objects WHERE guid IN (%s)", sorted(set(guids)))

    @_guarded
    def holders(self, keys, exclude=()):
        """{guid: record} of the objects with one of ``keys`` (see address_keys), but those in ``exclude``."""
        if self.db is None:
            return {}
        guids = set()
        for chunk in _chunks(sorted(_key_bytes(key) for key in keys)):
            rows = self.db.execute("SELECT guid FROM address_keys WHERE key IN (%s)" % ",".join("?" * len(chunk)), chunk)
            guids.update(guid for (guid,) in rows)
        return self.records(guids.difference(exclude))

    @_guarded
    def all_records(self):
        """{guid: record} of every object."""
        if self.db is None:
            return {}
        return dict((guid, json.loads(record)) for guid, record in self.db.execute("SELECT guid, record FROM objects"))

    @_guarded
    def count(self):
        if self.db is None:
            return 0
        return self.db.execute("SELECT count(*) FROM objects").fetchone()[0]

    def close(self):
        if self.db is not None:
            self.db.close()
            self.db = None

    def _select(self, query, guids):
        found = {}
        if self.db is None:
            return found
        for chunk in _chunks(guids):
            for guid, record in self.db.execute(query % ",".join("?" * len(chunk)), chunk):
                found[guid] = json.loads(record)
        return found


def _chunks(items):
    items = list(items)
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def _key_bytes(key):
    # A value that was not UTF-8 holds surrogates (see _dirsync_delta); they go in as they came.
    return key.encode("utf-8", "surrogatepass")


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


def _fill_header(state, data):
    """Set ``state``'s header from a parsed header document; ValueError when it is not one."""
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ValueError("not a version %d state" % VERSION)
    try:
        state.dns_host_name = data["server"]["dns_host_name"]
        state.invocation_id = data["server"]["invocation_id"]
        state.settings = data["settings"]
        state.cookie = decode_cookie(data["cookie"])
        state.map_sha256 = data["map"]["sha256"]
        state.entries = data["map"]["entries"]
        state.refused_count = data["map"].get("refused_count", 0)
        state.render = data.get("render")
    except (KeyError, TypeError, binascii.Error) as exc:
        raise ValueError("a field is missing or wrong: %s" % exc)
    if not state.cookie:
        raise ValueError("no cookie")


def load(directory):
    """(State, reason, detail): the saved state, or an empty one with the reason for a full resync.

    ``reason`` is None when the saved state can be used.
    """
    path = os.path.join(directory, STATE_FILE)
    if not os.path.exists(path):
        if os.path.exists(os.path.join(directory, OLD_FILES[0])):
            return State(), "state_invalid", "the DirSync state in %s is of version 1 (%s); version %d is %s" % (
                directory, OLD_FILES[0], VERSION, STATE_FILE)
        return State(), "no_state", "no DirSync state in %s yet" % directory
    db = None
    try:
        db = sqlite3.connect(path, isolation_level=None)
        state = State(db)
        row = db.execute("SELECT doc FROM header WHERE id = 1").fetchone()
        if row is None:
            raise ValueError("no header")
        _fill_header(state, json.loads(row[0]))
    except (sqlite3.Error, ValueError) as exc:
        if db is not None:
            db.close()
        return State(), "state_invalid", "the DirSync state %s cannot be used: %s" % (path, exc)
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


def _write(db, header, changes, before, key_of):
    """Put ``changes`` ({guid: record, or None for a deleted object}) and ``header`` in ``db``, in one transaction.

    ``before`` holds the records the changed objects had (to drop their old
    address keys); ``key_of(attributes)`` gives an object's address keys.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        for guid, record in changes.items():
            old = before.get(guid)
            if old is not None:
                db.executemany("DELETE FROM address_keys WHERE key = ? AND guid = ?",
                               [(_key_bytes(key), guid) for key in key_of(old["attributes"])])
            if record is None:
                db.execute("DELETE FROM objects WHERE guid = ?", (guid,))
                continue
            db.execute("INSERT OR REPLACE INTO objects (guid, record) VALUES (?, ?)",
                       (guid, json.dumps(record, sort_keys=True, separators=(",", ":"))))
            db.executemany("INSERT OR IGNORE INTO address_keys (key, guid) VALUES (?, ?)",
                           [(_key_bytes(key), guid) for key in key_of(record["attributes"])])
        db.execute("INSERT OR REPLACE INTO header (id, doc) VALUES (1, ?)", (json.dumps(header, sort_keys=True),))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


@_guarded
def save_changes(directory, state, changes, before, key_of):
    """Write the objects a poll changed and the new header into ``state``'s database (one transaction)."""
    _write(state.db, state.header(), changes, before, key_of)
    _remove_old_files(directory)


@_guarded
def save_all(directory, state, objects, key_of):
    """Write ``objects`` (every object) and the header as a new database, renamed over the old one.

    ``state`` then reads from the new database.
    """
    path = os.path.join(directory, STATE_FILE)
    scratch = path + ".new"
    for name in (scratch, scratch + "-journal"):
        if os.path.exists(name):
            os.unlink(name)
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    db = sqlite3.connect(scratch, isolation_level=None)
    try:
        for statement in _SCHEMA:
            db.execute(statement)
        _write(db, state.header(), objects, {}, key_of)
    finally:
        db.close()
    os.rename(scratch, path)
    state.close()
    state.db = sqlite3.connect(path, isolation_level=None)
    _remove_old_files(directory)


@_guarded
def save_cookie(state):
    """Move only the cookie of the saved state on (a poll that changed no object)."""
    state.db.execute("UPDATE header SET doc = ? WHERE id = 1", (json.dumps(state.header(), sort_keys=True),))


def _remove_old_files(directory):
    for name in OLD_FILES:
        try:
            os.unlink(os.path.join(directory, name))
        except FileNotFoundError:
            pass
