# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ranges numeric options of relay_recipient_map may take.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

An argument_spec checks types only; a negative page size or a shrink limit
of 250 % would pass it and then fail later or mean nothing. Each range here
is what the option can mean, and a value outside it gets a message that says so.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# option: (lowest, highest, what the bounds mean)
RANGES = {
    "min_entries": (1, None, "a map is never empty"),
    "max_shrink_percent": (0, 100, "a share of the live entries"),
    "page_size": (1, 100000, "entries a page; AD's MaxPageSize is 1000 by default"),
    "timeout": (1, 3600, "seconds"),
    "diff_limit": (0, 1000000, "addresses listed"),
    "refused_limit": (0, 1000000, "values listed"),
    "lock_timeout": (0, 3600, "seconds"),
    "refresh_interval": (60, 31 * 86400, "seconds between two scheduled builds"),
    "dirsync_max_removals": (0, 1000000, "addresses a DirSync poll may remove"),
    "dirsync_approve_removals": (0, 1000000, "addresses a held DirSync poll may remove"),
}


def range_problems(params):
    """Messages for the options in ``params`` whose value lies outside its range (None is not checked)."""
    problems = []
    for name, (low, high, meaning) in sorted(RANGES.items()):
        value = params.get(name)
        if value is None:
            continue
        if value < low or (high is not None and value > high):
            bounds = "at least %s" % low if high is None else "from %s to %s" % (low, high)
            problems.append("%s must be %s (%s), not %s" % (name, bounds, meaning, value))
    return problems
