# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One page of directory entries as the export needs them, and handing it to the collector.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

Both ways of receiving a search (the wire reader, ldap3's own response
dicts) end in a RawPage; feed_page hands its values to a RecipientCollector
a page at a time and counts what the page held.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.mailrelay.exchange.plugins.module_utils import _system_mailboxes as system_mailboxes
from ansible_collections.mailrelay.exchange.plugins.module_utils._ldap_errors import ProtocolError

UAC_ACCOUNTDISABLE = 2
TYPED_ATTRIBUTES = ("proxyaddresses", "targetaddress")
UAC_ATTRIBUTE = "userAccountControl"


def decode(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _values(raw_attributes, name):
    for key, values in raw_attributes.items():
        if decode(key).lower() == name:
            return [decode(v) for v in values]
    return []


def is_disabled(raw_attributes):
    for value in _values(raw_attributes, UAC_ATTRIBUTE.lower()):
        try:
            if int(value) & UAC_ACCOUNTDISABLE:
                return True
        except ValueError:
            continue
    return False


def decode_values(values):
    """``values`` (bytes) as text; undecodable bytes become U+FFFD, which validation refuses."""
    text = ascii_lines(values)
    if text is not None:
        # The common case in two C calls instead of one decode per value.
        return text.split("\n")
    return [decode(value) for value in values]


def ascii_lines(values):
    """``values`` (bytes) as one text, a value a line; None unless all are ASCII without a newline."""
    joined = b"\n".join(values)
    if joined.isascii() and joined.count(b"\n") == len(values) - 1:
        return joined.decode("ascii")
    return None


class _Source:
    """``DN (attribute)``, formatted only when a refusal is reported."""

    __slots__ = ("dn", "attribute")

    def __init__(self, dn, attribute):
        self.dn = dn
        self.attribute = attribute

    def __str__(self):
        return "%s (%s)" % (decode(self.dn), decode(self.attribute))


_TYPED_NAMES = frozenset(name.encode("ascii") for name in TYPED_ATTRIBUTES)
_EXPORTED_NAMES = _TYPED_NAMES | {b"mail"}
_RANGE_OPTION = b";range="


def parse_range(name):
    """(attribute, next start or None) of a ranged attribute name such as ``proxyaddresses;range=0-1499``.

    AD returns at most MaxValRange values of an attribute per entry (1500 by
    default) and names them ``<attribute>;range=<low>-<high>``; ``<high>`` is
    ``*`` for the last part. Returns (None, None) for a name that is not a
    range of an exported attribute. ``name`` is lower-case bytes.
    """
    attribute, _sep, span = name.partition(_RANGE_OPTION)
    if attribute not in _EXPORTED_NAMES:
        return None, None
    low, dash, high = span.partition(b"-")
    if not (dash and low.isdigit() and (high == b"*" or high.isdigit()) and (high == b"*" or int(high) >= int(low))):
        raise ProtocolError("attribute %r: not a value range (expected ;range=<low>-<high> or <low>-*)" % decode(name))
    return attribute, None if high == b"*" else int(high) + 1


class RawPage:
    """The entries of one page as the export needs them.

    Values are kept per kind (typed ``TYPE:address`` values and plain ``mail``
    values) in flat lists, each value with the index of its (DN, attribute) in
    ``owners``, so the collector can check a whole page at once and still name
    the entry a refused value came from.

    ``system_rule`` (dn, attributes) -> reason or None, when system mailboxes
    are excluded: such entries go to ``system`` as (dn, reason), not their values.
    """

    __slots__ = (
        "entries", "disabled", "typed", "typed_owner", "plain", "plain_owner", "owners", "references",
        "system_rule", "system", "ranged",
    )

    def __init__(self, system_rule=None):
        self.entries = 0
        self.disabled = 0
        self.typed = []
        self.typed_owner = []
        self.plain = []
        self.plain_owner = []
        self.owners = []
        self.references = []
        self.system_rule = system_rule
        self.system = []
        # (DN, attribute, next start or None) of every ranged attribute (see parse_range).
        self.ranged = []

    def add_entry(self, dn, attributes, exclude_disabled):
        """Add one entry: ``dn`` and ``attributes`` [(name, [value, ...]), ...], as bytes.

        A disabled account that is also a system mailbox counts as disabled.
        """
        self.entries += 1
        if exclude_disabled and is_disabled(dict(attributes)):
            self.disabled += 1
            return
        if self.system_rule is not None:
            reason = self.system_rule(dn, attributes)
            if reason:
                self.system.append((dn, reason))
                return
        for name, values in attributes:
            lowered = name.lower()
            if lowered in _TYPED_NAMES:
                target, owner = self.typed, self.typed_owner
            elif lowered == b"mail":
                target, owner = self.plain, self.plain_owner
            elif _RANGE_OPTION in lowered:
                lowered, next_start = parse_range(lowered)
                if lowered is None:
                    continue
                self.ranged.append((dn, lowered, next_start))
                target, owner = (self.typed, self.typed_owner) if lowered in _TYPED_NAMES else (self.plain, self.plain_owner)
            else:
                continue
            if values:
                owner += [len(self.owners)] * len(values)
                self.owners.append((dn, lowered))
                target += values

    def source_finder(self, owner):
        owners = self.owners

        def source_at(index):
            dn, attribute = owners[owner[index]]
            return _Source(dn, attribute)

        return source_at


class ExportStats:
    def __init__(self):
        self.pages = 0
        self.entries = 0
        self.disabled_skipped = 0
        self.references = []
        # Entries whose values came in ranges, and the searches that read the rest.
        self.ranged_entries = 0
        self.range_searches = 0
        self.system_skipped = 0
        # The first system_mailboxes.SAMPLE_LIMIT of them: {"dn": ..., "reason": ...}.
        self.system_sample = []


def feed_page(page, collector, stats):
    """Hand one RawPage to a RecipientCollector."""
    stats.entries += page.entries
    stats.disabled_skipped += page.disabled
    stats.references.extend(page.references)
    if page.system:
        stats.system_skipped += len(page.system)
        room = system_mailboxes.SAMPLE_LIMIT - len(stats.system_sample)
        stats.system_sample.extend(dict(dn=decode(dn), reason=reason) for dn, reason in page.system[:room])
    _feed(page.typed, page.source_finder(page.typed_owner), collector.add_typed_lines, collector.add_typed_batch)
    _feed(page.plain, page.source_finder(page.plain_owner), collector.add_plain_lines, collector.add_plain_batch)


def _feed(values, source_at, add_lines, add_batch):
    """Hand ``values`` (bytes) on as one text where they are plain ASCII lines, else decoded one by one."""
    text = ascii_lines(values)
    if text is None:
        add_batch([decode(value) for value in values], source_at)
    else:
        add_lines(text, len(values), lambda index: values[index].decode("ascii"), source_at)


def page_of_responses(entries, exclude_disabled, system_rule=None):
    """A RawPage from ldap3's response dicts (the path without the wire reader)."""
    page = RawPage(system_rule)
    for entry in entries:
        if entry.get("type") == "searchResRef":
            page.references.extend(entry.get("uri") or [])
        elif entry.get("type") == "searchResEntry":
            raw = entry.get("raw_attributes") or {}
            attributes = [(key.encode("utf-8"), [bytes(v) for v in values]) for key, values in raw.items()]
            page.add_entry(entry.get("dn", "").encode("utf-8"), attributes, exclude_disabled)
    return page


def feed_entries(entries, collector, stats, exclude_disabled, system_rule=None):
    """Feed one page of ldap3 response dicts into a RecipientCollector."""
    feed_page(page_of_responses(entries, exclude_disabled, system_rule), collector, stats)
