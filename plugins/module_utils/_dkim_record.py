# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DKIM key records: their text, how they are published, and which selector may sign.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

A selector ``S`` of the outbound_security role is a pair of keys: RSA-2048
published at ``S-rsa._domainkey.<domain>`` and Ed25519 at
``S-ed25519._domainkey.<domain>``, the same keys for every signing domain.
``choose_active`` picks the selector the signer uses: the newest one whose
both records are published, with the right public keys, in every signing
domain (RFC 6376 section 3.6.1 for the tags). So a new key never signs before
its record can be found, and the previous key keeps signing until then.

Only the standard library is imported: the role installs this file beside its
helper script on the relay.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

KEY_TYPES = ("rsa", "ed25519")
_SELECTOR = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?\Z")
_TAG = re.compile(r"\s*([A-Za-z][A-Za-z0-9_]*)\s*=\s*(.*?)\s*\Z", re.S)

# The states of one record, as status() reports them.
PUBLISHED, MISSING, MISMATCH = "published", "missing", "mismatch"


class DkimRecordError(ValueError):
    """A record or a selector name that cannot be used."""


def check_selector(name):
    """Refuse a selector base name that would not make a DNS label with -rsa or -ed25519."""
    if not isinstance(name, str) or not _SELECTOR.match(name):
        raise DkimRecordError(
            "selector %r: use 1 to 32 lower-case letters, digits and inner hyphens (e.g. mr2026a)" % (name,))
    return name


def selector_name(base, key_type):
    """The DNS selector of one key of a selector pair: ``mr2026a-rsa``."""
    if key_type not in KEY_TYPES:
        raise DkimRecordError("unknown key type %r" % (key_type,))
    return "%s-%s" % (check_selector(base), key_type)


def record_text(key_type, public_b64):
    """The TXT record's text for a public key (base64 of the DER key for RSA, of the raw key for Ed25519)."""
    if key_type not in KEY_TYPES:
        raise DkimRecordError("unknown key type %r" % (key_type,))
    if not public_b64 or not re.match(r"[A-Za-z0-9+/]+={0,2}\Z", public_b64):
        raise DkimRecordError("the public key is not base64: %r" % (public_b64[:40],))
    return "v=DKIM1; k=%s; p=%s" % (key_type, public_b64)


def parse_tags(text):
    """{tag: value} of a DKIM key record; white space inside values (folded records) is removed."""
    tags = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        match = _TAG.match(part)
        if match is None:
            raise DkimRecordError("not a tag=value list: %r" % (text[:80],))
        name, value = match.group(1), re.sub(r"\s+", "", match.group(2))
        if name in tags:
            raise DkimRecordError("tag %s appears twice in %r" % (name, text[:80]))
        tags[name] = value
    return tags


def compare(key_type, public_b64, answers):
    """PUBLISHED, MISSING or MISMATCH for one key, given the TXT texts found at its name.

    A record published means: a key record (``v=DKIM1`` or no ``v``) of the
    same key type (``k``, ``rsa`` when absent) with exactly this public key. A
    record that does not parse counts as not this key.
    """
    if not answers:
        return MISSING
    for text in answers:
        try:
            tags = parse_tags(text)
        except DkimRecordError:
            continue
        if tags.get("v", "DKIM1") != "DKIM1":
            continue
        if tags.get("k", "rsa").lower() == key_type and tags.get("p") == public_b64:
            return PUBLISHED
    return MISMATCH


def zone_lines(base, domain, records):
    """Zone-file lines of one selector pair in one domain; ``records`` is {key_type: text}.

    Strings longer than 255 octets are split, as a TXT record requires.
    """
    lines = []
    for key_type in KEY_TYPES:
        text = records[key_type]
        chunks = [text[i:i + 255] for i in range(0, len(text), 255)]
        lines.append('%s._domainkey.%s. IN TXT ( %s )' % (
            selector_name(base, key_type), domain.rstrip("."), " ".join('"%s"' % c for c in chunks)))
    return lines


def choose_active(selectors, status, require_published=True):
    """The selector to sign with, or None.

    ``selectors`` oldest first; ``status`` {selector: {domain: {key_type:
    state}}} as the helper script reports it. Without ``require_published``
    the newest selector signs whatever DNS says (for a site that publishes by
    other means and says so).
    """
    if not selectors:
        return None
    if not require_published:
        return selectors[-1]
    for base in reversed(selectors):
        domains = status.get(base) or {}
        if domains and all(
                all(states.get(key_type) == PUBLISHED for key_type in KEY_TYPES)
                for states in domains.values()):
            return base
    return None
