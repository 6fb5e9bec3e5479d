# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Building and swapping in a compiled Postfix lookup table.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

The new source and table are built in a private directory beside the live
ones and renamed into place, so that Postfix never opens a partly written table. The compiled
file is renamed first and the source second: the source is the record of what
is live, used by the next run to compare, so it must never claim more than the
compiled table holds. If a run dies between the two renames, the next run finds
an old source, sees a difference and builds again.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

from ansible_collections.mailrelay.exchange.plugins.module_utils._map_source import MAP_VALUE, MapDiff, map_key_batches

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


def _keep_previous(live, prev, scratch):
    """Make ``prev`` a copy of ``live`` (a hard link where possible), atomically.

    The copy is made at ``scratch``, a path in the run's work directory (the
    same file system), and renamed over ``prev``.
    """
    if not os.path.exists(live):
        return False
    try:
        os.link(live, scratch)
    except OSError:
        shutil.copy2(live, scratch)
    os.rename(scratch, prev)
    return True


# Building the new map source ------------------------------------------------
#
# The addresses stream into ``sort -u`` (C locale, a fixed memory buffer,
# spilling into the work directory), which writes the sorted, duplicate-free
# source. The module then never holds the address list: its memory stays flat
# however large the directory, and sort runs on a second core meanwhile.

SORT_BUFFER = "16M"
CHUNK = 1 << 20
# The pipe into sort holds a few pages of addresses (Linux's default is 64 KiB,
# less than one page), so the export does not stop whenever sort has no core.
PIPE_SIZE = 1 << 20
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031 if sys.platform.startswith("linux") else None)


def _c_locale():
    env = dict(os.environ)
    env["LC_ALL"] = "C"
    return env


class WorkDir:
    """A private directory beside the live map for everything a run writes.

    Named ``<map>.new.XXXXXX``; removed with all it holds when the run ends,
    whether the new map was installed or not: use it as a context manager.
    With ``beside`` false (check mode: nothing may be written beside the live
    map) it is ``<map>.check.XXXXXX`` in the system's temporary directory.
    """

    def __init__(self, map_path, beside=True):
        name = os.path.basename(map_path)
        try:
            if beside:
                self.path = tempfile.mkdtemp(prefix=name + ".new.", dir=os.path.dirname(map_path) or ".")
            else:
                self.path = tempfile.mkdtemp(prefix=name + ".check.")
        except OSError as exc:
            what = "cannot write beside %s" if beside else "cannot create a temporary directory for %s"
            raise MapBuildError("%s: %s" % (what % map_path, exc))

    def join(self, name):
        return os.path.join(self.path, name)

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.remove()


class SortedSource:
    """A map source written by ``sort -u`` from the addresses handed to update().

    ``path`` holds ``address<TAB>OK`` lines in byte order without duplicates
    once finish() has returned; a failure raises MapBuildError.
    """

    def __init__(self, work, name="source", sort_path="sort"):
        self.path = work.join(name)
        self._line_end = "\t%s\n" % MAP_VALUE
        # sort's messages come through a pipe, not a file: on a full disk a
        # file beside the map could not hold the message that says so.
        try:
            self._proc = subprocess.Popen(
                [sort_path, "-u", "-S", SORT_BUFFER, "-T", work.path, "-o", self.path],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=_c_locale(),
            )
        except OSError as exc:
            raise MapBuildError("cannot run sort: %s" % exc)
        widen_pipe(self._proc.stdin)

    def update(self, addresses):
        """Hand over a list of keys (lower case, without whitespace): a RecipientCollector's sink."""
        if not addresses or self._proc.stdin is None:
            return
        data = (self._line_end.join(addresses) + self._line_end).encode("utf-8")
        try:
            self._proc.stdin.write(data)
        except OSError:
            # sort has died; finish() reports why.
            self._close_input()

    def _close_input(self):
        stdin, self._proc.stdin = self._proc.stdin, None
        if stdin is not None:
            try:
                stdin.close()
            except OSError:
                pass

    def finish(self):
        self._close_input()
        # sort writes to stderr only when it fails, and then exits: reading
        # it to the end cannot block while sort waits for input.
        message = self._proc.stderr.read().decode("utf-8", "replace").strip()
        self._proc.stderr.close()
        rc = self._proc.wait()
        if rc != 0:
            raise MapBuildError("sort failed (rc=%s): %s" % (rc, message or "no message"))
        return self.path

    def abort(self):
        self._close_input()
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        self._proc.stderr.close()


def widen_pipe(stream):
    """Make the pipe behind ``stream`` PIPE_SIZE bytes where the system allows it; True if it did."""
    if F_SETPIPE_SZ is None:
        return False
    try:
        fcntl.fcntl(stream.fileno(), F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:
        # Above the system's pipe-max-size, or no such call: the default pipe only means more waiting.
        return False
    return True


def digest_and_count(path):
    """(sha256 hex digest, number of lines) of a file, read in chunks."""
    digest = hashlib.sha256()
    lines = 0
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK), b""):
            digest.update(chunk)
            lines += chunk.count(b"\n")
    return digest.hexdigest(), lines


