# -*- coding: utf-8 -*-
"""Postfix's socketmap netstrings: what Postfix sends, what it may receive."""

import pytest

from ansible_collections.mailrelay.exchange.plugins.module_utils import _socketmap


def test_encode_counts_bytes_not_characters():
    assert _socketmap.encode("OK dane") == b"7:OK dane,"
    assert _socketmap.encode("é") == b"2:\xc3\xa9,"


def test_decode_returns_the_payload_and_the_rest():
    assert _socketmap.decode(b"10:dane a.org,4:da") == (b"dane a.org", b"4:da")


@pytest.mark.parametrize("partial", [b"", b"1", b"10", b"10:", b"10:dane a.or", b"10:dane a.org"])
def test_decode_waits_for_a_whole_netstring(partial):
    assert _socketmap.decode(partial) == (None, partial)


@pytest.mark.parametrize("bad", [b"x:", b"GET / HTTP/1.0", b"01:a,", b"3:abc;", b"-1:", b"1000000:", b"12345678"])
def test_decode_refuses_what_is_not_a_netstring(bad):
    with pytest.raises(_socketmap.NetstringError):
        _socketmap.decode(bad)


def test_decode_refuses_a_payload_longer_than_postfix_allows():
    with pytest.raises(_socketmap.NetstringError, match="longer than 100000"):
        _socketmap.decode(b"100001:")
    with pytest.raises(_socketmap.NetstringError):
        _socketmap.encode("x" * 100001)


def test_parse_request_splits_name_and_key():
    assert _socketmap.parse_request(b"dane example.org") == ("dane", "example.org")
    with pytest.raises(_socketmap.NetstringError, match="name> <key"):
        _socketmap.parse_request(b"example.org")


def test_reply_is_one_line_with_a_known_status():
    assert _socketmap.reply("NOTFOUND") == b"9:NOTFOUND ,"
    assert _socketmap.reply("TEMP", "lookup\nfailed  twice") == b"24:TEMP lookup failed twice,"
    with pytest.raises(ValueError):
        _socketmap.reply("MAYBE")
