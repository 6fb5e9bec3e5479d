# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The metrics of the DirSync polls of a map, beside the map's own (see _map_metrics).

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

``record_poll(directory, map_path, poll, failed, clock)`` replaces
``<directory>/mailrelay_recipient_dirsync-<slug>.prom`` after every DirSync
run that is not in check mode; the counters go on from the previous file.
Call it while holding the map's build lock. ``poll`` is the module's
``dirsync`` result (objects changed and deleted, the full resync reason, the
held removals).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.mailrelay.exchange.plugins.module_utils import _textfile as textfile
from ansible_collections.mailrelay.exchange.plugins.module_utils._dirsync_state import RESYNC_REASONS
from ansible_collections.mailrelay.exchange.plugins.module_utils._map_metrics import metrics_path

PREFIX = "mailrelay_recipient_dirsync_"
SCALARS = (
    ("last_success_timestamp_seconds", "gauge", "End of the last successful DirSync poll (0: never)."),
    ("last_poll_timestamp_seconds", "gauge", "End of the last DirSync poll, successful or not."),
    ("polls_total", "counter", "DirSync polls run."),
    ("poll_failures_total", "counter", "DirSync polls that failed (a held delta counts too)."),
    ("changes_applied_total", "counter", "Directory objects changed or deleted by successful polls."),
    ("last_entries_read", "gauge", "Directory entries the last poll read."),
    ("held_removals", "gauge", "Addresses a held delta would remove now (0: nothing held)."),
)
RESYNCS = ("full_resyncs_total", "counter", "Full resyncs (a DirSync pass from no cookie), by reason.")


def poll_metrics_path(directory, map_path):
    return metrics_path(directory, map_path).replace("mailrelay_recipient_map-", "mailrelay_recipient_dirsync-", 1)


def _previous(path, map_path):
    state = dict((name, 0) for name, _type, _help in SCALARS)
    state.update(("resync:" + reason, 0) for reason in RESYNC_REASONS)
    try:
        with open(path, encoding="utf-8") as stream:
            samples = textfile.parse(stream.read())
    except FileNotFoundError:
        return state
    for (name, labels), value in samples.items():
        labels = dict(labels)
        if labels.get("map") != map_path or not name.startswith(PREFIX):
            continue
        suffix = name[len(PREFIX):]
        if suffix == RESYNCS[0] and labels.get("reason") in RESYNC_REASONS:
            state["resync:" + labels["reason"]] = value
        elif suffix in state:
            state[suffix] = value
    return state


def next_state(state, poll, failed, now):
    """The metrics after a poll with result ``poll`` (the module's ``dirsync`` dict)."""
    state = dict(state)
    state["polls_total"] += 1
    state["last_poll_timestamp_seconds"] = now
    state["last_entries_read"] = poll.get("entries_read") or 0
    state["held_removals"] = poll.get("held_removals") or 0
    if poll.get("full_resync") and poll.get("reason") in RESYNC_REASONS:
        state["resync:" + poll["reason"]] += 1
    if failed:
        state["poll_failures_total"] += 1
    else:
        state["last_success_timestamp_seconds"] = now
        state["changes_applied_total"] += (poll.get("objects_changed") or 0) + (poll.get("objects_deleted") or 0)
    return state


def families(state, map_path):
    label = (("map", map_path),)
    result = [textfile.Family(PREFIX + name, kind, text, ((label, state[name]),)) for name, kind, text in SCALARS]
    samples = tuple((label + (("reason", reason),), state["resync:" + reason]) for reason in RESYNC_REASONS)
    result.append(textfile.Family(PREFIX + RESYNCS[0], RESYNCS[1], RESYNCS[2], samples))
    return result


def record_poll(directory, map_path, poll, failed, clock=time.time):
    """Write the poll's metrics; return the file path. OSError or TextfileError when it cannot be done."""
    path = poll_metrics_path(directory, map_path)
    state = next_state(_previous(path, map_path), poll, failed, round(clock(), 3))
    textfile.write_atomically(path, textfile.render(families(state, map_path)))
    return path