def same_content(path_a, path_b):
    """True when both files exist and hold the same bytes."""
    try:
        if os.path.getsize(path_a) != os.path.getsize(path_b):
            return False
        with open(path_a, "rb") as stream_a, open(path_b, "rb") as stream_b:
            while True:
                chunk = stream_a.read(CHUNK)
                if chunk != stream_b.read(CHUNK):
                    return False
                if not chunk:
                    return True
    except FileNotFoundError:
        return False


def head_keys(path, limit):
    """The keys of the first ``limit`` lines of a sorted source."""
    keys = []
    if limit <= 0:
        return keys
    with open(path, "rb") as stream:
        for line in stream:
            keys.append(line.split(b"\t", 1)[0].decode("utf-8", "replace"))
            if len(keys) >= limit:
                break
    return keys


def normalise_live_source(live_path, work, key_batches=map_key_batches, sort_path="sort"):
    """The keys of the live source (any form a person might have left it in) as a sorted source.

    ``key_batches(stream)`` yields lists of lower-cased keys read from the
    open live source. Returns the path of the normalised copy.
    """
    normalised = SortedSource(work, "live", sort_path)
    try:
        with open(live_path, encoding="utf-8", errors="replace", newline="\n") as stream:
            for keys in key_batches(stream):
                normalised.update(keys)
    except BaseException:
        normalised.abort()
        raise
    return normalised.finish()


def compare_sources(old_path, new_path, limit, comm_path="comm"):
    """Added and removed keys between two sorted sources, via comm.

    Returns (added, removed, added_count, removed_count); the lists hold the
    first ``limit`` keys in order.
    """
    added, removed = [], []
    added_count = removed_count = 0
    try:
        proc = subprocess.Popen(
            [comm_path, "-3", old_path, new_path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_c_locale()
        )
    except OSError as exc:
        raise MapBuildError("cannot run comm: %s" % exc)
    with proc.stdout:
        for line in proc.stdout:
            if line.startswith(b"\t"):
                added_count += 1
                if len(added) < limit:
                    added.append(line[1:].split(b"\t", 1)[0].decode("utf-8", "replace"))
            else:
                removed_count += 1
                if len(removed) < limit:
                    removed.append(line.split(b"\t", 1)[0].decode("utf-8", "replace"))
    errors = proc.stderr.read().decode("utf-8", "replace").strip()
    proc.stderr.close()
    if proc.wait() != 0:
        raise MapBuildError("comm failed (rc=%s): %s" % (proc.returncode, errors))
    return added, removed, added_count, removed_count


def compare_with_live(work, map_path, new_source, new_count, limit):
    """(unchanged, live count or None, MapDiff) of the finished ``new_source`` against the live source.

    The live count is None when there is no live source (a first build).
    MapBuildError or OSError when the comparison cannot be made.
    """
    if not os.path.exists(map_path):
        return False, None, MapDiff(head_keys(new_source, limit), [], new_count, 0)
    if same_content(map_path, new_source):
        return True, new_count, MapDiff([], [], 0, 0)
    live = normalise_live_source(map_path, work)
    diff = MapDiff(*compare_sources(live, new_source, limit))
    # Both sources hold each key once: the live count follows from the difference.
    return False, new_count - diff.added_count + diff.removed_count, diff


def _fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def build_and_swap(map_path, map_type, new_source, compile_map, set_attributes, backup):
    """Compile the finished source ``new_source`` and swap both into ``map_path``.

    ``new_source`` lies in a WorkDir beside ``map_path`` (the same file
    system, so the renames are atomic). ``compile_map(type_and_path)`` runs
    postmap and returns (rc, stdout, stderr); with ``compile_map`` None only
    the source is installed (a staging copy on a host without Postfix).
    ``set_attributes(path)`` applies mode and ownership to a new file before it
    is renamed. Returns the list of backup paths written. Raises MapBuildError;
    what is left in the work directory is removed with it.
    """
    try:
        _fsync(new_source)
        new_compiled = None
        if compile_map is not None:
            new_compiled = compiled_path(new_source, map_type)
            rc, out, err = compile_map("%s:%s" % (map_type, new_source))
            if rc != 0 or not os.path.exists(new_compiled):
                raise MapBuildError("postmap failed (rc=%s): %s" % (rc, (err or out).strip()))
            set_attributes(new_compiled)
        set_attributes(new_source)
        written = []
        if backup:
            prev_source, prev_compiled = backup_paths(map_path, map_type)
            work = os.path.dirname(new_source)
            if compile_map is not None and _keep_previous(
                compiled_path(map_path, map_type), prev_compiled, os.path.join(work, "previous-table")
            ):
                written.append(prev_compiled)
            if _keep_previous(map_path, prev_source, os.path.join(work, "previous-source")):
                written.append(prev_source)
        if compile_map is not None:
            os.rename(new_compiled, compiled_path(map_path, map_type))
        os.rename(new_source, map_path)
        return written
    except OSError as exc:
        raise MapBuildError("cannot write the map beside %s: %s" % (map_path, exc))
