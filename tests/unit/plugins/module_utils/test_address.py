# -*- coding: utf-8 -*-
"""The rules of an acceptable address, the batch patterns, the relay domains."""

import string

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ansible_collections.mailrelay.exchange.plugins.module_utils import _address as ad
from ansible_collections.mailrelay.exchange.plugins.module_utils import _map_source as ms


@pytest.mark.parametrize(
    "address",
    [
        "user@example.com",
        "First.Last@Example.COM",
        "o'brien@example.com",
        "a+tag@example.com",
        "x!#$%&'*+-/=?^_`{|}~@example.com",
        "a@sub-domain.example.com",
        "a" * 64 + "@example.com",
        "a@" + ".".join(["b" * 63] * 3) + ".cc",
    ],
)
def test_valid_addresses_are_accepted(address):
    assert ad.address_problem(address) is None


LONG_LABELS = ".".join(["b" * 60] * 3)


# The whole reason: it is what an administrator reads in the refresh report.
@pytest.mark.parametrize(
    "address, reason",
    [
        ("bad user@example.com", "whitespace ' '"),
        ("user@example.com ", "whitespace ' '"),
        ("user\t@example.com", "control character '\\t'"),
        ("user\n@example.com", "control character '\\n'"),
        ("user\x00@example.com", "control character '\\x00'"),
        ("user\x7f@example.com", "control character '\\x7f'"),
        ("user\x80@example.com", "control character '\\x80'"),
        ("user\x85@example.com", "control character '\\x85'"),
        ("user\x9f@example.com", "control character '\\x9f'"),
        ("user\u00a0@example.com", "whitespace '\\xa0'"),
        ("usér@example.com", ad.NON_ASCII_REASON),
        ("user@exämple.com", ad.NON_ASCII_REASON),
        ("userexample.com", "no '@'"),
        ("a@b@example.com", "more than one '@'"),
        ('"quoted"@example.com', "character '\"' not allowed (address or map syntax)"),
        ("a:b@example.com", "character ':' not allowed (address or map syntax)"),
        ("a,b@example.com", "character ',' not allowed (address or map syntax)"),
        ("<a>@example.com", "character '<' not allowed (address or map syntax)"),
        ("a\\b@example.com", "character '\\\\' not allowed (address or map syntax)"),
        ("#a@example.com", "local part starts with '#' (a comment in a map source)"),
        (".a@example.com", "misplaced '.' in local part"),
        ("a.@example.com", "misplaced '.' in local part"),
        ("a..b@example.com", "misplaced '.' in local part"),
        ("@example.com", "empty local part"),
        ("a" * 65 + "@example.com", "local part longer than 64 characters"),
        ("a@", "empty domain"),
        ("a@example..com", "empty label in domain"),
        ("a@example.com.", "empty label in domain"),
        ("a@[192.0.2.1]", "invalid character in domain label '[192'"),
        ("a@exa_mple.com", "invalid character in domain label 'exa_mple'"),
        ("a@-example.com", "domain label '-example' starts or ends with '-'"),
        ("a@example-.com", "domain label 'example-' starts or ends with '-'"),
        ("a@" + "b" * 64 + ".com", "domain label longer than 63 characters"),
        ("a" * 64 + "@" + LONG_LABELS + ".ccccccc", "address longer than 254 characters"),
        # At each limit exactly, the next check speaks: the limit itself is allowed.
        ("#" + "a" * 63 + "@" + LONG_LABELS + ".cccccc", "local part starts with '#' (a comment in a map source)"),
        ("a." * 31 + ".a@example.com", "misplaced '.' in local part"),
        ("a@" + "b" * 63 + ".c_m", "invalid character in domain label 'c_m'"),
        ("a~b@" + ".".join(["c" * 63] * 3) + ".d_d", "invalid character in domain label 'd_d'"),
    ],
)
def test_invalid_addresses_are_refused_with_reason(address, reason):
    assert ad.address_problem(address) == reason


def test_a_domain_at_its_limits_and_with_every_allowed_character_is_valid():
    longest = ".".join(["c" * 63] * 3) + "." + "d" * 61
    assert len(longest) == 253 and ad.domain_problem(longest) is None
    assert ad.domain_problem("a-bcdefghijklmnopqrstuvwxyz0123456789.example") is None
    assert ad.domain_problem("") == "empty domain"
    # Only reachable on its own: an address with a longer domain is already longer than 254.
    assert ad.domain_problem("b" * 251 + ".cc") == "domain longer than 253 characters"


def test_longest_address_is_accepted_and_longest_domain_is_checked():
    assert ad.address_problem("a" * 64 + "@" + ".".join(["b" * 60] * 3) + ".cccccc") is None
    assert "domain longer than 253" in ad.domain_problem(".".join(["b" * 60] * 5))


