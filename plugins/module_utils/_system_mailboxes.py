# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which directory entries are Exchange's own system mailboxes.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

Exchange creates mailboxes for itself (health mailboxes, arbitration
mailboxes such as ``SystemMailbox{...}``, ``Migration....`` and
``FederatedEmail....``, the discovery search mailbox, audit log mailboxes).
They carry ``proxyAddresses`` like any user, so an export takes them unless
told not to. An entry is a system mailbox when:

- it has ``msExchRecipientTypeDetails`` (the directory has Exchange's schema):
  its value is one of SYSTEM_TYPES. The type decides; the name is not looked at.
- it has no such value (no Exchange schema, such as Samba or OpenLDAP, or the
  attribute is not set): the value of the first RDN of its DN matches one of
  NAME_PATTERNS whole, in any case.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

TYPE_ATTRIBUTE = "msExchRecipientTypeDetails"

# msExchRecipientTypeDetails values of Exchange's system mailboxes. The
# attribute holds one member of Exchange's RecipientTypeDetails flags
# enumeration, each member a bit in the order Microsoft lists them
# (https://learn.microsoft.com/en-us/previous-versions/office/exchange-server-api/ff344739(v=exchg.150));
# decimal values as tabulated in
# https://undocumented-features.com/2020/05/06/every-last-msexchrecipientdisplaytype-and-msexchrecipienttypedetails-value
SYSTEM_TYPES = {
    1 << 13: "SystemAttendantMailbox",  # 8192
    1 << 14: "SystemMailbox",  # 16384
    1 << 23: "ArbitrationMailbox",  # 8388608
    1 << 29: "DiscoveryMailbox",  # 536870912
    1 << 39: "MonitoringMailbox",  # 549755813888
    1 << 42: "AuditLogMailbox",  # 4398046511104
    1 << 46: "AuxAuditLogMailbox",  # 70368744177664
    1 << 47: "SupervisoryReviewPolicyMailbox",  # 140737488355328
}

# The names Exchange gives its system mailboxes (the common name, which is the
# first RDN of the DN): (label, pattern matched whole, in any case).
NAME_PATTERNS = (
    ("HealthMailbox...", r"HealthMailbox[0-9a-f-]+"),
    ("SystemMailbox{...}", r"SystemMailbox\{[0-9a-f-]+\}"),
    ("DiscoverySearchMailbox{...}", r"DiscoverySearchMailbox ?\{[0-9a-f-]+\}"),
    ("Migration....", r"Migration\.[0-9a-f-]+"),
    ("FederatedEmail....", r"FederatedEmail\.[0-9a-f-]+"),
)

# How many excluded entries the module lists (all are counted).
SAMPLE_LIMIT = 20

_TYPE_NAME = TYPE_ATTRIBUTE.lower().encode("ascii")
# The first RDN of a DN as bytes: attribute type, '=', a value that matches a pattern whole.
_FIRST_RDN = re.compile(
    rb"[^=,]+=(?:%s)(?:,|\Z)" % b"|".join(p.encode("ascii") for _label, p in NAME_PATTERNS), re.IGNORECASE
)
_EACH_NAME = [(label, re.compile(rb"[^=,]+=%s(?:,|\Z)" % p.encode("ascii"), re.IGNORECASE)) for label, p in NAME_PATTERNS]


def by_type(values):
    """The reason an entry with these msExchRecipientTypeDetails ``values`` (bytes) is a
    system mailbox, None when it is not; False when no value is a number (the type
    cannot decide)."""
    decided = False
    for value in values:
        try:
            number = int(value)
        except ValueError:
            continue
        decided = True
        if number in SYSTEM_TYPES:
            return "%s %s (%d)" % (TYPE_ATTRIBUTE, SYSTEM_TYPES[number], number)
    return None if decided else False


def by_name(dn):
    """The reason the DN (bytes) names a system mailbox, or None: its first RDN matches a pattern."""
    if not _FIRST_RDN.match(dn):
        return None
    return "name %s" % next(label for label, pattern in _EACH_NAME if pattern.match(dn))


def system_mailbox(dn, attributes):
    """Why the entry ``dn`` with ``attributes`` [(name, [value, ...]), ...] (bytes) is a
    system mailbox, or None."""
    for name, values in attributes:
        # The length first: most entries' attribute names are not even that long.
        if len(name) == len(_TYPE_NAME) and name.lower() == _TYPE_NAME:
            reason = by_type(values)
            if reason is not False:
                return reason
            break
    return by_name(dn)
