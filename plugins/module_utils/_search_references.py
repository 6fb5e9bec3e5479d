# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Search continuation references: which of them may hide recipients, and what to say.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

The export does not follow references. A reference to a child domain means
the users there are not in the map; a search of a domain's root in AD also
returns references to its DNS zones and to the configuration partition, which
hold no recipients and are only listed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from urllib.parse import unquote

# First RDNs of the naming contexts AD refers to from a domain's root that hold
# no recipients: the DNS application partitions and the configuration partition.
NO_RECIPIENTS = frozenset(("dc=domaindnszones", "dc=forestdnszones", "cn=configuration"))

# How many URIs a message names.
SHOWN = 3

GLOBAL_CATALOG = (
    "search a Global Catalog instead (server_uris ldaps://DC:3269, or ldap://DC:3268 with start_tls; "
    "base_dns the forest root)"
)
FAIL_OPTION = "set fail_on_references (role: relay_recipients_ldap_fail_on_references) to fail instead of building a map without them"


def reference_dn(uri):
    """The DN an LDAP URL (RFC 4516) ``ldap://host/DN?attributes?scope?filter`` points at."""
    rest = uri.partition("://")[2]
    return unquote(rest.partition("/")[2].partition("?")[0])


def may_hold_recipients(uri):
    """False for a reference to AD's DNS zones or configuration partition, True otherwise."""
    first_rdn = reference_dn(uri).partition(",")[0].replace(" ", "").lower()
    return first_rdn not in NO_RECIPIENTS


def missed(references):
    """The references below which recipients may be missing, in the order received, once each."""
    seen = set()
    result = []
    for uri in references:
        if uri not in seen and may_hold_recipients(uri):
            seen.add(uri)
            result.append(uri)
    return result


def describe(missed_references):
    """What ``missed_references`` (not empty) mean for the map."""
    count = len(missed_references)
    shown = ", ".join(missed_references[:SHOWN])
    if count > SHOWN:
        shown += " and %d more" % (count - SHOWN)
    return (
        "the directory returned %d search continuation reference%s that the export does not follow: %s; "
        "recipients below %s are missing from the export" % (count, "" if count == 1 else "s", shown, "it" if count == 1 else "them")
    )


def outcome(missed_references, fail_on_references):
    """(failure, warning) for the ``missed`` references of an export: each a message or None."""
    if not missed_references:
        return None, None
    text = describe(missed_references)
    if fail_on_references:
        return "fail_on_references: %s; %s" % (text, GLOBAL_CATALOG), None
    return None, "%s; %s, or %s" % (text, GLOBAL_CATALOG, FAIL_OPTION)