# Property tests ---------------------------------------------------------------

ATEXT = string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~"
atom = st.text(alphabet=ATEXT, min_size=1, max_size=10)
local_parts = st.lists(atom, min_size=1, max_size=4).map(".".join).filter(lambda s: not s.startswith("#"))
labels = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?\Z")
domains = st.lists(labels, min_size=1, max_size=4).map(".".join)
good_addresses = st.builds(lambda lp, d: lp + "@" + d, local_parts, domains)
BAD_CHARS = [" ", "\t", "\n", "\r", "\x00", "\x7f", "@", '"', "(", ")", ",", ":", ";", "<", ">", "[", "]", "\\", "é", "\u2028"]


@given(good_addresses)
def test_generated_valid_address_is_accepted(address):
    assert ad.address_problem(address) is None


# Characters that keep an address valid in some places and break it in others,
# and characters that are never allowed: an insertion of one of them gives a
# mix of accepted and refused values, so properties about accepted values
# reach their asserts on most draws.
EDGE_CHARS = [".", "-", "#", "@", "_", "A", "0"] + BAD_CHARS


@st.composite
def near_valid_addresses(draw):
    """A valid address in any case, often with one edge or forbidden character inserted."""
    address = draw(good_addresses)
    address = draw(st.sampled_from([address, address.upper(), address.title()]))
    if draw(st.booleans()):
        position = draw(st.integers(min_value=0, max_value=len(address)))
        address = address[:position] + draw(st.sampled_from(EDGE_CHARS)) + address[position:]
    return address


@given(near_valid_addresses())
@settings(max_examples=500)
def test_accepted_address_reparses_to_itself_and_is_clean(value):
    assume(ad.address_problem(value) is None)
    lowered = value.lower()
    assert ad.address_problem(lowered) is None
    assert ms.parse_map_keys(lowered + "\tOK\n") == [lowered]
    assert value.count("@") == 1
    assert value.isascii()
    assert not any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value)
    assert not set(value) & set('"(),:;<>[]\\')


NEAR_MISSES = ATEXT + ".@-#\n \"[]\u00e9"


@given(st.one_of(good_addresses, st.text(alphabet=NEAR_MISSES, max_size=300)))
@settings(max_examples=1000)
def test_the_fast_path_accepts_only_what_the_full_checks_accept(value):
    # The regular expression is a shortcut for speed; the reasons come from the
    # character-by-character checks, which must agree on every accepted value.
    assume(ad._PLAIN_ADDRESS.match(value))
    assert ad._address_problem_detail(value) is None


@pytest.mark.parametrize(
    "value",
    ["a" * 65 + "@example.com", "a@" + "b" * 64 + ".com", "a@" + ".".join(["b" * 63] * 4) + ".cc",
     "#a@example.com", "a.@example.com", ".a@example.com", "a..b@example.com", "a@-b.com", "a@b-.com",
     "a@b..com", "a@b.com.", "a@example.com\n", "a@", "@example.com"],
)
def test_the_fast_path_leaves_edge_cases_to_the_full_checks(value):
    assert not ad._PLAIN_ADDRESS.match(value)
    assert ad.address_problem(value) is not None


@given(good_addresses)
def test_ordinary_addresses_take_the_fast_path(address):
    assert ad._PLAIN_ADDRESS.match(address)


@given(good_addresses, st.sampled_from(BAD_CHARS), st.data())
def test_address_with_a_forbidden_character_is_refused(address, bad, data):
    at = address.index("@")
    # Anywhere in the local part, or anywhere in the domain part.
    position = data.draw(st.integers(min_value=0, max_value=len(address)))
    if position == at or position == at + 1:
        position = 0
    assert ad.address_problem(address[:position] + bad + address[position:]) is not None


@given(st.lists(near_valid_addresses(), min_size=1, max_size=20))
@settings(max_examples=300)
def test_accepted_values_never_break_a_map_line(values):
    # A map source of many accepted values reads back as exactly those keys:
    # none is split, swallowed as a comment or merged with its neighbour.
    accepted = [v.lower() for v in values if ad.address_problem(v) is None]
    assume(accepted)
    assert ms.parse_map_keys("".join(v + "\tOK\n" for v in accepted)) == accepted


def test_relay_domains_are_normalised_and_checked():
    assert ad.normalise_domains(["Example.COM", "example.com", "example.org"]) == ["example.com", "example.org"]
    with pytest.raises(ValueError, match="invalid"):
        ad.normalise_domains(["exa mple.com"])
    with pytest.raises(ValueError, match="non-ASCII"):
        ad.normalise_domains(["exämple.com"])
    with pytest.raises(ValueError, match="at least one"):
        ad.normalise_domains([])
