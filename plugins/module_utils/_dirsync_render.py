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
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.mailrelay.exchange.plugins.module_utils._ldap_page import ExportStats, RawPage, feed_page

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
