# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Building and swapping in a compiled Postfix lookup table.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

The table is compiled beside the live one under a temporary name and renamed
into place, so that Postfix never opens a partly written table. The compiled
file is renamed first and the source second: the source is the record of what
is live, used by the next run to compare, so it must never claim more than the
compiled table holds. If a run dies between the two renames, the next run finds
an old source, sees a difference and builds again.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import tempfile

SUFFIXES = {"cdb": ".cdb", "lmdb": ".lmdb", "hash": ".db"}


class MapBuildError(Exception):
    """The new table could not be built; the live one is untouched."""


def compiled_path(map_path, map_type):
    return map_path + SUFFIXES[map_type]


def backup_paths(map_path, map_type):
    """Where the previous good source and table are kept (a usable table name)."""
    prev = map_path + ".prev"
    return prev, compiled_path(prev, map_type)


def is_current(map_path, map_type):
    """True when the compiled table exists and is not older than its source."""
    try:
        return os.stat(compiled_path(map_path, map_type)).st_mtime >= os.stat(map_path).st_mtime
    except FileNotFoundError:
        return False


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _keep_previous(live, prev):
    """Make ``prev`` a copy of ``live`` (a hard link where possible), atomically."""
    if not os.path.exists(live):
        return False
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(prev) + ".", dir=os.path.dirname(prev))
    os.close(fd)
    try:
        os.unlink(tmp)
        try:
            os.link(live, tmp)
        except OSError:
            shutil.copy2(live, tmp)
        os.rename(tmp, prev)
    finally:
        _remove(tmp)
    return True


def _write_temp_source(map_path, source_text):
    directory = os.path.dirname(map_path) or "."
    fd, tmp_source = tempfile.mkstemp(prefix=os.path.basename(map_path) + ".new.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            stream.write(source_text)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        # A full disk fails the write: the half-written file must not keep the space.
        _remove(tmp_source)
        raise
    return tmp_source


def build_and_swap(map_path, map_type, source_text, compile_map, set_attributes, backup):
    """Compile ``source_text`` beside ``map_path`` and swap it in.

    ``compile_map(type_and_path)`` runs postmap and returns (rc, stdout, stderr);
    with ``compile_map`` None only the source is written (a staging copy on a
    host without Postfix). ``set_attributes(path)`` applies mode and ownership
    to a temporary file before it is renamed. Returns the list of backup paths
    written. Raises MapBuildError; every temporary file is removed on every path.
    """
    tmp_source = tmp_compiled = None
    try:
        tmp_source = _write_temp_source(map_path, source_text)
        if compile_map is not None:
            tmp_compiled = compiled_path(tmp_source, map_type)
            rc, out, err = compile_map("%s:%s" % (map_type, tmp_source))
            if rc != 0 or not os.path.exists(tmp_compiled):
                raise MapBuildError("postmap failed (rc=%s): %s" % (rc, (err or out).strip()))
            set_attributes(tmp_compiled)
        set_attributes(tmp_source)
        written = []
        if backup:
            prev_source, prev_compiled = backup_paths(map_path, map_type)
            if compile_map is not None and _keep_previous(compiled_path(map_path, map_type), prev_compiled):
                written.append(prev_compiled)
            if _keep_previous(map_path, prev_source):
                written.append(prev_source)
        if compile_map is not None:
            os.rename(tmp_compiled, compiled_path(map_path, map_type))
        os.rename(tmp_source, map_path)
        return written
    except OSError as exc:
        raise MapBuildError("cannot write the map beside %s: %s" % (map_path, exc))
    finally:
        # postmap writes <file>.tmp and renames it; a killed postmap leaves that behind.
        leftovers = (tmp_compiled, tmp_compiled + ".tmp") if tmp_compiled else ()
        for path in leftovers + ((tmp_source,) if tmp_source else ()):
            _remove(path)
