# -*- coding: utf-8 -*-
"""The filters hand Ansible a clear error instead of a Python exception."""

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.mailrelay.exchange.plugins.filter.relay import FilterModule

FILTERS = FilterModule().filters()


def test_filters_are_registered():
    assert set(FILTERS) == {"mail_domains", "smtp_nexthops", "postfix_networks", "postfix_map_file"}


def test_filter_errors_become_ansible_errors():
    with pytest.raises(AnsibleFilterError, match="two labels"):
        FILTERS["mail_domains"](["localhost"])
    with pytest.raises(AnsibleFilterError, match="not a valid host name"):
        FILTERS["smtp_nexthops"](["bad_host.example"])
    with pytest.raises(AnsibleFilterError, match="not an IP address"):
        FILTERS["postfix_networks"](["nope"])


def test_filters_return_postfix_values():
    assert FILTERS["postfix_networks"](["2001:db8::1"]) == ["[2001:db8::1]/128"]
    assert FILTERS["smtp_nexthops"](["10.1.1.1"], 2525)[0]["nexthop"] == "[10.1.1.1]:2525"


def test_postfix_map_file_follows_the_module_rule():
    assert FILTERS["postfix_map_file"]("/etc/postfix/transport", "cdb") == "/etc/postfix/transport.cdb"
    assert FILTERS["postfix_map_file"]("/etc/aliases", "hash") == "/etc/aliases.db"
    assert FILTERS["postfix_map_file"]("/etc/aliases", "lmdb") == "/etc/aliases.lmdb"
    with pytest.raises(AnsibleFilterError, match="map type 'btree' is not one of cdb, hash, lmdb"):
        FILTERS["postfix_map_file"]("/etc/aliases", "btree")
