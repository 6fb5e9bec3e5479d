# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Postfix's socketmap protocol: netstrings in, netstrings out (socketmap_table(5)).

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

A request is the netstring ``"<name> <key>"``; the reply is the netstring
``"OK <value>"``, ``"NOTFOUND "``, ``"TEMP <reason>"`` or ``"PERM <reason>"``.
Postfix keeps a connection open for many requests. Only the standard library
is imported: the role installs this file beside its service script.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Postfix refuses socketmap replies over 100000 bytes; requests are far smaller.
MAX_LENGTH = 100000


class NetstringError(ValueError):
    """Bytes that are not a netstring, or one longer than MAX_LENGTH."""


def encode(text):
    data = text.encode("utf-8")
    if len(data) > MAX_LENGTH:
        raise NetstringError("netstring of %d bytes is longer than %d" % (len(data), MAX_LENGTH))
    return b"%d:%s," % (len(data), data)


def decode(buffer):
    """Return (payload bytes, rest) of the first netstring in ``buffer``, or (None, buffer) if it is incomplete."""
    colon = buffer.find(b":")
    if colon < 0:
        if len(buffer) > len(str(MAX_LENGTH)) or (buffer and not buffer.isdigit()):
            raise NetstringError("no length before ':' in %r" % buffer[:20])
        return None, buffer
    digits = buffer[:colon]
    if not digits.isdigit() or (len(digits) > 1 and digits.startswith(b"0")):
        raise NetstringError("bad netstring length %r" % digits[:20])
    length = int(digits)
    if length > MAX_LENGTH:
        raise NetstringError("netstring of %d bytes is longer than %d" % (length, MAX_LENGTH))
    end = colon + 1 + length
    if len(buffer) < end + 1:
        return None, buffer
    if buffer[end:end + 1] != b",":
        raise NetstringError("netstring of %d bytes does not end with ','" % length)
    return buffer[colon + 1:end], buffer[end + 1:]


def parse_request(payload):
    """Return (map name, key) of a request payload."""
    text = payload.decode("utf-8", "replace")
    name, sep, key = text.partition(" ")
    if not sep or not name or not key:
        raise NetstringError("a socketmap request is '<name> <key>', not %r" % text[:80])
    return name, key


def reply(status, value=""):
    if status not in ("OK", "NOTFOUND", "TEMP", "PERM"):
        raise ValueError("unknown socketmap status %r" % status)
    # One line: a reason with a newline would break Postfix's log lines.
    return encode("%s %s" % (status, " ".join(str(value).split())))
