# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Collect the relay's recipient addresses from a stream of raw values.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

Every source (the directory, a pushed file) hands its values to a
RecipientCollector, which keeps the valid addresses of the relay domains,
counts and samples the refusals, and counts the rest by domain or type.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import Counter, namedtuple
from itertools import compress
from operator import itemgetter, not_

from ansible_collections.mailrelay.exchange.plugins.module_utils._address import address_problem, batch_patterns, split_typed, type_problem

Refusal = namedtuple("Refusal", ["source", "value", "reason"])


class RecipientCollector:
    """Accumulate valid relay addresses from a stream of raw values.

    Accepted addresses go to ``sink``: anything with ``update(list of
    addresses)``, by default an in-memory set, also named ``addresses``. Refusals are counted in full
    but kept only up to ``refused_limit`` examples; of the addresses in
    ``watch``, those accepted are noted in ``watched``, so the safety gate can
    check required addresses without the collector keeping the rest.
    """

    def __init__(self, domains, refused_limit=100, sink=None, watch=()):
        self.domains = frozenset(d.lower() for d in domains)
        self.refused_limit = refused_limit
        self.sink = set() if sink is None else sink
        self.watch = frozenset(a.lower() for a in watch)
        self.watched = set()
        self.refused = []
        self.refused_count = 0
        self.dropped_by_domain = Counter()
        self.ignored_by_type = Counter()
        self.values_seen = 0
        self._smtp_batch, self._plain_batch = batch_patterns(self.domains)

    @property
    def addresses(self):
        """The accepted addresses, when they are kept in memory (the default sink); else None."""
        return self.sink if isinstance(self.sink, set) else None

    def refuse(self, source, value, reason):
        """Count a refusal; ``source`` may be any object, formatted here only when kept."""
        self.refused_count += 1
        if len(self.refused) < self.refused_limit:
            self.refused.append(Refusal(str(source), value, reason))

    def add_typed(self, value, source):
        """Add a ``TYPE:address`` value; only the SMTP type is an address."""
        self.values_seen += 1
        self._add_typed(value, source)

    def _add_typed(self, value, source):
        addr_type, address = split_typed(value)
        if addr_type is None:
            self.refuse(source, value, "no address type prefix (expected SMTP:...)")
            return
        # "smtp" in any case is well formed: the common case skips type_problem.
        is_smtp = addr_type.lower() == "smtp"
        problem = None if is_smtp else type_problem(addr_type)
        if problem:
            # " SMTP:user@..." must be reported, not counted as a foreign type.
            self.refuse(source, value, problem)
        elif not is_smtp:
            self.ignored_by_type[addr_type.upper()] += 1
        else:
            self._add(address, value, source)

    def add_plain(self, value, source):
        """Add a bare address (``mail`` attribute, list or CSV source)."""
        self.values_seen += 1
        self._add_plain(value, source)

    def _add_plain(self, value, source):
        self._add(value, value, source)

    def _add(self, address, raw, source):
        problem = address_problem(address)
        if problem:
            self.refuse(source, raw, problem)
            return
        address = address.lower()
        domain = address.rpartition("@")[2]
        if domain not in self.domains:
            self.dropped_by_domain[domain] += 1
            return
        self._send([address])

    def add_typed_batch(self, values, source_at):
        """add_typed for a list of values; ``source_at(i)`` is the source of ``values[i]``.

        The same outcome as one add_typed per value, with the common cases (a
        well-formed ``smtp:`` address, a value of another type such as X500,
        SIP or EUM) sorted out for the whole batch in one regular-expression
        scan, and so are addresses of domains that are not relayed; only the
        rest are looked at one by one.
        """
        self._add_batch(values, source_at, self._smtp_batch, self._add_typed)

    def add_plain_batch(self, values, source_at):
        """add_plain for a list of values, as add_typed_batch."""
        self._add_batch(values, source_at, self._plain_batch, self._add_plain)

    def add_typed_lines(self, text, count, value_at, source_at):
        """add_typed_batch for ``count`` values that are already one text, a value a line.

        No value may hold a newline (the caller counted them); ``value_at(i)``
        is the i-th value, asked for only when it has to be looked at alone.
        """
        self._add_lines(text, count, value_at, source_at, self._smtp_batch, self._add_typed)

    def add_plain_lines(self, text, count, value_at, source_at):
        """add_plain_batch for values that are already one text, as add_typed_lines."""
        self._add_lines(text, count, value_at, source_at, self._plain_batch, self._add_plain)

    def _add_batch(self, values, source_at, pattern, add_one):
        count = len(values)
        text = "\n".join(values)
        if text.count("\n") == count - 1:
            self._add_lines(text, count, values.__getitem__, source_at, pattern, add_one)
            return
        # A value holds a newline: one line is not one value.
        self.values_seen += count
        for index, value in enumerate(values):
            add_one(value, source_at(index))

    def _add_lines(self, text, count, value_at, source_at, pattern, add_one):
        if not count:
            return
        self.values_seen += count
        # ASCII so that lower() changes only A-Z, and no empty value (an empty
        # line, which the scan cannot tell apart): otherwise one by one.
        if pattern is None or not text.isascii() or not text or text[0] == "\n" or text[-1] == "\n" or "\n\n" in text:
            for index in range(count):
                add_one(value_at(index), source_at(index))
            return
        # One (address, other domain, type) triple per value: see batch_patterns.
        found = pattern.findall(text.lower())
        addresses = list(filter(None, map(itemgetter(0), found)))
        if len(addresses) != count:
            domains = Counter(filter(None, map(itemgetter(1), found)))
            self.dropped_by_domain.update(domains)
            types = Counter(filter(None, map(itemgetter(2), found)))
            for addr_type, seen in types.items():
                self.ignored_by_type[addr_type.upper()] += seen
            if len(addresses) + sum(domains.values()) + sum(types.values()) != count:
                for index in compress(range(count), map(not_, map(any, found))):
                    add_one(value_at(index), source_at(index))
        self._send(addresses)

    def _send(self, addresses):
        """Hand accepted addresses of the relay domains to the sink."""
        if addresses:
            if self.watch:
                self.watched.update(self.watch.intersection(addresses))
            self.sink.update(addresses)

    def sorted_addresses(self):
        return sorted(self.addresses)

    def refused_as_dicts(self):
        return [r._asdict() for r in self.refused]
