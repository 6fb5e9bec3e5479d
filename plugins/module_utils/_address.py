# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an acceptable recipient address is.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

Plain Python, no Ansible or LDAP: the checks of one address (and why it is
refused), of a domain and of a proxyAddresses type prefix, and the regular
expressions that classify a whole batch of values at once with the same
outcome as the checks one by one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import string

from ansible_collections.mailrelay.exchange.plugins.module_utils._hosts import mail_domains


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
      not empty, no whitespace or control character, see type_problem), which
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


def type_problem(addr_type):
    """Return why a type prefix is malformed (empty, whitespace, control characters), or None."""
    if not addr_type:
        return "empty address type"
    if any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in addr_type):
        return "address type %r has whitespace or control characters" % addr_type
    return None


def normalise_domains(domains):
    """Lower-case and check the relay domains; raise ValueError on a bad one.

    The same rules as the postfix_relay role's relay_domains (_hosts.mail_domains),
    so the module and the relay agree on which domains are relayed.
    """
    return mail_domains(domains)
