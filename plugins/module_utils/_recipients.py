# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Recipient address logic for the relay recipient map.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

Everything here is plain Python without Ansible or LDAP imports, so that it can
be tested by pytest on its own: parsing of proxyAddresses values and of the
file sources, validation, domain filtering, the safety gate, rendering of the
Postfix map source, its content hash and the difference to the live map.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import csv
import re
import string
from collections import Counter, namedtuple
from itertools import compress
from operator import itemgetter, not_

from ansible_collections.mailrelay.exchange.plugins.module_utils._hosts import mail_domains
from ansible_collections.mailrelay.exchange.plugins.module_utils._postfix_map import MAP_VALUE

MAX_LOCAL_PART = 64
MAX_DOMAIN = 253
MAX_ADDRESS = 254
MAX_LABEL = 63

NON_ASCII_REASON = "non-ASCII address (SMTPUTF8 not supported)"

# RFC 5322 atext: the characters a dot-atom local part may carry unquoted.
_ATEXT = frozenset(string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~")
# Specials that are address syntax (RFC 5322) or break a line of a Postfix map source.
_SPECIALS = frozenset('"(),:;<>[]\\')
_LABEL_CHARS = frozenset(string.ascii_lowercase + string.digits + "-")

Refusal = namedtuple("Refusal", ["source", "value", "reason"])


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# The common case in one C-speed match: a dot-atom local part of at most 64
# characters not starting with '#', one '@', a domain of at most 253 characters
# in labels of at most 63, the whole at most 254. It accepts only what the
# checks below accept; anything else goes through them for the reason.
_PLAIN_ADDRESS = re.compile(
    r"(?=.{1,254}\Z)(?=[^@]{1,64}@)(?!#)%s(?:\.%s)*@(?=.{1,253}\Z)%s(?:\.%s)*\Z" % (_ATOM, _ATOM, _LABEL, _LABEL)
)


# Longer relay domains are left to the one-by-one checks: with them an address
# of a 64-character local part could pass the 254-character limit.
_BATCH_DOMAIN_MAX = MAX_ADDRESS - MAX_LOCAL_PART - 1


def batch_patterns(domains):
    """Regular expressions (typed, plain) that classify every line of a batch; (None, None) for no domain.

    A batch is a set of lower-cased ASCII values joined by newlines, one per
    line, none empty. Both patterns match once on every line, so findall gives
    one (address, other domain, type) triple per value, in order:
    - address: a typed ``smtp:`` value (typed pattern) or a plain address (plain
      pattern) of a relay domain, which _PLAIN_ADDRESS accepts;
    - other domain: the domain of such an address in a domain that is not relayed;
    - type: a value of another well-formed type than SMTP (typed pattern only:
      not empty, no whitespace or control character, see _type_problem), which
      is only counted by its type, whatever follows the ':'.
    All three are empty for everything else, which is left to the one-by-one
    checks. Matching each line whole means a scan never walks a line character
    by character looking for a match.
    """
    fast = sorted((d for d in domains if len(d) <= _BATCH_DOMAIN_MAX), key=len, reverse=True)
    if not fast:
        return None, None
    local = r"(?=[^@\n]{1,%d}@)(?!#)%s(?:\.%s)*@" % (MAX_LOCAL_PART, _ATOM, _ATOM)
    address = r"(%s(?:%s))$" % (local, "|".join(re.escape(domain) for domain in fast))
    if len(fast) == len(domains):
        other = r"(?=[^\n]{1,%d}$)%s(?=[^\n]{1,%d}$)(%s(?:\.%s)*)$" % (MAX_ADDRESS, local, MAX_DOMAIN, _LABEL, _LABEL)
    else:
        # A relay domain too long for the address pattern would be taken for another domain.
        other = r"(?!)()"
    return (
        re.compile(r"^(?:smtp:%s|smtp:%s|(?!smtp:)([^:\x00-\x20\x7f]+):[^\n]*|[^\n]*)" % (address, other), re.M),
        re.compile(r"^(?:%s|%s|()[^\n]*)" % (address, other), re.M),
    )


def address_problem(address):
    """Return why ``address`` cannot be a map key, or None when it is acceptable.

    The address is checked as given (no trimming, any case). Accepted addresses
    are plain ``dot-atom@domain`` in ASCII: quoted local parts, domain literals
    and internationalised (SMTPUTF8) addresses are refused.
    """
    if _PLAIN_ADDRESS.match(address):
        return None
    return _address_problem_detail(address)


def _address_problem_detail(address):
    for char in address:
        if ord(char) < 32 or ord(char) == 127 or 0x80 <= ord(char) < 0xA0:
            return "control character %r" % char
    for char in address:
        if char.isspace():
            return "whitespace %r" % char
    if any(ord(char) > 127 for char in address):
        return NON_ASCII_REASON
    ats = address.count("@")
    if ats == 0:
        return "no '@'"
    if ats > 1:
        return "more than one '@'"
    if len(address) > MAX_ADDRESS:
        return "address longer than %d characters" % MAX_ADDRESS
    local, domain = address.split("@")
    return _local_part_problem(local) or domain_problem(domain.lower())


def _local_part_problem(local):
    if not local:
        return "empty local part"
    if len(local) > MAX_LOCAL_PART:
        return "local part longer than %d characters" % MAX_LOCAL_PART
    for char in local:
        if char in _SPECIALS:
            return "character %r not allowed (address or map syntax)" % char
    if local.startswith("#"):
        return "local part starts with '#' (a comment in a map source)"
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return "misplaced '.' in local part"
    if not all(char in _ATEXT or char == "." for char in local):
        return "invalid character in local part"
    return None


def domain_problem(domain):
    """Return why a lower-case ``domain`` is not a valid host name, or None."""
    if not domain:
        return "empty domain"
    if len(domain) > MAX_DOMAIN:
        return "domain longer than %d characters" % MAX_DOMAIN
    for label in domain.split("."):
        if not label:
            return "empty label in domain"
        if len(label) > MAX_LABEL:
            return "domain label longer than %d characters" % MAX_LABEL
        if not set(label) <= _LABEL_CHARS:
            return "invalid character in domain label %r" % label
        if label.startswith("-") or label.endswith("-"):
            return "domain label %r starts or ends with '-'" % label
    return None


def split_typed(value):
    """Split a proxyAddresses-style value ``TYPE:address`` into (type, address).

    Returns (None, value) when there is no type prefix.
    """
    prefix, sep, rest = value.partition(":")
    if not sep:
        return None, value
    return prefix, rest


def _type_problem(addr_type):
    """Return why a type prefix is malformed (empty, whitespace, control characters), or None."""
    if not addr_type:
        return "empty address type"
    if any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in addr_type):
        return "address type %r has whitespace or control characters" % addr_type
    return None


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
        # "smtp" in any case is well formed: the common case skips _type_problem.
        is_smtp = addr_type.lower() == "smtp"
        problem = None if is_smtp else _type_problem(addr_type)
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

    def _add_batch(self, values, source_at, pattern, add_one):
        count = len(values)
        if not count:
            return
        self.values_seen += count
        text = "\n".join(values)
        # One value per line, and ASCII so that lower() changes only A-Z:
        # otherwise every value takes the one-by-one path.
        if pattern is None or "" in values or not text.isascii() or text.count("\n") != count - 1:
            for index, value in enumerate(values):
                add_one(value, source_at(index))
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
                    add_one(values[index], source_at(index))
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


