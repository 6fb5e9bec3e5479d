# -*- coding: utf-8 -*-
"""The filters hand Ansible a clear error instead of a Python exception."""

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.mailrelay.exchange.plugins.filter.relay import FilterModule

FILTERS = FilterModule().filters()


def test_filters_are_registered():
    assert set(FILTERS) == {"mail_domains", "smtp_nexthops", "postfix_networks"}


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
