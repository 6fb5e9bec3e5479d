# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Streaming, paged LDAP export of recipient addresses (ldap3).

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

The search is paged and processed page by page, so memory does not grow with
the directory beyond the final address set. A search counts as complete only
when the server returns an empty paged-results cookie, and the result code of
every page is checked: ldap3 does not raise on sizeLimitExceeded or
timeLimitExceeded, it hands back the truncated page as if it were the end.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ssl
import traceback

try:
    from ldap3 import ANONYMOUS, GSSAPI, NONE, SASL, SIMPLE, SUBTREE, Connection, Server, Tls
    from ldap3.core.exceptions import LDAPException
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
        start_tls=dict(type="bool", default=False),
        validate_certs=dict(type="bool", default=True),
        ca_file=dict(type="path"),
        allow_plaintext=dict(type="bool", default=False),
        timeout=dict(type="int", default=30),
    )


LDAP_REQUIRED_TOGETHER = [("bind_dn", "bind_password")]
LDAP_MUTUALLY_EXCLUSIVE = [("bind_dn", "sasl_mechanism")]


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


def requested_attributes(include_mail, include_target_address, exclude_disabled):
    attributes = ["proxyAddresses"]
    if include_mail:
        attributes.append("mail")
    if include_target_address:
        attributes.append("targetAddress")
    if exclude_disabled:
        attributes.append(UAC_ATTRIBUTE)
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
        except LDAPException as exc:
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
        if key.lower() == name:
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


class _Source:
    """``DN (attribute)``, formatted only when a refusal is reported."""

    __slots__ = ("dn", "attribute")

    def __init__(self, dn, attribute):
        self.dn = dn
        self.attribute = attribute

    def __str__(self):
        return "%s (%s)" % (self.dn, self.attribute)


class ExportStats:
    def __init__(self):
        self.pages = 0
        self.entries = 0
        self.disabled_skipped = 0
        self.references = []


def feed_entries(entries, collector, stats, exclude_disabled):
    """Feed one page of ldap3 response dicts into a RecipientCollector."""
    for entry in entries:
        if entry.get("type") == "searchResRef":
            stats.references.extend(entry.get("uri") or [])
            continue
        if entry.get("type") != "searchResEntry":
            continue
        stats.entries += 1
        raw = entry.get("raw_attributes") or {}
        if exclude_disabled and is_disabled(raw):
            stats.disabled_skipped += 1
            continue
        dn = entry.get("dn", "")
        # One pass over the entry's attributes; the source label is only built
        # for a value that is refused (see RecipientCollector.refuse).
        for key, values in raw.items():
            name = key.lower()
            if name in TYPED_ATTRIBUTES:
                add = collector.add_typed
            elif name == "mail":
                add = collector.add_plain
            else:
                continue
            source = _Source(dn, name)
            for value in values:
                add(_decode(value), source)


def export(conn, base_dns, search_filter, attributes, page_size, collector, exclude_disabled, time_limit=0):
    """Run the paged search under every base DN into ``collector``."""
    stats = ExportStats()
    for base_dn in base_dns:
        for entries in iter_pages(conn, base_dn, search_filter, attributes, page_size, time_limit):
            stats.pages += 1
            feed_entries(entries, collector, stats, exclude_disabled)
    return stats


SEARCH_RES_ENTRY = 4


def lean_entry(payload):
    """A searchResEntry from ldap3's fast BER decoder as the export needs it.

    ldap3 also builds a second, formatted copy of every attribute (one Unicode
    conversion and a case-insensitive dict per entry), which the export never
    reads; skipping it halves the client's time for a large directory.
    """
    return {
        "type": "searchResEntry",
        "dn": payload[0][3].decode("utf-8", "replace"),
        "raw_attributes": {
            attribute[3][0][3].decode("utf-8", "replace"): [bytes(value[3]) for value in attribute[3][1][3]]
            for attribute in payload[1][3]
        },
    }


def lean_search_entries(conn):
    """Decode search entries of ``conn`` with lean_entry; other messages as ldap3 does.

    A message lean_entry cannot read goes to ldap3's own decoder, so a change
    in ldap3's internals costs speed, not correctness.
    """
    strategy = getattr(conn, "strategy", None)
    stock = getattr(strategy, "decode_response_fast", None)
    if stock is None:
        return

    def decode(ldap_message):
        if ldap_message.get("protocolOp") == SEARCH_RES_ENTRY:
            try:
                return lean_entry(ldap_message["payload"])
            except (IndexError, KeyError, TypeError, AttributeError):
                pass
        return stock(ldap_message)

    strategy.decode_response_fast = decode


def _tls(validate_certs, ca_file):
    return Tls(validate=ssl.CERT_REQUIRED if validate_certs else ssl.CERT_NONE, ca_certs_file=ca_file)


def _connection(uri, opts):
    """An unopened ldap3 Connection for ``uri`` that decodes search entries lean."""
    tls = _tls(opts["validate_certs"], opts["ca_file"])
    server = Server(uri, get_info=NONE, tls=tls, connect_timeout=opts["timeout"])
    kwargs = dict(
        raise_exceptions=False,
        auto_referrals=False,
        read_only=True,
        receive_timeout=opts["timeout"],
        # ldap3 would add an empty list under entry["attributes"] for every
        # requested attribute an entry lacks (userAccountControl on a group or
        # contact); lean entries carry no "attributes", and the export needs no
        # empty lists.
        return_empty_attributes=False,
    )
    if opts["sasl_mechanism"]:
        kwargs.update(authentication=SASL, sasl_mechanism=GSSAPI)
    elif opts["bind_dn"]:
        kwargs.update(authentication=SIMPLE, user=opts["bind_dn"], password=opts["bind_password"])
    else:
        kwargs.update(authentication=ANONYMOUS)
    conn = Connection(server, **kwargs)
    lean_search_entries(conn)
    return conn


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
        conn.unbind()
        raise
    return conn


def connect(opts):
    """Open and bind the first URI of ``opts['server_uris']`` that works.

    Failover happens only here: a search that fails half-way is a failure, not
    a reason to start again elsewhere. Returns (connection, uri).
    """
    errors = []
    for uri in opts["server_uris"]:
        try:
            return _connect_one(uri, opts), uri
        except (LDAPException, LdapSourceError) as exc:
            errors.append("%s: %s" % (uri, str(exc).strip()))
    raise LdapSourceError("no directory server could be used: %s" % "; ".join(errors))
