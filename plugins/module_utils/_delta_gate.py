# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Holding the removals of a directory delta: the gate's extra check for DirSync polls.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

A full export is checked by the share of live entries it would remove
(_gate). A delta is small by nature, so a delta that removes many
addresses at once (a deleted OU, a wrong script, an account without the
rights to see some objects any more) is held by a count: more than
``max_removals`` addresses fail the gate, the live map keeps them and the
state is not moved on. ``approved`` applies a delta that removes at most that
many (the operator repeats the number the failure named, so a larger
deletion is not approved by mistake); a full resync applies them under the
full export's own gate.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

LISTED = 20


def hold_reason(removed_count, removed_sample, max_removals, approved):
    """Why a delta removing ``removed_count`` addresses is held, or None when it may go on."""
    if removed_count <= max_removals or removed_count <= approved:
        return None
    named = ", ".join(removed_sample[:LISTED])
    if removed_count > len(removed_sample[:LISTED]):
        named += ", ..."
    return (
        "held: this directory delta would remove %d addresses, more than dirsync_max_removals %d (%s); "
        "apply it with dirsync_approve_removals=%d, or let the next full resync apply it"
        % (removed_count, max_removals, named, removed_count)
    )


def with_hold(gate, reason, force):
    """The GateResult ``gate`` with the hold ``reason`` added (None: unchanged)."""
    if reason is None:
        return gate
    return gate._replace(passed=False, forced=force, reasons=list(gate.reasons) + [reason])
