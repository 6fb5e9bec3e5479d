# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Streaming, paged LDAP export of recipient addresses (ldap3).

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

The search is paged and processed page by page, so memory holds one page at a
time. A search counts as complete only when the server returns an empty
paged-results cookie, and the result code of every page is checked: ldap3 does
not raise on sizeLimitExceeded or timeLimitExceeded, it hands back the
truncated page as if it were the end.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import ssl
import traceback

from ansible_collections.mailrelay.exchange.plugins.module_utils import _system_mailboxes as system_mailboxes

try:
    from ldap3 import ANONYMOUS, BASE, GSSAPI, NONE, SASL, SIMPLE, SUBTREE, SYNC, Connection, Server, Tls
    from ldap3.core.exceptions import LDAPException
    from ldap3.utils.asn1 import decode_message_fast
except ImportError:
    HAS_LDAP3 = False
    LDAP3_IMPORT_ERROR = traceback.format_exc()

    class LDAPException(Exception):
        """Stand-in so that except clauses stay valid without ldap3."""

else:
    HAS_LDAP3 = True
    LDAP3_IMPORT_ERROR = None

try:
    import gssapi  # noqa: F401 pylint: disable=unused-import
except ImportError:
    HAS_GSSAPI = False
else:
    HAS_GSSAPI = True

PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"
# AD's bitwise AND matching rule; OpenLDAP does not know it.
AD_BIT_AND_OID = "1.2.840.113556.1.4.803"
UAC_ACCOUNTDISABLE = 2
DEFAULT_FILTER = "(proxyAddresses=smtp:*)"

TYPED_ATTRIBUTES = ("proxyaddresses", "targetaddress")
UAC_ATTRIBUTE = "userAccountControl"


def ldap_argument_spec():
    """The connection options, documented by the mailrelay.exchange.ldap_options fragment."""
    return dict(
        server_uris=dict(type="list", elements="str"),
        bind_dn=dict(type="str"),
        bind_password=dict(type="str", no_log=True),
        sasl_mechanism=dict(type="str", choices=["GSSAPI"]),
        keytab=dict(type="path"),
        start_tls=dict(type="bool", default=False),
        validate_certs=dict(type="bool", default=True),
        ca_file=dict(type="path"),
        allow_plaintext=dict(type="bool", default=False),
        timeout=dict(type="int", default=30),
    )


LDAP_REQUIRED_TOGETHER = [("bind_dn", "bind_password")]
LDAP_MUTUALLY_EXCLUSIVE = [("bind_dn", "sasl_mechanism")]
LDAP_REQUIRED_BY = {"keytab": "sasl_mechanism"}


class LdapSourceError(Exception):
    """The export cannot be trusted to be complete; nothing may be installed."""


def transport_problem(uri, start_tls, allow_plaintext):
    """Return why ``uri`` may not be used, or None. Plain LDAP needs an opt-in."""
    scheme = uri.partition("://")[0].lower()
    if scheme == "ldaps":
        if start_tls:
            return "%s: start_tls cannot be combined with ldaps://" % uri
        return None
    if scheme != "ldap":
        return "%s: only ldap:// and ldaps:// URIs are supported" % uri
    if not start_tls and not allow_plaintext:
        return "%s: plain LDAP without TLS; use ldaps://, start_tls, or set allow_plaintext explicitly" % uri
    return None


def build_filter(base_filter, exclude_disabled, ad_matching_rule):
    """Add the server-side 'not disabled' clause when the directory supports it."""
    if not (exclude_disabled and ad_matching_rule):
        return base_filter
    return "(&%s(!(%s:%s:=%d)))" % (base_filter, UAC_ATTRIBUTE, AD_BIT_AND_OID, UAC_ACCOUNTDISABLE)


def requested_attributes(include_mail, include_target_address, exclude_disabled, exclude_system_mailboxes=False):
    """The attributes to ask for. A directory without Exchange's schema ignores
    msExchRecipientTypeDetails (RFC 4511: unknown attribute names in the list are ignored)."""
    attributes = ["proxyAddresses"]
    if include_mail:
        attributes.append("mail")
    if include_target_address:
        attributes.append("targetAddress")
    if exclude_disabled:
        attributes.append(UAC_ATTRIBUTE)
    if exclude_system_mailboxes:
        attributes.append(system_mailboxes.TYPE_ATTRIBUTE)
    return attributes


