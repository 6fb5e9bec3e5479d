# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Asking the directory for changes with the AD DirSync control (ldap3).

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

``read_identity`` reads the DC that answers (``dnsHostName``, the
``invocationId`` of its NTDS Settings object, its default naming context and
whether it offers DirSync at all); ``read_changes`` runs a DirSync pass from a
cookie (or from nothing: every object) to the end (``more_results`` false)
and returns its entries and the new cookie. Facts measured against Samba AD
4.17 that shape it:

- The base must be the head of a naming context; anything else is refused
  with insufficientAccessRights ("dN is not one of the naming context").
- Without the replication right, an ordinary account is refused with
  insufficientAccessRights unless the object-security flag is set; with the
  flag it sees additions and changes but no deletions.
- A cookie the server cannot read is refused with
  unavailableCriticalExtension; a cookie of another DC is not refused, which
  is why the state records the DC and its invocationId.
- Tombstones come back only with the show-deleted control and a filter their
  tombstone still matches (isDeleted=TRUE).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

try:
    from ldap3 import BASE, SUBTREE
    from ldap3.protocol.microsoft import dir_sync_control, show_deleted_control
except ImportError:
    pass  # the module fails with missing_required_lib when HAS_LDAP3 is false

from ansible_collections.mailrelay.exchange.plugins.module_utils._dirsync_delta import change_of
from ansible_collections.mailrelay.exchange.plugins.module_utils._ldap_errors import LDAPException, LdapSourceError

DIRSYNC_OID = "1.2.840.113556.1.4.841"
# Persons (users, contacts), groups and public folders whether or not they
# have an address now, so an object whose last address is removed comes
# back too, and tombstones; a directory without publicFolder matches none.
SYNC_FILTER = "(|(proxyAddresses=*)(isDeleted=TRUE)(objectCategory=person)(objectCategory=group)(objectClass=publicFolder))"
# name: a rename or a move brings the object back with its new DN.
EXTRA_ATTRIBUTES = ["name", "isDeleted"]
# DirSync flags: LDAP_DIRSYNC_OBJECT_SECURITY; the size of one answer the server may send.
MAX_LENGTH = 10 * 1024 * 1024

REPLICATION_RIGHT = (
    "the bind account may not read changes with DirSync: grant it 'Replicating Directory Changes' "
    "(DS-Replication-Get-Changes, 1131f6aa-9c07-11d1-f79f-00c04fc2dcd2) on the naming context %s, or set "
    "dirsync_object_security (role: relay_recipients_dirsync_object_security), with which deletions are "
    "only seen by the full resync"
)

Identity = namedtuple("Identity", ["dns_host_name", "invocation_id", "naming_context", "supports_dirsync"])
Pass = namedtuple("Pass", ["changes", "cookie", "rounds", "entries", "deletions_visible"])
Pass.__doc__ = """A DirSync pass: its changes, the new cookie, the rounds and entries it took, and
whether the ``CN=Deleted Objects`` container came back (a pass from no cookie returns
it to an account that may see tombstones; Samba AD 4.17 returns tombstones only to
administrators, even with the replication right)."""


class CookieRefused(LdapSourceError):
    """The server would not go on from the saved cookie: a full resync is needed."""


def _first(attributes, name):
    values = attributes.get(name) or []
    return values[0] if values else None


def _search(conn, base, search_filter, scope, attributes, time_limit, controls=None):
    try:
        conn.search(
            search_base=base, search_filter=search_filter, search_scope=scope, attributes=attributes,
            time_limit=time_limit, controls=controls,
        )
    except LDAPException as exc:
        raise LdapSourceError("search of %r failed: %s" % (base, exc))
    return conn.result or {}, conn.response or []


def read_identity(conn, time_limit=0):
    """The Identity of the DC behind ``conn``; LdapSourceError when its root DSE cannot be read."""
    result, response = _search(
        conn, "", "(objectClass=*)", BASE, ["dnsHostName", "dsServiceName", "defaultNamingContext", "supportedControl"],
        time_limit,
    )
    entries = [item for item in response if item.get("type") == "searchResEntry"]
    if result.get("result") != 0 or not entries:
        raise LdapSourceError("cannot read the root DSE: %s %s" % (result.get("description"), result.get("message") or ""))
    root = entries[0].get("attributes") or {}
    controls = [str(value) for value in root.get("supportedControl") or []]
    invocation_id = None
    service = _first(root, "dsServiceName")
    if service:
        result, response = _search(conn, service, "(objectClass=*)", BASE, ["invocationId"], time_limit)
        found = [item for item in response if item.get("type") == "searchResEntry"]
        if result.get("result") == 0 and found:
            value = _first(found[0].get("raw_attributes") or {}, "invocationId")
            invocation_id = bytes(value).hex() if value else None
    return Identity(
        _first(root, "dnsHostName"), invocation_id, _first(root, "defaultNamingContext"), DIRSYNC_OID in controls
    )


def pass_problem(result, base, cookie):
    """The exception for a DirSync answer that is not success, or None."""
    code = result.get("result")
    if code == 0:
        return None
    text = "DirSync under %r refused: %s (result code %s) %s" % (base, result.get("description"), code, result.get("message") or "")
    if code == 50:
        if "naming context" in (result.get("message") or ""):
            return LdapSourceError(text + "; the DirSync base (dirsync_base) must be the head of a naming context")
        return LdapSourceError(text.strip() + "; " + REPLICATION_RIGHT % base)
    if cookie is not None and code in (2, 12, 53):
        # protocolError, unavailableCriticalExtension, unwillingToPerform.
        return CookieRefused(text.strip())
    return LdapSourceError(text.strip())


def read_changes(conn, base, attributes, cookie, object_security=False, time_limit=0):
    """Run a DirSync pass from ``cookie`` (None: every object) to its end; return a Pass.

    CookieRefused when the server will not take ``cookie``; LdapSourceError
    for any other failure, the rights named when they are missing.
    """
    changes = []
    rounds = entries = 0
    deletions_visible = False
    more = True
    while more:
        rounds += 1
        controls = [
            dir_sync_control(
                criticality=True, object_security=object_security, ancestors_first=True, public_data_only=False,
                incremental_values=False, max_length=MAX_LENGTH, cookie=cookie,
            ),
            show_deleted_control(criticality=False),
        ]
        result, response = _search(conn, base, SYNC_FILTER, SUBTREE, attributes + EXTRA_ATTRIBUTES, time_limit, controls)
        problem = pass_problem(result, base, cookie)
        if problem is not None:
            raise problem
        try:
            value = result["controls"][DIRSYNC_OID]["value"]
            cookie, more = value["cookie"], value["more_results"]
        except (KeyError, TypeError):
            raise LdapSourceError("the DirSync answer under %r has no DirSync control" % base)
        if not cookie:
            raise LdapSourceError("the DirSync answer under %r has an empty cookie" % base)
        for item in response:
            change = change_of(item)
            if change is not None:
                entries += 1
                changes.append(change)
                deletions_visible = deletions_visible or (change.deleted and change.dn.lower().startswith("cn=deleted objects,"))
    return Pass(changes, bytes(cookie), rounds, entries, deletions_visible)
