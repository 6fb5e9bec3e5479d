# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The end marker of a pushed recipient file. Private to mailrelay.exchange.

The uploader (``extras/windows/Export-RelayRecipients.ps1``) ends the file with
one line::

    #mailrelay-end lines=<N> sha256=<hex>

where N is the number of lines before it and hex the SHA-256 of every byte
before it. A transfer cut short has no such line, or one that does not match
the bytes before it, so it is never built from. The readers skip the line as a
comment, so a marked file is still a valid file for them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import re

MARKER_FORMAT = "#mailrelay-end lines=%d sha256=%s\n"
_MARKER = re.compile(rb"#mailrelay-end lines=([0-9]{1,12}) sha256=([0-9a-f]{64})\r?\n?\Z")
# A marker line is under 110 bytes; the tail read to find it is a little longer.
_TAIL = 256
_CHUNK = 1 << 20


class EndMarkerError(ValueError):
    """The file is not a complete upload: no end marker, or one that does not match."""


def format_marker(body):
    """The end marker line of ``body`` (bytes): what the uploader appends."""
    return MARKER_FORMAT % (body.count(b"\n"), hashlib.sha256(body).hexdigest())


def split_tail(tail, whole):
    """(offset of the last line in ``tail``, that line) of a file's last bytes.

    ``whole`` says the tail is the whole file; otherwise a last line that fills
    the tail is too long to be a marker and is returned as None.
    """
    end = len(tail) - 1 if tail.endswith(b"\n") else len(tail)
    start = tail.rfind(b"\n", 0, end) + 1
    if start == 0 and not whole:
        return len(tail), None
    return start, tail[start:]


def parse_marker(line):
    """(lines, sha256) from a marker line, or None when it is not one."""
    match = _MARKER.match(line or b"")
    if match is None:
        return None
    return int(match.group(1)), match.group(2).decode("ascii")


def snapshot(src, dest):
    """Copy the part of ``src`` before its end marker to ``dest`` and check it.

    Returns (lines, sha256) of the copy. Raises EndMarkerError when the file
    has no marker or its bytes do not match it (cut short, or rewritten while
    read), OSError when it cannot be read or the copy cannot be written.
    Building from the copy, never from ``src``, means a new upload arriving
    during the build cannot mix into it.
    """
    with open(src, "rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        tail_size = min(size, _TAIL)
        stream.seek(size - tail_size)
        offset, line = split_tail(stream.read(tail_size), tail_size == size)
        marker = parse_marker(line)
        if marker is None:
            raise EndMarkerError(
                "%s has no end marker ('#mailrelay-end lines=N sha256=...' as its last line; it ends with %s): "
                "the upload is incomplete or its uploader does not write the marker (Export-RelayRecipients.ps1 does; "
                "a legacy uploader needs the explicit option to accept unmarked files)" % (src, _shown(line))
            )
        body_size = size - tail_size + offset
        stream.seek(0)
        digest, lines, copied = hashlib.sha256(), 0, 0
        with open(dest, "wb") as out:
            while copied < body_size:
                chunk = stream.read(min(_CHUNK, body_size - copied))
                if not chunk:
                    break
                digest.update(chunk)
                lines += chunk.count(b"\n")
                out.write(chunk)
                copied += len(chunk)
    found = (lines, digest.hexdigest())
    if copied != body_size or found != marker:
        raise EndMarkerError(
            "%s does not match its end marker: the marker says %d lines, sha256 %s; the %d bytes before it hold "
            "%d lines, sha256 %s: the upload is incomplete or was rewritten while it was read"
            % (src, marker[0], marker[1], copied, found[0], found[1])
        )
    return found


def _shown(line):
    if line is None:
        return "a line too long to be a marker"
    if not line:
        return "nothing (the file is empty)"
    return repr(line.rstrip(b"\r\n").decode("utf-8", "replace")[:80])
