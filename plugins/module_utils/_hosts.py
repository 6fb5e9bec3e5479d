# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private helpers of mailrelay.exchange: parsing of mail domains and SMTP next hops.

Not a public API: names and behaviour may change without notice.
"""

from __future__ import annotations

import ipaddress
import re

_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_PORTED = re.compile(r"^(?P<host>[^:\[\]]+):(?P<port>[0-9]+)$")
_BRACKETED = re.compile(r"^\[(?P<host>[^\[\]]+)\](?::(?P<port>[0-9]+))?$")


class HostError(ValueError):
    """A domain or host name that cannot be used."""


def mail_domain(value):
    """Return a relay domain in canonical (lower-case) form or raise HostError.

    A relay domain is a DNS name of at least two labels: letters, digits and
    hyphens, at most 63 characters a label and 253 in all.
    """
    if not isinstance(value, str):
        raise HostError("domain %r is not a string" % (value,))
    name = value.strip().rstrip(".").lower()
    if not name:
        raise HostError("empty domain name")
    if not name.isascii():
        raise HostError("domain %r has non-ASCII characters: give it in its xn-- (IDNA) form" % value)
    if len(name) > 253:
        raise HostError("domain %r is longer than 253 characters" % value)
    labels = name.split(".")
    if len(labels) < 2:
        raise HostError("domain %r needs at least two labels (example.com)" % value)
    for label in labels:
        if not _LABEL.match(label):
            raise HostError(
                "domain %r has an invalid label %r: use letters, digits and inner hyphens, "
                "1 to 63 characters" % (value, label))
    if labels[-1].isdigit():
        raise HostError("domain %r ends in a numeric label" % value)
    return name


def mail_domains(values):
    """Validate a list of relay domains; return them canonical, de-duplicated, in order."""
    if not isinstance(values, (list, tuple)) or not values:
        raise HostError("at least one relay domain is required")
    seen = []
    for value in values:
        name = mail_domain(value)
        if name not in seen:
            seen.append(name)
    return seen


def _port(text, value):
    port = int(text)
    if not 0 < port < 65536:
        raise HostError("host %r has port %d outside 1-65535" % (value, port))
    return port


def smtp_nexthop(value, default_port=25):
    """Parse one Exchange host: an IPv4 address, a host name or a bracketed IPv6 address.

    Each may carry a port (``10.0.0.5:2525``, ``mail.example.com:25``,
    ``[2001:db8::5]:25``); a bare IPv6 address is accepted too. Returns a dict
    with the host, port, IP version (None for a name), the Postfix next hop
    ``[host]:port`` (brackets: no MX lookup) and, for an address, the mynetworks
    entry that lets the host relay outbound mail.
    """
    if not isinstance(value, str) or not value.strip():
        raise HostError("Exchange host %r is empty or not a string" % (value,))
    text = value.strip()
    port = _port(default_port, value) if isinstance(default_port, int) else _port(str(default_port), value)
    host = text
    match = _BRACKETED.match(text) or _PORTED.match(text)
    if match:
        host = match.group("host")
        if match.group("port"):
            port = _port(match.group("port"), value)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None:
        if ":" in host or text.startswith("["):
            raise HostError("Exchange host %r is neither an IP address nor a host name" % value)
        if "." not in host:
            name = host.lower()
            if not _LABEL.match(name):
                raise HostError("Exchange host %r is not a valid host name" % value)
        else:
            try:
                name = mail_domain(host)
            except HostError as exc:
                raise HostError("Exchange host %r is not a valid host name: %s" % (value, exc))
        return {"host": name, "port": port, "version": None,
                "nexthop": "[%s]:%d" % (name, port), "network": None}
    if address.version == 6:
        return {"host": str(address), "port": port, "version": 6,
                "nexthop": "[%s]:%d" % (address, port),
                "network": "[%s]/128" % address}
    return {"host": str(address), "port": port, "version": 4,
            "nexthop": "[%s]:%d" % (address, port), "network": "%s/32" % address}


def smtp_nexthops(values, default_port=25):
    """Parse a non-empty list of Exchange hosts, see smtp_nexthop()."""
    if not isinstance(values, (list, tuple)) or not values:
        raise HostError("at least one Exchange host is required")
    return [smtp_nexthop(v, default_port) for v in values]


def postfix_network(value):
    """Return a mynetworks entry for a CIDR or address (IPv6 in Postfix's bracket form)."""
    if not isinstance(value, str):
        raise HostError("network %r is not a string" % (value,))
    text = value.strip()
    if text.startswith("["):
        text = text.replace("[", "").replace("]", "")
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise HostError("network %r is not an IP address or CIDR network" % value)
    if network.version == 6:
        return "[%s]/%d" % (network.network_address, network.prefixlen)
    return str(network)
