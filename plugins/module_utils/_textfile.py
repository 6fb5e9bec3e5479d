# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A file for node_exporter's textfile collector: its text and how it is replaced.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

node_exporter reads every ``*.prom`` file of its textfile directory at each
scrape, in the Prometheus text exposition format. A file is replaced by a
rename from a temporary file in the same directory whose name does not end in
``.prom``, so a scrape sees the old file or the new one, never a partly
written one. ``parse`` reads back what ``render`` wrote (samples without
timestamps); it is not a parser for every exposition a client library may
produce.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import tempfile
from collections import namedtuple

# samples: ((labels, value), ...), labels a tuple of (name, value) pairs.
Family = namedtuple("Family", ["name", "type", "help", "samples"])

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)\Z")
_LABEL = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"[ \t]*(?:,|\Z)')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


class TextfileError(ValueError):
    """The text is not a metrics file as ``render`` writes it."""


def _escape(value):
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _format_value(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TextfileError("a sample value must be a number, not %r" % (value,))
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        value = int(value)  # what was read back as 5120.0 is written as 5120 again
    return repr(value) if isinstance(value, float) else str(value)


def render(families):
    """The exposition text of ``families``, in the order given."""
    lines = []
    for family in families:
        if not _NAME.match(family.name):
            raise TextfileError("not a metric name: %r" % (family.name,))
        lines.append("# HELP %s %s" % (family.name, family.help.replace("\\", "\\\\").replace("\n", "\\n")))
        lines.append("# TYPE %s %s" % (family.name, family.type))
        for labels, value in family.samples:
            text = ",".join('%s="%s"' % (name, _escape(label)) for name, label in labels)
            lines.append("%s%s %s" % (family.name, "{%s}" % text if text else "", _format_value(value)))
    return "\n".join(lines) + "\n"


def _labels(text, lineno):
    labels, pos = [], 0
    while pos < len(text):
        match = _LABEL.match(text, pos)
        if match is None:
            raise TextfileError("line %d: cannot read the labels %r" % (lineno, text))
        value = re.sub(r"\\.", lambda m: _UNESCAPE.get(m.group(0), m.group(0)), match.group(2))
        labels.append((match.group(1), value))
        pos = match.end()
    return tuple(labels)


def parse(text):
    """{(name, labels): value} of every sample in ``text``; comments are skipped.

    Raises TextfileError, naming the line, when a line is not a sample, a
    comment or blank, or a value is not a number.
    """
    samples = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match is None:
            raise TextfileError("line %d is not a sample: %r" % (lineno, line[:120]))
        try:
            value = float(match.group(3))
        except ValueError:
            raise TextfileError("line %d: the value %r is not a number" % (lineno, match.group(3)))
        samples[(match.group(1), _labels(match.group(2) or "", lineno))] = value
    return samples


def write_atomically(path, text, mode=0o644):
    """Replace ``path`` with ``text``: temporary file beside it, fsync, rename, fsync the directory.

    The temporary name starts with a dot and does not end in ``.prom``, so the
    collector never reads it. On any error it is removed and ``path`` is left
    as it was.
    """
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fchmod(stream.fileno(), mode)
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