def result_problem(result, base_dn, page):
    """Return a failure message for a search result that is not plain success."""
    code = result.get("result")
    if code == 0:
        return None
    description = result.get("description") or "unknown"
    message = "search under %r failed on page %d: %s (result code %s)" % (base_dn, page, description, code)
    if result.get("message"):
        message += ": %s" % result["message"]
    if result.get("referrals"):
        message += "; referrals: %s" % ", ".join(result["referrals"])
    if code in (3, 4, 11):
        message += "; the data would be truncated, so it is not used"
    return message


def page_cookie(result):
    try:
        return result["controls"][PAGED_RESULTS_OID]["value"]["cookie"]
    except (KeyError, TypeError):
        return None


def iter_pages(conn, base_dn, search_filter, attributes, page_size, time_limit=0):
    """Yield the entries of each page of a paged search, checking every page.

    Raises LdapSourceError on any non-success result code; stops only when the
    server sends an empty cookie.
    """
    cookie = None
    page = 0
    while True:
        page += 1
        try:
            conn.search(
                search_base=base_dn,
                search_filter=search_filter,
                search_scope=SUBTREE,
                attributes=attributes,
                time_limit=time_limit,
                paged_size=page_size,
                paged_cookie=cookie,
            )
        except (LDAPException, LdapSourceError) as exc:
            raise LdapSourceError("search under %r failed on page %d: %s" % (base_dn, page, exc))
        result = conn.result or {}
        problem = result_problem(result, base_dn, page)
        if problem:
            raise LdapSourceError(problem)
        yield conn.response or []
        cookie = page_cookie(result)
        if not cookie:
            return


