# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The safety gate: may a new map of this many entries replace the live one?

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

GateResult = namedtuple("GateResult", ["passed", "forced", "reasons", "old_count", "new_count", "removed_percent"])


def default_must_exist(domains):
    return ["postmaster@%s" % domain for domain in domains]


def check_gate(old_count, new_count, removed_count, min_entries, max_shrink_percent, missing, force, orphan_table=False):
    """Decide whether a new map of ``new_count`` entries may replace the live map.

    ``old_count`` is None when there is no live map source (first build): the
    shrink check then has nothing to compare with, so the first build needs an
    explicit ``min_entries``; None means 1 once a live map exists. Shrink is the share of live
    entries that would disappear, so a map whose content was swapped for other
    addresses of the same count is caught as well. ``missing`` lists the
    required addresses the new map lacks.
    """
    reasons = []
    if min_entries is None:
        if old_count is None and not orphan_table:
            reasons.append(
                "first build: there is no live map to compare with, so only a floor can catch a wrong base DN or "
                "filter; set min_entries (role: relay_recipients_min_entries) to the fewest entries this map may "
                "have (this export found %d)" % new_count
            )
        min_entries = 1
    if new_count < min_entries:
        reasons.append("%d entries, fewer than the minimum of %d" % (new_count, min_entries))
    removed_percent = 0.0
    if old_count:
        removed_percent = round(100.0 * removed_count / old_count, 2)
        if removed_percent > max_shrink_percent:
            reasons.append(
                "%d of %d live entries (%.2f%%) would be removed, more than the maximum of %g%%"
                % (removed_count, old_count, removed_percent, max_shrink_percent)
            )
    if orphan_table:
        reasons.append("a compiled table exists without its source, so the shrink cannot be checked")
    missing = sorted(a.lower() for a in missing)
    if missing:
        reasons.append("required addresses missing: %s" % ", ".join(missing))
    passed = not reasons
    return GateResult(passed, bool(reasons) and force, reasons, old_count, new_count, removed_percent)


def gate_message(gate, outcome="live map kept"):
    return "safety gate failed (%s): old count %s, new count %d: %s" % (
        outcome,
        "none" if gate.old_count is None else gate.old_count,
        gate.new_count,
        "; ".join(gate.reasons),
    )
