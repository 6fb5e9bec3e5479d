# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Merging the entries of a DirSync pass into the state's objects.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

What a DirSync answer means (measured against Samba AD 4.17, as AD documents it):

- An entry carries only the requested attributes that changed since the
  cookie (a disabled account comes back with ``userAccountControl`` alone);
  a changed multi-valued attribute comes back whole. An attribute that is
  absent did not change; one present without values (ldap3: None) was cleared.
- Every entry carries ``objectGUID``; its DN is the object's DN now, so a
  renamed or moved object comes back (``name`` is requested for that).
- Only the ``smtp:`` values of ``proxyAddresses`` and ``targetAddress`` are
  kept: the map is made of them alone (X500, SIP, EUM, X400 values are only
  counted by the full export), and they are a third of an Exchange mailbox's
  values, so the state is smaller and quicker to read and write.
- A deleted object comes back as its tombstone, with ``isDeleted: TRUE``,
  under ``CN=Deleted Objects``. A first pass (no cookie) returns every older
  tombstone too: a tombstone of an object not in the state removes nothing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections import namedtuple

from ansible_collections.mailrelay.exchange.plugins.module_utils._ldap_errors import ProtocolError
from ansible_collections.mailrelay.exchange.plugins.module_utils._ldap_page import TYPED_ATTRIBUTES

# The attributes the state keeps of an object, as the full export reads them.
STORED = frozenset(("proxyaddresses", "mail", "targetaddress", "useraccountcontrol", "msexchrecipienttypedetails"))

Change = namedtuple("Change", ["guid", "dn", "attributes", "deleted"])
Change.__doc__ = """One entry of a DirSync answer.

guid: objectGUID as hex; dn: the DN now; attributes: {lower-case name: [text values] or
None when cleared}, stored attributes only; deleted: a tombstone.
"""

DeltaStats = namedtuple("DeltaStats", ["changed", "deleted", "unchanged", "tombstones_ignored"])


def _text(value):
    # surrogateescape: the bytes of a value that is not UTF-8 come back the
    # same when the map is rendered, as the full export would read them.
    return bytes(value).decode("utf-8", "surrogateescape")


def change_of(entry):
    """The Change of one ldap3 search response item; None for anything but an entry."""
    if entry.get("type") != "searchResEntry":
        return None
    raw = entry.get("raw_attributes") or {}
    guid = None
    deleted = False
    attributes = {}
    for name, values in raw.items():
        lowered = name.lower()
        if lowered == "objectguid" and values:
            guid = bytes(values[0]).hex()
        elif lowered == "isdeleted":
            deleted = bool(values) and _text(values[0]).upper() == "TRUE"
        elif ";range=" in lowered and lowered.partition(";")[0] in STORED:
            raise ProtocolError(
                "%s came back in ranges (%s) in a DirSync answer; a full export reads such values to the end" % (entry.get("dn"), name)
            )
        elif lowered in STORED:
            texts = [_text(value) for value in values or ()]
            if lowered in TYPED_ATTRIBUTES:
                texts = [text for text in texts if text[:5].lower() == "smtp:"]
            attributes[lowered] = texts or None
    if guid is None:
        raise ProtocolError("a DirSync entry without objectGUID: %s" % entry.get("dn"))
    return Change(guid, entry.get("dn", ""), attributes, deleted)


def apply_changes(objects, changes):
    """Merge ``changes`` into ``objects`` (GUID -> {"dn", "attributes"}) in place; return DeltaStats."""
    changed = deleted = unchanged = ignored = 0
    for change in changes:
        if change.deleted:
            if objects.pop(change.guid, None) is None:
                ignored += 1
            else:
                deleted += 1
            continue
        before = objects.get(change.guid)
        attributes = dict(before["attributes"]) if before else {}
        for name, values in change.attributes.items():
            if values:
                attributes[name] = values
            else:
                attributes.pop(name, None)
        record = dict(dn=change.dn, attributes=attributes)
        if record == before:
            unchanged += 1
        else:
            objects[change.guid] = record
            changed += 1
    return DeltaStats(changed, deleted, unchanged, ignored)
