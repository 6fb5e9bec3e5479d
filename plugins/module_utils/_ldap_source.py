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

try:
    from ldap3 import BASE, SUBTREE
except ImportError:
    pass  # the module fails with missing_required_lib when HAS_LDAP3 is false

from ansible_collections.mailrelay.exchange.plugins.module_utils import _system_mailboxes as system_mailboxes
from ansible_collections.mailrelay.exchange.plugins.module_utils._ldap_errors import LDAPException, LdapSourceError, ProtocolError
from ansible_collections.mailrelay.exchange.plugins.module_utils._ldap_page import (
    UAC_ACCOUNTDISABLE, UAC_ATTRIBUTE, ExportStats, RawPage, decode, feed_page, page_of_responses,
)
from ansible_collections.mailrelay.exchange.plugins.module_utils._ldap_wire import WireSearchReader, read_searches_off_the_wire

PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"
# AD's bitwise AND matching rule; OpenLDAP does not know it.
AD_BIT_AND_OID = "1.2.840.113556.1.4.803"
DEFAULT_FILTER = "(proxyAddresses=smtp:*)"


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
    server sends an empty cookie. With the wire reader, a page is handed on
    once the next one has been asked for, so the server works on that one meanwhile.
    """
    reader = getattr(conn, "post_send_search", None)
    if not isinstance(reader, WireSearchReader):
        reader = None
    cookie = None
    page = 0
    ready = None
    while True:
        page += 1
        try:
            if reader is not None:
                reader.send_only = True
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
        if ready is not None:
            yield ready
        if reader is not None:
            try:
                reader.receive()
            except (LDAPException, LdapSourceError) as exc:
                raise LdapSourceError("search under %r failed on page %d: %s" % (base_dn, page, exc))
        result = conn.result or {}
        problem = result_problem(result, base_dn, page)
        if problem:
            raise LdapSourceError(problem)
        cookie = page_cookie(result)
        ready = conn.response or []
        if reader is None or not cookie:
            yield ready
            ready = None
        if not cookie:
            return


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
            asked = "%s;range=%d-*" % (decode(attribute), start)
            where = "reading %s of %s" % (asked, decode(dn))
            try:
                conn.search(
                    search_base=decode(dn),
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
