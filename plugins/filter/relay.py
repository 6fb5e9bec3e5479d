# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn the relay's inventory variables into Postfix values."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.mailrelay.exchange.plugins.module_utils._postfix_map import SUFFIXES, compiled_path
from ansible_collections.mailrelay.exchange.plugins.module_utils._hosts import (
    HostError,
    mail_domains,
    postfix_network,
    smtp_nexthops,
)


def _wrap(func):
    def run(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except HostError as exc:
            raise AnsibleFilterError(str(exc))
    run.__name__ = func.__name__
    run.__doc__ = func.__doc__
    return run


def postfix_map_file(map_path, map_type):
    """The compiled file Postfix opens for ``map_type:map_path`` (the module's rule)."""
    if map_type not in SUFFIXES:
        raise HostError("map type %r is not one of %s" % (map_type, ", ".join(sorted(SUFFIXES))))
    return compiled_path(map_path, map_type)


class FilterModule:
    """mailrelay.exchange filters."""

    def filters(self):
        return {
            "mail_domains": _wrap(mail_domains),
            "smtp_nexthops": _wrap(smtp_nexthops),
            "postfix_networks": _wrap(lambda values: [postfix_network(v) for v in values]),
            "postfix_map_file": _wrap(postfix_map_file),
        }
