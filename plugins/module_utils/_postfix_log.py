# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Counters from Postfix's log: connections, rejects by reason, deliveries, TLS.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

``LogCounters.count(identifier, message)`` takes one log entry as the journal
has it (``SYSLOG_IDENTIFIER`` such as ``postfix/smtpd``, and ``MESSAGE``) and
adds it to the counters it concerns; entries of other programs are ignored.
The counters are plain numbers that survive a restart of the collector
through ``state()`` and ``LogCounters(matcher, syslog_name, state)``.

What is counted, from the lines Postfix 3.x writes:

- ``connections``: ``smtpd``'s ``connect from``.
- ``rejects`` by reason: ``smtpd``'s (and ``postscreen``'s) ``reject:`` lines
  and its rate-limit warnings. ``unknown_recipient`` (``User unknown in ...
  table``, the 550 a dictionary attack collects), ``relay_denied`` (``Relay
  access denied``), ``rate_limited`` (the anvil limits: ``... rate limit
  exceeded``, ``... concurrency limit exceeded``, ``Error: too many ...``,
  ``Error: too much mail``), ``other`` (every other reject).
- ``deliveries`` by destination (see _postfix_queue.DomainMatcher) and status
  (``sent``, ``deferred``, ``bounced``): the ``to=<...>, ..., status=`` lines
  of the delivery agents.
- ``tls`` by direction: ``TLS connection established from`` (``inbound``,
  smtpd) and ``... to`` (``outbound``, smtp and lmtp).

Only the standard library is imported: the monitoring role installs this file
beside its collector.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

REJECT_REASONS = ("unknown_recipient", "relay_denied", "rate_limited", "other")
DELIVERY_STATUSES = ("sent", "deferred", "bounced")
DIRECTIONS = ("inbound", "outbound")
DESTINATIONS = ("exchange", "internet")

_DELIVERY = re.compile(r"[0-9A-Za-z]+: to=<([^>]*)>, .*\bstatus=(sent|deferred|bounced)\b")
_REJECT = re.compile(r"(?:NOQUEUE|[0-9A-Za-z]+): reject: ")
_RATE_WARNING = re.compile(r"warning: (?:[A-Za-z ]+ rate|Connection concurrency) limit exceeded: ")
_RATE_REPLY = re.compile(r"Error: too (?:many|much) ")
_UNKNOWN = re.compile(r"User unknown in [a-z ]*table")
_TLS = re.compile(r"(?:Anonymous|Untrusted|Trusted|Verified) TLS connection established (from|to) ")


def reject_reason(message):
    """The reason of one ``reject:`` line or rate-limit warning, or None for other lines."""
    if _RATE_WARNING.match(message):
        return "rate_limited"
    if not _REJECT.match(message):
        return None
    if _UNKNOWN.search(message):
        return "unknown_recipient"
    if "Relay access denied" in message:
        return "relay_denied"
    if _RATE_REPLY.search(message):
        return "rate_limited"
    return "other"


class LogCounters(object):
    """The collector's counters, fed one journal entry at a time."""

    def __init__(self, matcher, syslog_name="postfix", state=None):
        self.matcher = matcher
        self.prefix = syslog_name + "/"
        self.entries = 0
        self.connections = 0
        self.rejects = dict.fromkeys(REJECT_REASONS, 0)
        self.deliveries = dict(((dest, status), 0) for dest in DESTINATIONS for status in DELIVERY_STATUSES)
        self.tls = dict.fromkeys(DIRECTIONS, 0)
        if state:
            self._load(state)

    def _load(self, state):
        """Take the numbers of ``state()``; a missing or bad value stays 0."""
        def number(value):
            return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0

        self.entries = number(state.get("entries"))
        self.connections = number(state.get("connections"))
        for reason in REJECT_REASONS:
            self.rejects[reason] = number(state.get("rejects", {}).get(reason))
        for dest, status in self.deliveries:
            self.deliveries[(dest, status)] = number(state.get("deliveries", {}).get("%s/%s" % (dest, status)))
        for direction in DIRECTIONS:
            self.tls[direction] = number(state.get("tls", {}).get(direction))

    def state(self):
        """The counters as JSON-ready data."""
        return {
            "entries": self.entries,
            "connections": self.connections,
            "rejects": dict(self.rejects),
            "deliveries": dict(("%s/%s" % key, value) for key, value in self.deliveries.items()),
            "tls": dict(self.tls),
        }

    def count(self, identifier, message):
        """Add one log entry. Returns True when it was a Postfix entry."""
        if not identifier.startswith(self.prefix):
            return False
        self.entries += 1
        program = identifier.rpartition("/")[2]
        if program in ("smtpd", "postscreen"):
            self._count_smtpd(program, message)
        delivery = _DELIVERY.match(message)
        if delivery:
            self.deliveries[(self.matcher.destination(delivery.group(1)), delivery.group(2))] += 1
            return True
        tls = _TLS.match(message)
        if tls:
            direction = "inbound" if tls.group(1) == "from" else "outbound"
            if (direction == "inbound") == (program == "smtpd"):
                self.tls[direction] += 1
        return True

    def _count_smtpd(self, program, message):
        if program == "smtpd" and message.startswith("connect from "):
            self.connections += 1
            return
        reason = reject_reason(message)
        if reason is not None:
            self.rejects[reason] += 1
