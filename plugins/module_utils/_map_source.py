# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The text of a Postfix map source: its keys, and the two sides of a diff.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from collections import namedtuple

MAP_VALUE = "OK"

# Lines as postmap reads them: only "\n" ends a line, and a line that starts
# with whitespace continues the one before it (postmap(1): "A logical line
# starts with non-whitespace text"), so it holds no key. The key is the first
# field of a logical line that is not blank and not a comment.
_MAP_KEY = re.compile(r"^([^\s#]\S*)", re.M)


def parse_map_keys(text):
    """The keys of a Postfix map source (comments, blank and continuation lines skipped), lower-cased."""
    if text.isascii():
        # The common case (a source this module wrote): one scan in C.
        return _MAP_KEY.findall(text.lower())
    return _map_keys_line_by_line(text)


def _map_keys_line_by_line(text):
    keys = []
    for line in text.split("\n"):
        if line and not line[0].isspace() and not line.startswith("#"):
            keys.append(line.split(None, 1)[0].lower())
    return keys


def map_key_batches(stream, chunk_size=1 << 20):
    """parse_map_keys over an open map source, about ``chunk_size`` characters at a time."""
    while True:
        chunk = stream.read(chunk_size)
        if not chunk:
            return
        # Whole lines only: a line cut at the chunk boundary is finished first.
        chunk += stream.readline()
        yield parse_map_keys(chunk)


MapDiff = namedtuple("MapDiff", ["added", "removed", "added_count", "removed_count"])


def diff_text(count, addresses, total, verb):
    """One side of the Ansible diff: a count line, then the addresses."""
    lines = ["# %d entries" % count]
    lines.extend("%s\t%s" % (address, MAP_VALUE) for address in addresses)
    if total > len(addresses):
        lines.append("# ... and %d more %s" % (total - len(addresses), verb))
    return "\n".join(lines) + "\n"
