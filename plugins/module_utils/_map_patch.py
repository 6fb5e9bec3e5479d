# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A new map source made from the live one by taking keys out and putting keys in.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

A DirSync poll knows which addresses its changes took out of the map and put
in (_dirsync_render); rendering and sorting the whole state again would give
the same file at a cost that grows with the directory. ``patch_source`` writes
that file from the live source instead: the live source is a map source as
SortedSource writes it (``address<TAB>OK`` lines in C-locale byte order, each
key once), so keeping its other lines in their order and merging the new ones
in gives the bytes ``sort -u`` would give. The caller must know that the live
source is such a file (DirSync: its sha256 is the one the state rendered).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import bisect
import hashlib
from collections import namedtuple

from ansible_collections.mailrelay.exchange.plugins.module_utils._map_source import MAP_VALUE, MapDiff

Patched = namedtuple("Patched", ["sha256", "count", "diff", "present"])
Patched.__doc__ = """What patch_source wrote: sha256 and line count of the new source, the MapDiff
against the live one (its lists hold the first ``limit`` keys in order), and those of the
``watch`` keys the new source holds, lower-cased as the collector notes them."""

_SUFFIX = ("\t%s" % MAP_VALUE).encode("ascii")


def _line(key):
    return key.encode("utf-8") + _SUFFIX


def patch_source(live_path, new_path, remove, add, limit, watch=()):
    """Write ``new_path``: the source at ``live_path`` without the keys ``remove``, with the keys ``add``.

    Keys are lower-case addresses as the collector accepts them. A key of
    ``remove`` that is not in the live source, or of ``add`` that is already
    there, changes nothing (and is not in the diff); a key in both is added.
    Returns Patched.
    """
    with open(live_path, "rb") as stream:
        data = stream.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    gone = set(_line(key) for key in remove).difference(_line(key) for key in add)
    at = sorted(index for index in (_find(lines, line) for line in gone) if index is not None)
    removed_lines = [lines[index] for index in at]
    if at:
        # The lines between the removed ones, copied slice by slice.
        kept = []
        start = 0
        for index in at:
            kept.extend(lines[start:index])
            start = index + 1
        kept.extend(lines[start:])
    else:
        kept = lines
    new = []
    for line in sorted(set(_line(key) for key in add)):
        if not _has(kept, line):
            new.append(line)
    if new:
        kept = kept + new
        # Two sorted runs: Python's sort merges them in linear time.
        kept.sort()
    text = b"\n".join(kept) + b"\n" if kept else b""
    with open(new_path, "wb") as stream:
        stream.write(text)
    present = set(key.lower() for key in watch if _has(kept, _line(key.lower())))
    diff = MapDiff(_keys(new[:limit]), _keys(removed_lines[:limit]), len(new), len(removed_lines))
    return Patched(hashlib.sha256(text).hexdigest(), len(kept), diff, present)


def _find(lines, line):
    """The index of ``line`` in the sorted ``lines``, or None."""
    at = bisect.bisect_left(lines, line)
    return at if at < len(lines) and lines[at] == line else None


def _has(lines, line):
    return _find(lines, line) is not None


def _keys(lines):
    return [line[: -len(_SUFFIX)].decode("utf-8") for line in lines]