def normalise_domains(domains):
    """Lower-case and check the relay domains; raise ValueError on a bad one.

    The same rules as the postfix_relay role's relay_domains (_hosts.mail_domains),
    so the module and the relay agree on which domains are relayed.
    """
    return mail_domains(domains)


# File sources. Each reader yields (source, value) pairs; ``name`` labels the
# source as ``name:line``. Only line endings are stripped: stray whitespace in a
# value is reported as a refusal, exactly as it would be from LDAP.

FILE_BATCH = 4096


def _lines(stream):
    """(line number, line without its end) of every line that is neither blank nor a comment."""
    for number, line in enumerate(stream, 1):
        line = line.rstrip("\r\n")
        if line.strip() and not line.lstrip().startswith("#"):
            yield number, line


def _batches(lines, name):
    """Cut (number, value) pairs into (values, source_at) batches; sources are ``name:line``."""
    numbers, values = [], []
    for number, value in lines:
        numbers.append(number)
        values.append(value)
        if len(values) >= FILE_BATCH:
            yield values, _line_source(name, numbers)
            numbers, values = [], []
    if values:
        yield values, _line_source(name, numbers)


def _line_source(name, numbers):
    return lambda index: "%s:%d" % (name, numbers[index])


def read_virtual(stream, name, collector):
    """Legacy ``virtual.txt``: ``alias: TYPE:address`` per line."""
    numbers, values = [], []
    for number, line in _lines(stream):
        alias, sep, value = line.partition(":")
        well_formed = sep and alias.strip()
        if well_formed:
            numbers.append(number)
            values.append(value.lstrip(" \t"))
            if len(values) < FILE_BATCH:
                continue
        # A full batch, or a malformed line: the lines before it go first, so
        # that refusals keep the order of the file.
        collector.add_typed_batch(values, _line_source(name, numbers))
        numbers, values = [], []
        if not well_formed:
            collector.refuse("%s:%d" % (name, number), line, "not an 'alias: TYPE:address' line")
    collector.add_typed_batch(values, _line_source(name, numbers))


def read_list(stream, name, collector):
    """One bare address per line."""
    for batch, source_at in _batches(_lines(stream), name):
        collector.add_plain_batch(batch, source_at)


def read_csv(stream, name, collector, column):
    """A CSV file with a header row; addresses are taken from ``column``."""
    reader = csv.DictReader(stream)
    if reader.fieldnames is None or column not in reader.fieldnames:
        raise ValueError("%s: no column %r in the CSV header %r" % (name, column, reader.fieldnames))
    for row in reader:
        value = row[column]
        if value:
            collector.add_plain(value, "%s:%d" % (name, reader.line_num))


def read_map(stream, name, collector):
    """A Postfix map source such as this module writes (``address<TAB>OK``):
    the key is the first field, the value is not used."""
    keys = ((number, line.split(None, 1)[0]) for number, line in _lines(stream))
    for batch, source_at in _batches(keys, name):
        collector.add_plain_batch(batch, source_at)


FILE_READERS = {"virtual": read_virtual, "list": read_list, "csv": read_csv, "map": read_map}


def read_file_source(path, file_format, collector, csv_column=None, name=None):
    """Read a file source into ``collector``; refusals name it ``name`` (default: ``path``).
    Undecodable bytes become U+FFFD, which the validation refuses as non-ASCII."""
    name = name or path
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as stream:
        if file_format == "csv":
            read_csv(stream, name, collector, csv_column)
        else:
            FILE_READERS[file_format](stream, name, collector)


# Map sources and comparison.

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


# Safety gate.

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