def _decode(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _values(raw_attributes, name):
    for key, values in raw_attributes.items():
        if _decode(key).lower() == name:
            return [_decode(v) for v in values]
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
    joined = b"\n".join(values)
    if joined.isascii() and joined.count(b"\n") == len(values) - 1:
        # The common case in two C calls instead of one decode per value.
        return joined.decode("ascii").split("\n")
    return [_decode(value) for value in values]


class _Source:
    """``DN (attribute)``, formatted only when a refusal is reported."""

    __slots__ = ("dn", "attribute")

    def __init__(self, dn, attribute):
        self.dn = dn
        self.attribute = attribute

    def __str__(self):
        return "%s (%s)" % (_decode(self.dn), _decode(self.attribute))


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
        raise ProtocolError("attribute %r: not a value range (expected ;range=<low>-<high> or <low>-*)" % _decode(name))
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
        stats.system_sample.extend(dict(dn=_decode(dn), reason=reason) for dn, reason in page.system[:room])
    collector.add_typed_batch(decode_values(page.typed), page.source_finder(page.typed_owner))
    collector.add_plain_batch(decode_values(page.plain), page.source_finder(page.plain_owner))


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


def export(
    conn, base_dns, search_filter, attributes, page_size, collector, exclude_disabled, time_limit=0,
    exclude_system_mailboxes=False,
):
    """Run the paged search under every base DN into ``collector``.

    Values an entry returned in ranges are read to the end once the paged
    search of its base DN is done (follow_ranges).
    """
    stats = ExportStats()
    system_rule = system_mailboxes.system_mailbox if exclude_system_mailboxes else None
    read_searches_off_the_wire(conn, exclude_disabled, system_rule)
    for base_dn in base_dns:
        unfinished = []
        for entries in iter_pages(conn, base_dn, search_filter, attributes, page_size, time_limit):
            stats.pages += 1
            page = entries if isinstance(entries, RawPage) else page_of_responses(entries, exclude_disabled, system_rule)
            feed_page(page, collector, stats)
            unfinished += [item for item in page.ranged if item[2] is not None]
        stats.ranged_entries += len({dn for dn, _attribute, _start in unfinished})
        follow_ranges(conn, unfinished, collector, stats, exclude_disabled, time_limit)
    return stats


def follow_ranges(conn, unfinished, collector, stats, exclude_disabled, time_limit=0):
    """Read the rest of ranged values: base searches for ``<attribute>;range=<next>-*`` until ``*``.

    ``unfinished`` holds (DN, attribute, next start). An answer without the
    asked range, or one that does not move on, fails the export: a value is
    never dropped silently. The entries were judged on their page; a
    follow-up answer holds only the ranged attribute, so the wire reader's
    system mailbox rule is off while it is read.
    """
    reader = getattr(conn, "post_send_search", None)
    rule = getattr(reader, "system_rule", None)
    if rule is not None:
        reader.system_rule = None
    try:
        _follow(conn, unfinished, collector, stats, exclude_disabled, time_limit)
    finally:
        if rule is not None:
            reader.system_rule = rule


def _follow(conn, unfinished, collector, stats, exclude_disabled, time_limit):
    for dn, attribute, start in unfinished:
        while start is not None:
            asked = "%s;range=%d-*" % (_decode(attribute), start)
            where = "reading %s of %s" % (asked, _decode(dn))
            try:
                conn.search(
                    search_base=_decode(dn),
                    search_filter="(objectClass=*)",
                    search_scope=BASE,
                    attributes=[asked],
                    time_limit=time_limit,
                )
            except (LDAPException, LdapSourceError) as exc:
                raise LdapSourceError("%s failed: %s" % (where, exc))
            result = conn.result or {}
            if result.get("result") != 0:
                raise LdapSourceError(
                    "%s failed: %s (result code %s) %s; the entry's values would be incomplete"
                    % (where, result.get("description"), result.get("result"), result.get("message") or "")
                )
            response = conn.response or []
            page = response if isinstance(response, RawPage) else page_of_responses(response, exclude_disabled)
            parts = [next_start for _dn, name, next_start in page.ranged if name == attribute]
            if page.entries != 1 or len(parts) != 1:
                raise LdapSourceError(
                    "%s: the answer has %d entries and %d parts of it; the entry's values would be incomplete"
                    % (where, page.entries, len(parts))
                )
            if parts[0] is not None and parts[0] <= start:
                raise ProtocolError("%s: the server answered a range that does not move on" % where)
            stats.range_searches += 1
            page.entries = 0
            feed_page(page, collector, stats)
            start = parts[0]


# Reading search responses off the wire -------------------------------------
#
# ldap3 decodes every message with a generic BER decoder into nested lists and
# then into dicts; for a directory of 100,000 recipients that is most of the
# export's time. The reader below takes over only the receiving side of a
# search: ldap3 still encodes and sends the request (filter, paged-results
# control, message ID), and the final searchResDone, or any message other than
# an entry or a reference, still goes through ldap3's decoder, so result codes,
# referrals and the paging cookie are read exactly as before.

_SEQUENCE, _SET, _OCTET_STRING, _INTEGER = 0x30, 0x31, 0x04, 0x02
_SEARCH_RES_ENTRY, _SEARCH_RES_REF = 0x64, 0x73
RECEIVE_SIZE = 1 << 16


class ProtocolError(LdapSourceError):
    """A response that is not well-formed BER: none of the data can be trusted."""


def _long_length(buf, pos):
    """(length, position after it) of a long-form BER length whose first byte is at ``pos``."""
    count = buf[pos] & 0x7F
    if not 0 < count <= 4:
        raise ProtocolError("unsupported BER length byte 0x%02x" % buf[pos])
    end = pos + 1 + count
    if end > len(buf):
        raise IndexError("length runs past the data")
    return int.from_bytes(buf[pos + 1:end], "big"), end


def _tlv(buf, pos, tag, what):
    """Check the tag at ``pos``; return (content start, content end)."""
    if buf[pos] != tag:
        raise ProtocolError("%s: expected tag 0x%02x, found 0x%02x" % (what, tag, buf[pos]))
    length = buf[pos + 1]
    if length < 0x80:
        return pos + 2, pos + 2 + length
    if length == 0x82:
        # Two length bytes: an attribute or entry of 256 bytes to 64 KiB, the common case.
        return pos + 4, pos + 4 + ((buf[pos + 2] << 8) | buf[pos + 3])
    length, start = _long_length(buf, pos + 1)
    return start, start + length


def parse_entry(buf, pos, end):
    """The DN and attributes of the searchResEntry whose content is ``buf[pos:end]``.

    Returns (dn, [(attribute type, [value, ...]), ...]) as bytes. Every length
    is checked against its container, so a response that does not add up
    raises ProtocolError instead of yielding misread values. The values are
    the bulk of the data, so their tag and length are read in line (_tlv's
    work, short form here, _long_length for the long one).
    """
    start, stop = _tlv(buf, pos, _OCTET_STRING, "entry DN")
    dn = buf[start:stop]
    pos, attributes_end = _tlv(buf, stop, _SEQUENCE, "attribute list")
    if attributes_end != end:
        raise ProtocolError("entry %r: the attribute list does not end with the entry" % dn)
    attributes = []
    while pos < end:
        # PartialAttribute ::= SEQUENCE { type OCTET STRING, vals SET OF OCTET STRING }
        pos, attribute_end = _tlv(buf, pos, _SEQUENCE, "attribute")
        start, stop = _tlv(buf, pos, _OCTET_STRING, "attribute type")
        name = buf[start:stop]
        pos, values_end = _tlv(buf, stop, _SET, "attribute values")
        if values_end != attribute_end:
            raise ProtocolError("entry %r: the values of %r do not end with the attribute" % (dn, name))
        values = []
        while pos < values_end:
            if buf[pos] != _OCTET_STRING:
                raise ProtocolError("entry %r: a value of %r is not an octet string" % (dn, name))
            length = buf[pos + 1]
            if length < 0x80:
                pos += 2
            elif length == 0x81:
                # One length byte: values of 128 to 255 bytes, such as X500 values.
                length = buf[pos + 2]
                pos += 3
            else:
                length, pos = _long_length(buf, pos + 1)
            values.append(buf[pos:pos + length])
            pos += length
        if pos != values_end:
            raise ProtocolError("entry %r: the values of %r overrun the attribute" % (dn, name))
        attributes.append((name, values))
    if pos != end:
        raise ProtocolError("entry %r: the attributes overrun the entry" % dn)
    return dn, attributes


def parse_reference(buf, pos, end):
    """The URIs of the searchResRef whose content is ``buf[pos:end]``."""
    uris = []
    while pos < end:
        start, pos = _tlv(buf, pos, _OCTET_STRING, "reference URI")
        uris.append(buf[start:pos].decode("utf-8", "replace"))
    if pos != end:
        raise ProtocolError("a search reference overruns its message")
    return uris


class WireSearchReader:
    """Installed as a connection's ``post_send_search``: reads one search's answer.

    Entries and references go into a RawPage that becomes ``conn.response``;
    the searchResDone, decoded by ldap3, becomes ``conn.result``.
    """

    def __init__(self, conn, exclude_disabled, decode_message, system_rule=None):
        self.conn = conn
        self.exclude_disabled = exclude_disabled
        self.decode_message = decode_message
        self.system_rule = system_rule

    def _receive(self):
        try:
            data = self.conn.socket.recv(RECEIVE_SIZE)
        except (OSError, AttributeError) as exc:
            raise LdapSourceError("receiving search results failed: %s" % (str(exc) or type(exc).__name__))
        if not data:
            raise LdapSourceError("the server closed the connection in the middle of a search")
        return data

    def __call__(self, message_id):
        page = RawPage(self.system_rule)
        buf = b""
        pos = 0
        while True:
            try:
                start, end = _tlv(buf, pos, _SEQUENCE, "LDAP message")
                if end > len(buf):
                    raise IndexError("message incomplete")
            except IndexError:
                buf = buf[pos:] + self._receive()
                pos = 0
                continue
            try:
                done = self._message(buf, pos, start, end, message_id, page)
            except IndexError:
                raise ProtocolError("a message of %d bytes ends in the middle of a value" % (end - pos))
            pos = end
            if done:
                if pos != len(buf):
                    raise ProtocolError("%d bytes arrived after the end of the search" % (len(buf) - pos))
                outstanding = getattr(self.conn.strategy, "_outstanding", None)
                if isinstance(outstanding, dict):
                    outstanding.pop(message_id, None)
                self.conn.response = page
                return []

    def _message(self, buf, pos, start, end, message_id, page):
        """Handle one whole message; True when it ends the search."""
        id_start, id_end = _tlv(buf, start, _INTEGER, "message ID")
        received_id = int.from_bytes(buf[id_start:id_end], "big")
        tag = buf[id_end]
        if received_id == message_id and tag in (_SEARCH_RES_ENTRY, _SEARCH_RES_REF):
            op_start, op_end = _tlv(buf, id_end, tag, "search result")
            if op_end > end:
                raise ProtocolError("a search result overruns its message")
            if tag == _SEARCH_RES_ENTRY:
                dn, attributes = parse_entry(buf, op_start, op_end)
                page.add_entry(dn, attributes, self.exclude_disabled)
            else:
                page.references.extend(parse_reference(buf, op_start, op_end))
            return False
        try:
            response = self.decode_message(buf[pos:end])
        except Exception as exc:  # pylint: disable=broad-except
            raise ProtocolError("ldap3 could not decode a response: %s" % exc)
        if received_id == 0:
            raise LdapSourceError(
                "the server ended the session: %s %s"
                % (response.get("responseName") or "", response.get("message") or response.get("description") or "")
            )
        if received_id != message_id:
            raise ProtocolError("a response to message %d arrived during search %d" % (received_id, message_id))
        if response.get("type") == "intermediateResponse":
            return False
        if response.get("type") != "searchResDone":
            raise ProtocolError("unexpected %s during a search" % response.get("type"))
        self.conn.result = response
        return True


def read_searches_off_the_wire(conn, exclude_disabled, system_rule=None):
    """Let ``conn`` hand searches to a WireSearchReader; None where that cannot be done.

    Only a synchronous ldap3 connection without a SASL security layer
    qualifies (ldap3 supports none for GSSAPI); anything else keeps ldap3's
    own receiving path, which is slower but gives the same data.
    """
    strategy = getattr(conn, "strategy", None)
    decode_response = getattr(strategy, "decode_response_fast", None)
    if not HAS_LDAP3 or decode_response is None or getattr(conn, "strategy_type", None) != SYNC:
        return None
    if getattr(conn, "sasl_mechanism", None) not in (None, GSSAPI):
        return None

    def decode_message(data):
        return decode_response(decode_message_fast(data))

    reader = WireSearchReader(conn, exclude_disabled, decode_message, system_rule)
    conn.post_send_search = reader
    return reader


def _tls(validate_certs, ca_file):
    return Tls(validate=ssl.CERT_REQUIRED if validate_certs else ssl.CERT_NONE, ca_certs_file=ca_file)


def _connection(uri, opts):
    """An unopened ldap3 Connection for ``uri``."""
    tls = _tls(opts["validate_certs"], opts["ca_file"])
    server = Server(uri, get_info=NONE, tls=tls, connect_timeout=opts["timeout"])
    kwargs = dict(
        raise_exceptions=False,
        auto_referrals=False,
        read_only=True,
        receive_timeout=opts["timeout"],
        # Without the wire reader, ldap3 would add an empty list for every
        # requested attribute an entry lacks (userAccountControl on a group or
        # contact); the export needs no empty lists.
        return_empty_attributes=False,
    )
    if opts["sasl_mechanism"]:
        kwargs.update(authentication=SASL, sasl_mechanism=GSSAPI)
    elif opts["bind_dn"]:
        kwargs.update(authentication=SIMPLE, user=opts["bind_dn"], password=opts["bind_password"])
    else:
        kwargs.update(authentication=ANONYMOUS)
    return Connection(server, **kwargs)


def close(conn):
    """Unbind and close ``conn``; errors are ignored.

    After a failed search the socket may already be gone (the directory
    stopped, a page was cut off): the unbind must not replace the reason the
    search failed with a socket error of its own.
    """
    try:
        conn.unbind()
    except (LDAPException, OSError):
        pass


def kerberos_environment(keytab):
    """The environment a GSSAPI bind from the client keytab ``keytab`` needs.

    MIT Kerberos gets the initial ticket from the client keytab when the
    credential cache has none; a cache in this process's memory means every
    run gets a fresh ticket and none is left behind (nothing to renew, nothing
    for another user to read).
    """
    return {"KRB5_CLIENT_KTNAME": "FILE:%s" % keytab, "KRB5CCNAME": "MEMORY:mailrelay-exchange"}


def use_keytab(keytab):
    """Point this process's Kerberos at ``keytab``; LdapSourceError when it cannot be read."""
    try:
        with open(keytab, "rb"):
            pass
    except OSError as exc:
        raise LdapSourceError("cannot read the keytab %s: %s" % (keytab, exc.strerror or exc))
    os.environ.update(kerberos_environment(keytab))


def _connect_one(uri, opts):
    conn = _connection(uri, opts)
    try:
        conn.open()
        if opts["start_tls"] and not conn.start_tls(read_server_info=False):
            raise LdapSourceError("StartTLS failed: %s" % (conn.result or {}).get("description"))
        if not conn.bind(read_server_info=False):
            result = conn.result or {}
            raise LdapSourceError("bind failed: %s %s" % (result.get("description"), result.get("message") or ""))
    except (LDAPException, LdapSourceError):
        close(conn)
        raise
    return conn


def connect(opts):
    """Open and bind the first URI of ``opts['server_uris']`` that works.

    Failover happens only here: a search that fails half-way is a failure, not
    a reason to start again elsewhere. Returns (connection, uri).
    """
    if opts.get("keytab"):
        use_keytab(opts["keytab"])
    errors = []
    for uri in opts["server_uris"]:
        try:
            return _connect_one(uri, opts), uri
        except (LDAPException, LdapSourceError) as exc:
            errors.append("%s: %s" % (uri, str(exc).strip()))
    raise LdapSourceError("no directory server could be used: %s" % "; ".join(errors))
