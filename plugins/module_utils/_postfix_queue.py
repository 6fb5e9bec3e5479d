# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What waits in Postfix's queues, and for whom: read from ``postqueue -j``.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

``postqueue -j`` prints one JSON object per queued message (Postfix 3.1 and
later): ``queue_name``, ``arrival_time`` (seconds since the epoch) and
``recipients`` (objects with ``address``). ``summarise`` counts the messages
of every queue and destination and finds the oldest one's age. A recipient is
for ``exchange`` when its domain is one of the relay domains (an entry that
starts with a dot also matches its subdomains, as in Postfix), otherwise for
the ``internet``. A message with recipients of both kinds counts once under
each.

Used by the monitoring role's Postfix collector (roles/monitoring/files/
mailrelay-postfix-metrics), which the role installs with this file beside it:
only the standard library is imported.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

QUEUES = ("active", "deferred", "hold", "incoming", "maildrop")
DESTINATIONS = ("exchange", "internet")


class QueueReadError(ValueError):
    """A line of ``postqueue -j`` is not a message as Postfix writes it."""


class DomainMatcher(object):
    """Is an address for one of the relay domains?

    ``domains``: the words of ``postconf -xh relay_domains``. A ``type:table``
    entry cannot be looked up here and is skipped (``skipped`` lists them).
    """

    def __init__(self, domains):
        self.exact = set()
        self.parents = set()
        self.skipped = []
        for word in domains:
            word = word.strip().strip(",").lower().rstrip(".")
            if not word:
                continue
            if ":" in word or "/" in word:
                self.skipped.append(word)
            elif word.startswith("."):
                self.parents.add(word)
            else:
                self.exact.add(word)

    def destination(self, address):
        """``exchange`` or ``internet`` for one recipient address."""
        domain = address.rpartition("@")[2].lower().rstrip(".")
        if domain in self.exact:
            return "exchange"
        labels = domain.split(".")
        for start in range(1, len(labels)):
            if "." + ".".join(labels[start:]) in self.parents:
                return "exchange"
        return "internet"


def split_domains(text):
    """The words of a relay_domains value (commas and white space separate them)."""
    return text.replace(",", " ").split()


def empty_summary():
    """{(queue, destination): [messages, oldest age in seconds]} with every pair at zero."""
    return dict(((queue, dest), [0, 0.0]) for queue in QUEUES for dest in DESTINATIONS)


def _message(line, lineno):
    try:
        message = json.loads(line)
    except ValueError as exc:
        raise QueueReadError("postqueue -j line %d is not JSON: %s" % (lineno, exc))
    if not isinstance(message, dict):
        raise QueueReadError("postqueue -j line %d is not an object" % lineno)
    queue = message.get("queue_name")
    arrival = message.get("arrival_time")
    recipients = message.get("recipients", [])
    if not isinstance(queue, str) or isinstance(arrival, bool) or not isinstance(arrival, (int, float)):
        raise QueueReadError("postqueue -j line %d has no queue_name or arrival_time" % lineno)
    if not isinstance(recipients, list):
        raise QueueReadError("postqueue -j line %d: recipients is not a list" % lineno)
    addresses = []
    for item in recipients:
        if not isinstance(item, dict) or not isinstance(item.get("address"), str):
            raise QueueReadError("postqueue -j line %d: a recipient without an address" % lineno)
        addresses.append(item["address"])
    return queue, arrival, addresses


def summarise(lines, matcher, now):
    """Count the messages of ``lines`` (the output of ``postqueue -j``).

    Returns the dict of ``empty_summary`` filled in. A queue Postfix may add
    later is left out rather than mislabelled; a message without recipients
    (still being written) counts for the ``internet``. Raises QueueReadError on
    a line that is not a queued message.
    """
    summary = empty_summary()
    for lineno, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        queue, arrival, addresses = _message(line, lineno)
        if queue not in QUEUES:
            continue
        age = max(0.0, now - arrival)
        for dest in set(matcher.destination(a) for a in addresses) or {"internet"}:
            entry = summary[(queue, dest)]
            entry[0] += 1
            entry[1] = max(entry[1], age)
    return summary
