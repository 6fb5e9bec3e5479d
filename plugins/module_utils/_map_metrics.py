# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The metrics every build of a recipient map writes for node_exporter.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

``record_run(directory, outcome, refresh_interval, max_shrink_percent)`` is
called once at the end of a run with the module's result dict as ``outcome``
(``failed`` and ``failure_reason`` set when the run failed). It reads the
map's previous metrics file, works out the new values and replaces the file
atomically (see _textfile). The file is
``<directory>/mailrelay_recipient_map-<slug>.prom``, one per map path, so every
builder of one map (the refresh playbook, the timer, the push unit) writes the
same file. Call it while holding the map's build lock: the lock orders the
builders, so none loses another's counts.

Every sample carries the label ``map`` (the map path). A failed run counts
itself and sets the failure gauges; the last success's time and figures stay
as they were. A previous file that cannot be read is reported in the returned
warnings and the run starts from zeros (0 in a timestamp means never).

The reasons of a failure (label ``reason``), a fixed set:

- ``arguments``: the options are wrong or a required library is missing.
- ``lock``: another build of the map held its lock for longer than lock_timeout.
- ``directory``: the LDAP export failed or was incomplete (server, TLS, bind,
  result codes, references with fail_on_references).
- ``source_file``: the file source could not be read.
- ``upload_incomplete``: a pushed file without a matching end marker.
- ``gate``: the safety gate refused the new map.
- ``map_build``: sorting, comparing, postmap or the swap failed (disk, postmap).
- ``reload``: the map was installed but ``postfix reload`` failed.
- ``other``: anything else.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import math
import os
import re
import time

from ansible_collections.mailrelay.exchange.plugins.module_utils import _textfile as textfile

PREFIX = "mailrelay_recipient_map_"
FAILURE_REASONS = (
    "arguments",
    "lock",
    "directory",
    "source_file",
    "upload_incomplete",
    "gate",
    "map_build",
    "reload",
    "other",
)

# Figures of the last successful run: (metric suffix, result key, help).
SUCCESS_FIGURES = (
    ("entries", "entries", "Entries in the map the last successful run installed or found unchanged."),
    ("last_success_added", "added", "Entries the last successful run added."),
    ("last_success_removed", "removed", "Entries the last successful run removed."),
    ("last_success_refused_values", "refused_count", "Values the last successful run refused as addresses."),
    ("last_success_directory_entries", "ldap_entries", "Directory entries the last successful run read (0: a file)."),
    ("last_success_duration_seconds", "duration", "Duration of the last successful run."),
)

# (metric suffix, type, help) of the one-sample families, in the file's order.
_SCALARS = (
    ("last_run_timestamp_seconds", "gauge", "End of the last run, successful or not."),
    ("runs_total", "counter", "Runs that built or checked the map."),
    ("last_success_timestamp_seconds", "gauge", "End of the last successful run (0: never)."),
) + tuple((suffix, "gauge", text) for suffix, _key, text in SUCCESS_FIGURES) + (
    ("last_failure_timestamp_seconds", "gauge", "End of the last failed run (0: never)."),
    ("gate_refusals_total", "counter", "Runs whose safety gate did not pass (refused, or forced through)."),
    ("gate_last_refused_entries", "gauge", "Entries of the last new map the safety gate did not pass."),
    ("refresh_interval_seconds", "gauge", "How often the map is meant to be refreshed."),
    ("gate_max_shrink_ratio", "gauge", "Share of the live entries one run may remove (max_shrink_percent / 100)."),
)
_FAILURES = ("failures_total", "counter", "Failed runs by reason.")
_LAST_REASON = ("last_failure_reason", "gauge", "1 for the reason of the last failed run, 0 for the others.")

_SLUG = re.compile(r"[^A-Za-z0-9]+")


def metrics_path(directory, map_path):
    """The metrics file of ``map_path``: a readable slug and a hash, so no two maps share one."""
    slug = _SLUG.sub("_", map_path).strip("_")[:80] or "map"
    digest = hashlib.sha256(map_path.encode("utf-8")).hexdigest()[:8]
    return os.path.join(directory, "mailrelay_recipient_map-%s-%s.prom" % (slug, digest))


def initial_state():
    state = dict((suffix, 0) for suffix, _type, _help in _SCALARS)
    state["failures_total"] = dict((reason, 0) for reason in FAILURE_REASONS)
    state["last_failure_reason"] = None
    return state


def state_from_text(text, map_path):
    """The state a metrics file holds for ``map_path`` (others' samples are ignored).

    Raises TextfileError when the text cannot be read.
    """
    state = initial_state()
    for (name, labels), value in textfile.parse(text).items():
        labels = dict(labels)
        if labels.get("map") != map_path or not name.startswith(PREFIX):
            continue
        suffix = name[len(PREFIX):]
        reason = labels.get("reason")
        if suffix == _FAILURES[0] and reason in state["failures_total"]:
            state["failures_total"][reason] = value
        elif suffix == _LAST_REASON[0] and reason in FAILURE_REASONS:
            if value == 1:
                state["last_failure_reason"] = reason
        elif suffix in state and suffix not in ("failures_total", "last_failure_reason"):
            state[suffix] = value
    return state


