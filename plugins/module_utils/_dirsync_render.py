# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rendering the recipients of a DirSync state, as the full export would read them.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

The state holds every person, group and public folder of the naming context
(see _dirsync_search.SYNC_FILTER); the full export reads the entries under its
base DNs that match ``(proxyAddresses=smtp:*)``. ``render`` picks the same
entries (the DN under a base DN, an ``smtp:`` value in any case) and hands
them to the collector through the same RawPage as the export, so the disabled
account and system mailbox rules, validation and de-duplication are the
export's own: the map is the full export's, byte for byte.

A poll does not render the whole state again: ``render`` over the changed
objects as they were and as they are now gives what they took out of the map
and put in; an address they gave up leaves the map only when no other object
renders it (``address_keys`` finds those that could), see _map_patch.
``RenderTotals`` carries the counts of the whole rendering (refused values,
other domains, disabled accounts, ...) from one poll to the next, so a poll's
result reports them as a full rendering would.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from collections import Counter

from ansible_collections.mailrelay.exchange.plugins.module_utils._collector import RecipientCollector
from ansible_collections.mailrelay.exchange.plugins.module_utils._ldap_page import TYPED_ATTRIBUTES, ExportStats, RawPage, feed_page

BATCH = 1000
_SEPARATOR = re.compile(r"\s*,\s*")


def normalise_dn(dn):
    """A DN compared by suffix: lower case, no blanks around the commas."""
    return _SEPARATOR.sub(",", dn.strip()).lower()


def under(dn, bases):
    """Whether ``dn`` is one of the normalised ``bases`` or below one."""
    dn = normalise_dn(dn)
    return any(dn == base or dn.endswith("," + base) for base in bases)


def is_exported(attributes):
    """What ``(proxyAddresses=smtp:*)`` matches: a value starting with smtp: in any case."""
    return any(value[:5].lower() == "smtp:" for value in attributes.get("proxyaddresses", ()))


def _encoded(attributes):
    return [
        (name.encode("ascii"), [value.encode("utf-8", "surrogateescape") for value in values])
        for name, values in sorted(attributes.items())
    ]


def render(objects, base_dns, collector, exclude_disabled, system_rule=None):
    """Feed the exported objects of ``objects`` to ``collector``; return the ExportStats (entries: objects fed)."""
    bases = [normalise_dn(base) for base in base_dns]
    stats = ExportStats()
    page = RawPage(system_rule)
    for guid in sorted(objects):
        record = objects[guid]
        attributes = record["attributes"]
        if not is_exported(attributes) or not under(record["dn"], bases):
            continue
        page.add_entry(record["dn"].encode("utf-8", "surrogateescape"), _encoded(attributes), exclude_disabled)
        if page.entries >= BATCH:
            feed_page(page, collector, stats)
            page = RawPage(system_rule)
    feed_page(page, collector, stats)
    return stats


def address_keys(attributes):
    """Every address a rendering of ``attributes`` could put in the map (lower case, before validation).

    The collector keys an ``smtp:`` value (any case) by what follows the prefix
    and a ``mail`` value by itself, lower-cased; validation only refuses, so a
    rendered address is always one of these.
    """
    keys = set()
    for name, values in attributes.items():
        if name in TYPED_ATTRIBUTES:
            keys.update(value[5:].lower() for value in values if value[:5].lower() == "smtp:")
        elif name == "mail":
            keys.update(value.lower() for value in values)
    return keys


class RenderTotals:
    """The counts of a whole rendering that a result reports, kept in the state between polls."""

    FIELDS = ("exported", "disabled", "system", "refused")

    def __init__(self, exported=0, disabled=0, system=0, refused=0, dropped_by_domain=None, ignored_by_type=None):
        self.exported, self.disabled, self.system, self.refused = exported, disabled, system, refused
        self.dropped_by_domain = Counter(dropped_by_domain or {})
        self.ignored_by_type = Counter(ignored_by_type or {})

    @classmethod
    def of(cls, stats, collector):
        """The totals of a rendering: its ExportStats (entries: objects fed) and its collector."""
        return cls(stats.entries, stats.disabled_skipped, stats.system_skipped, collector.refused_count,
                   collector.dropped_by_domain, collector.ignored_by_type)

    @classmethod
    def from_dict(cls, data):
        return cls(**data)

    def as_dict(self):
        data = dict((name, getattr(self, name)) for name in self.FIELDS)
        data.update(dropped_by_domain=dict(self.dropped_by_domain), ignored_by_type=dict(self.ignored_by_type))
        return data

    def moved(self, before, after):
        """These totals with the rendering ``before`` taken out and ``after`` put in."""
        moved = RenderTotals(*[getattr(self, name) - getattr(before, name) + getattr(after, name) for name in self.FIELDS])
        for name in ("dropped_by_domain", "ignored_by_type"):
            counter = getattr(self, name) - getattr(before, name)
            counter.update(getattr(after, name))
            setattr(moved, name, +counter)
        return moved


class Rendering:
    """``render`` of some objects into a set: ``addresses``, ``stats``, ``collector``, ``totals``."""

    def __init__(self, objects, base_dns, domains, refused_limit, exclude_disabled, system_rule=None):
        self.collector = RecipientCollector(domains, refused_limit)
        self.stats = render(objects, base_dns, self.collector, exclude_disabled, system_rule)
        self.addresses = self.collector.addresses
        self.totals = RenderTotals.of(self.stats, self.collector)


def map_change(before, after, holders_of, render_of):
    """What changed objects do to the map: (addresses out, addresses in, Rendering before, Rendering after).

    ``before`` and ``after`` ({guid: record}) are the changed objects as they
    were and as they are now; ``render_of(objects)`` renders some objects
    (a Rendering); ``holders_of(addresses, exclude)`` gives the other objects
    whose address keys hold one of ``addresses``. An address the changed
    objects gave up goes out unless one of those others still renders it;
    every address they render now goes in (the map holds each once).
    """
    was, now = render_of(before), render_of(after)
    gave_up = was.addresses - now.addresses
    # The state holds the changed objects as they were: they are not asked again.
    still = render_of(holders_of(gave_up, set(before))).addresses if gave_up else set()
    return gave_up - still, now.addresses, was, now
