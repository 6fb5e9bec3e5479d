# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DANE before MTA-STS: the TLS policy a destination domain gets from its DNSSEC answers.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

Postfix asks its TLS policy maps in order and takes the first answer; the
MTA-STS map (postfix-mta-sts-resolver) answers for any domain with a policy,
so alone it would override DANE, against RFC 8461 section 2. The relay puts
this check first: a domain whose MX records are DNSSEC-validated and whose MX
hosts publish validated TLSA records gets ``dane`` (Postfix then requires
DANE on the MX hosts with TLSA records, RFC 7672); every other domain gets no
answer here, so the MTA-STS map, then smtp_tls_security_level, decide.

``decide`` is pure: the caller does the lookups (through the relay's
validating resolver) and passes their outcomes. A lookup that failed (timeout,
SERVFAIL, an answer that cannot be read) decides nothing: the result is
TEMP and Postfix keeps the mail queued, so a broken resolver never sends
mail in clear to a DANE domain.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# Outcomes of one lookup, as the caller reports them.
SECURE, INSECURE, NONE_SECURE, NONE_INSECURE, FAILED = "secure", "insecure", "none-secure", "none-insecure", "failed"
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)\Z")


def domain_key(key):
    """The domain a policy key names, lower case without a trailing dot, or None for keys this map skips.

    Postfix also asks for next hops such as ``[192.0.2.1]:25`` or ``[host]``
    (explicit routes, like the transport to Exchange); DANE by MX does not
    apply to them.
    """
    name = key.strip().rstrip(".").lower()
    if not name or name.startswith("[") or ":" in name or "." not in name or len(name) > 253:
        return None
    if not all(_LABEL.match(label) for label in name.split(".")):
        return None
    return name


def mail_hosts(domain, mx_outcome, exchanges, nxdomain=False):
    """Where mail for ``domain`` goes, from its MX answer: (outcome, hosts) to look up TLSA for and
    pass to ``decide``, or None when the domain takes no mail and Postfix reports that itself.

    ``exchanges``: the exchange names of the MX records in preference order,
    lower case without the trailing dot, ``"."`` for a null MX (RFC 7505);
    None when there were no MX records. ``nxdomain``: the name does not exist.
    Without MX records the domain is its own mail host (RFC 5321, 5.1); when
    that absence was validated, the domain's own TLSA records decide, as an MX
    host's would. A failed lookup passes through: ``decide`` makes the mail wait.
    """
    if exchanges is not None:
        hosts = [name for name in exchanges if name != "."]
        return (mx_outcome, hosts) if hosts else None
    if nxdomain and mx_outcome == NONE_SECURE:
        return None
    return (SECURE if mx_outcome == NONE_SECURE else mx_outcome), [domain]


def decide(mx_outcome, mx_hosts, tlsa_outcomes):
    """Return (status, value) for Postfix: ("OK", "dane"), ("NOTFOUND", "") or ("TEMP", reason).

    ``mx_outcome``: the MX lookup's outcome; ``mx_hosts``: the MX host names
    (the domain itself when it has no MX); ``tlsa_outcomes``: host -> outcome
    of the TLSA lookup of ``_25._tcp.<host>`` (hosts not looked up are absent).
    """
    if mx_outcome == FAILED:
        return "TEMP", "the MX lookup failed; the mail waits for a validated answer"
    if mx_outcome in (INSECURE, NONE_INSECURE, NONE_SECURE):
        # Unsigned MX records cannot carry DANE; no MX at all is Postfix's to report.
        return "NOTFOUND", ""
    failed = sorted(host for host in mx_hosts if tlsa_outcomes.get(host) == FAILED)
    if failed:
        return "TEMP", "the TLSA lookup of %s failed; the mail waits for a validated answer" % ", ".join(failed)
    if any(tlsa_outcomes.get(host) == SECURE for host in mx_hosts):
        return "OK", "dane"
    return "NOTFOUND", ""