def _is_number(value):
    """A real number: not a bool, not NaN."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and not math.isnan(value)


def _count(outcome, key):
    value = outcome.get(key)
    if not _is_number(value) or value < 0:
        raise ValueError("the run's outcome needs %s as a number of at least 0, got %r" % (key, value))
    return value


def _check_settings(refresh_interval, max_shrink_percent):
    if not _is_number(refresh_interval) or not refresh_interval > 0:
        raise ValueError("refresh_interval must be a number of seconds above 0, got %r" % (refresh_interval,))
    if not _is_number(max_shrink_percent) or not 0 <= max_shrink_percent <= 100:
        raise ValueError("max_shrink_percent must be a number from 0 to 100, got %r" % (max_shrink_percent,))


def map_label(outcome):
    """The map path of a run's outcome (its ``map_source``); ValueError when it has none."""
    if not isinstance(outcome, dict):
        raise ValueError("the run's outcome must be the module's result dict, got %s" % type(outcome).__name__)
    map_path = outcome.get("map_source")
    if not isinstance(map_path, str) or not os.path.isabs(map_path):
        raise ValueError("the run's outcome needs map_source, the absolute map path, got %r" % (map_path,))
    return map_path


def next_state(previous, outcome, now, refresh_interval, max_shrink_percent):
    """The state after a run with ``outcome``, from the ``previous`` state (not changed)."""
    map_label(outcome)
    _check_settings(refresh_interval, max_shrink_percent)
    failed = outcome.get("failed", False)
    if not isinstance(failed, bool):
        raise ValueError("the run's outcome has failed=%r; it must be true or false" % (failed,))
    state = dict(previous, failures_total=dict(previous["failures_total"]))
    gate = outcome.get("gate")
    if gate is not None and (not isinstance(gate, dict) or not isinstance(gate.get("passed"), bool)):
        raise ValueError("the run's outcome has a gate without passed true or false: %r" % (gate,))
    if failed:
        reason = outcome.get("failure_reason")
        if reason not in FAILURE_REASONS:
            raise ValueError(
                "a failed run needs failure_reason, one of %s; got %r" % (", ".join(FAILURE_REASONS), reason)
            )
        state["failures_total"][reason] += 1
        state["last_failure_reason"] = reason
        state["last_failure_timestamp_seconds"] = now
    else:
        for suffix, key, _help in SUCCESS_FIGURES:
            state[suffix] = _count(outcome, key)
        state["last_success_timestamp_seconds"] = now
    if gate is not None and not gate["passed"]:
        state["gate_refusals_total"] += 1
        state["gate_last_refused_entries"] = _count(gate, "new_count")
    state["runs_total"] += 1
    state["last_run_timestamp_seconds"] = now
    state["refresh_interval_seconds"] = refresh_interval
    state["gate_max_shrink_ratio"] = max_shrink_percent / 100.0
    return state


def families(state, map_path):
    """The metric families of ``state``, every reason listed so no series comes and goes."""
    label = (("map", map_path),)
    result = [
        textfile.Family(PREFIX + suffix, kind, text, ((label, state[suffix]),)) for suffix, kind, text in _SCALARS
    ]
    for suffix, kind, text in (_FAILURES, _LAST_REASON):
        samples = []
        for reason in FAILURE_REASONS:
            if suffix == _FAILURES[0]:
                value = state["failures_total"][reason]
            else:
                value = 1 if state["last_failure_reason"] == reason else 0
            samples.append((label + (("reason", reason),), value))
        result.append(textfile.Family(PREFIX + suffix, kind, text, tuple(samples)))
    return result


def record_run(directory, outcome, refresh_interval, max_shrink_percent, clock=time.time):
    """Write the metrics of a finished run into ``directory``; return (file path, warnings).

    Raises ValueError for an outcome or setting that is not as documented
    (nothing is written then) and OSError when the file cannot be written
    (the previous file is left as it was).
    """
    map_path = map_label(outcome)
    path = metrics_path(directory, map_path)
    warnings = []
    try:
        with open(path, encoding="utf-8") as stream:
            previous = state_from_text(stream.read(), map_path)
    except FileNotFoundError:
        previous = initial_state()
    except (OSError, UnicodeDecodeError, textfile.TextfileError) as exc:
        warnings.append(
            "the previous metrics file %s cannot be read (%s): counters start again from 0 and the last "
            "success is unknown until this map builds again" % (path, exc)
        )
        previous = initial_state()
    state = next_state(previous, outcome, round(clock(), 3), refresh_interval, max_shrink_percent)
    textfile.write_atomically(path, textfile.render(families(state, map_path)))
    return path, warnings
