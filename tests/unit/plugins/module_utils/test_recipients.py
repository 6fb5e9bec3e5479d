# -*- coding: utf-8 -*-
"""Address parsing, file sources, gate, rendering and diff of the recipient map."""

import io
import string

import pytest
from hypothesis import event, assume, given, settings
from hypothesis import strategies as st

from ansible_collections.mailrelay.exchange.plugins.module_utils import _recipients as r

DOMAINS = ["example.com", "example.org"]


def collector(limit=100):
    return r.RecipientCollector(DOMAINS, refused_limit=limit)


# Validation -----------------------------------------------------------------

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
    assert r.address_problem(address) is None


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
        ("usér@example.com", r.NON_ASCII_REASON),
        ("user@exämple.com", r.NON_ASCII_REASON),
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
    assert r.address_problem(address) == reason


def test_a_domain_at_its_limits_and_with_every_allowed_character_is_valid():
    longest = ".".join(["c" * 63] * 3) + "." + "d" * 61
    assert len(longest) == 253 and r.domain_problem(longest) is None
    assert r.domain_problem("a-bcdefghijklmnopqrstuvwxyz0123456789.example") is None
    assert r.domain_problem("") == "empty domain"
    # Only reachable on its own: an address with a longer domain is already longer than 254.
    assert r.domain_problem("b" * 251 + ".cc") == "domain longer than 253 characters"


def test_longest_address_is_accepted_and_longest_domain_is_checked():
    assert r.address_problem("a" * 64 + "@" + ".".join(["b" * 60] * 3) + ".cccccc") is None
    assert "domain longer than 253" in r.domain_problem(".".join(["b" * 60] * 5))


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
    assert r.address_problem(address) is None


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
    assume(r.address_problem(value) is None)
    lowered = value.lower()
    assert r.address_problem(lowered) is None
    assert r.parse_map_keys(lowered + "\tOK\n") == [lowered]
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
    assume(r._PLAIN_ADDRESS.match(value))
    assert r._address_problem_detail(value) is None


@pytest.mark.parametrize(
    "value",
    ["a" * 65 + "@example.com", "a@" + "b" * 64 + ".com", "a@" + ".".join(["b" * 63] * 4) + ".cc",
     "#a@example.com", "a.@example.com", ".a@example.com", "a..b@example.com", "a@-b.com", "a@b-.com",
     "a@b..com", "a@b.com.", "a@example.com\n", "a@", "@example.com"],
)
def test_the_fast_path_leaves_edge_cases_to_the_full_checks(value):
    assert not r._PLAIN_ADDRESS.match(value)
    assert r.address_problem(value) is not None


@given(good_addresses)
def test_ordinary_addresses_take_the_fast_path(address):
    assert r._PLAIN_ADDRESS.match(address)


@given(good_addresses, st.sampled_from(BAD_CHARS), st.data())
def test_address_with_a_forbidden_character_is_refused(address, bad, data):
    at = address.index("@")
    # Anywhere in the local part, or anywhere in the domain part.
    position = data.draw(st.integers(min_value=0, max_value=len(address)))
    if position == at or position == at + 1:
        position = 0
    assert r.address_problem(address[:position] + bad + address[position:]) is not None


@given(st.lists(near_valid_addresses(), min_size=1, max_size=20))
@settings(max_examples=300)
def test_accepted_values_never_break_a_map_line(values):
    # A map source of many accepted values reads back as exactly those keys:
    # none is split, swallowed as a comment or merged with its neighbour.
    accepted = [v.lower() for v in values if r.address_problem(v) is None]
    assume(accepted)
    assert r.parse_map_keys("".join(v + "\tOK\n" for v in accepted)) == accepted


# Collector --------------------------------------------------------------------

def test_typed_values_keep_only_smtp_and_count_other_types():
    c = collector()
    c.add_typed("SMTP:Primary@Example.com", "dn1")
    c.add_typed("smtp:alias@example.org", "dn1")
    c.add_typed("X500:/o=Org/ou=Exchange/cn=Recipients/cn=user", "dn1")
    c.add_typed("x400:c=US;a= ;p=Org;o=Exchange;s=User;", "dn1")
    c.add_typed("SIP:user@example.com", "dn1")
    assert c.sorted_addresses() == ["alias@example.org", "primary@example.com"]
    assert dict(c.ignored_by_type) == {"X500": 1, "X400": 1, "SIP": 1}
    assert c.refused_count == 0


def test_value_without_type_prefix_is_refused():
    c = collector()
    c.add_typed("user@example.com", "CN=u")
    assert c.addresses == set()
    assert c.refused == [r.Refusal("CN=u", "user@example.com", "no address type prefix (expected SMTP:...)")]


@pytest.mark.parametrize(
    "value, reason",
    [
        (" SMTP:lead@example.com", "address type ' SMTP' has whitespace or control characters"),
        ("smtp :space@example.com", "address type 'smtp ' has whitespace or control characters"),
        ("\tsmtp:tab@example.com", "address type '\\tsmtp' has whitespace or control characters"),
        ("\x01smtp:ctl@example.com", "address type '\\x01smtp' has whitespace or control characters"),
        ("SM\x7fTP:del@example.com", "address type 'SM\\x7fTP' has whitespace or control characters"),
        (":empty@example.com", "empty address type"),
    ],
)
def test_malformed_type_prefix_is_refused_not_ignored_as_a_type(value, reason):
    c = collector()
    c.add_typed(value, "CN=u")
    assert c.addresses == set()
    assert dict(c.ignored_by_type) == {}
    assert c.refused_count == 1 and c.values_seen == 1
    assert c.refused[0] == r.Refusal("CN=u", value, reason)


def test_foreign_domains_are_dropped_and_counted_per_domain():
    c = collector()
    for value in ["a@example.com", "b@other.net", "c@other.net", "d@sub.example.com", "E@Other.NET"]:
        c.add_plain(value, "x")
    assert c.sorted_addresses() == ["a@example.com"]
    assert dict(c.dropped_by_domain) == {"other.net": 3, "sub.example.com": 1}


def test_duplicates_in_any_case_collapse_and_sort():
    c = collector()
    for value in ["b@example.com", "B@EXAMPLE.COM", "a@example.com", "b@Example.com"]:
        c.add_plain(value, "x")
    assert c.sorted_addresses() == ["a@example.com", "b@example.com"]


def test_refusals_keep_source_and_reason_and_are_capped_but_counted():
    c = collector(limit=2)
    for n in range(5):
        c.add_typed("smtp:bad %d@example.com" % n, "CN=u%d" % n)
    assert c.refused_count == 5
    assert c.refused_as_dicts() == [
        {"source": "CN=u0", "value": "smtp:bad 0@example.com", "reason": "whitespace ' '"},
        {"source": "CN=u1", "value": "smtp:bad 1@example.com", "reason": "whitespace ' '"},
    ]


# Batches: the same outcome as one value at a time ------------------------------

# Type prefixes besides SMTP as Exchange writes them, and near misses of them:
# the batch scan must count the well-formed ones by type exactly as one by one,
# and leave the malformed ones to be refused with their reason.
FOREIGN_TYPES = ["X500:", "x500:", "SIP:", "EUM:", "X400:", "FAX:", "SMTPX:", "smtp-x:", "a:b:", "EUM\t:", "X 500:",
                 "\x7fX:", "X\x01:", "SIP\x85:", "\u00c9UM:"]
EXCHANGE_VALUES = st.sampled_from([
    "X500:/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=4a1b-anna",
    "SIP:anna.adler@example.com", "EUM:1234;phone-context=dp.example.com", "X400:c=DE;a= ;p=Example;s=Adler;",
    "x500:", "SIP:", "X500:/o=x\r/cn=y",
])

BATCH_VALUES = st.lists(
    st.one_of(
        st.builds(
            lambda kind, local, domain: kind + local + domain,
            st.sampled_from(["SMTP:", "smtp:", "SmTp:", "X500:", "sip:", "", " smtp:", "smtp :", ":"] + FOREIGN_TYPES),
            st.text(alphabet=ATEXT + ".#\"\n \u00e9", max_size=70),
            st.sampled_from(["@example.com", "@EXAMPLE.org", "@other.net", "@", "@example.com.", "@ex..com", "",
                             "@" + "b" * 64 + ".com", "@sub.example.com", "@Tenant.mail.onmicrosoft.com", "@-x.net",
                             "@x-.net", "@a_b.net", "@" + "c" * 63 + ".net", "@" + ".".join(["e" * 63] * 4)]),
        ),
        EXCHANGE_VALUES,
        st.text(max_size=30),
    ),
    max_size=12,
)


# ASCII batches of what a mailbox carries, so that (almost) every example takes the batch scan.
ASCII_BATCH_VALUES = st.lists(
    st.one_of(
        EXCHANGE_VALUES,
        st.builds(
            lambda kind, local, domain: kind + local + domain,
            st.sampled_from(["SMTP:", "smtp:", "SMTP :", "smtp"] + [t for t in FOREIGN_TYPES if t.isascii()]),
            st.text(alphabet=ATEXT + ".#:; \t/=()", min_size=1, max_size=20),
            st.sampled_from(["@example.com", "@EXAMPLE.org", "@other.net", "", "@example.com.", "@Partner.example",
                             "@p..example", "@" + ".".join(["f" * 63] * 3) + ".ab", "@xn--bcher-kva.example"]),
        ),
    ),
    min_size=1,
    max_size=12,
)


def outcome(c):
    return (c.addresses, c.refused, c.refused_count, c.dropped_by_domain, c.ignored_by_type, c.values_seen, c.watched)


@given(st.one_of(BATCH_VALUES, ASCII_BATCH_VALUES))
@settings(max_examples=1500)
def test_a_batch_of_typed_values_ends_as_the_values_one_by_one(values):
    one, batch = (r.RecipientCollector(DOMAINS, watch=["postmaster@example.com"]) for _unused in range(2))
    for index, value in enumerate(values):
        one.add_typed(value, "CN=%d" % index)
    one_by_one = []
    add_one = batch._add_typed

    def spy(value, source):
        one_by_one.append(value)
        add_one(value, source)

    batch._add_typed = spy
    batch.add_typed_batch(values, lambda index: "CN=%d" % index)
    # Each value ends accepted, refused, dropped or ignored: what the one-by-one path did not count, the scan did.
    scanned = sum(batch.ignored_by_type.values()) + sum(batch.dropped_by_domain.values()) - (
        len(one_by_one) - batch.refused_count)
    event("other types or domains counted in the batch scan: %s" % (scanned > 0))
    assert outcome(batch) == outcome(one)


@given(BATCH_VALUES)
@settings(max_examples=800)
def test_a_batch_of_plain_values_ends_as_the_values_one_by_one(values):
    values = [value.partition(":")[2] or value for value in values]
    one, batch = collector(), collector()
    for index, value in enumerate(values):
        one.add_plain(value, "line %d" % index)
    batch.add_plain_batch(values, lambda index: "line %d" % index)
    assert outcome(batch) == outcome(one)


def test_a_batch_counts_other_types_and_domains_without_looking_at_them_one_by_one(monkeypatch):
    c = collector()
    one_by_one = []
    monkeypatch.setattr(c, "_add_typed", lambda value, source: one_by_one.append(value))
    values = ["SMTP:a%d@example.com" % i for i in range(3)] + [
        "X500:/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=a",
        "SIP:a0@example.com", "eum:1234;phone-context=dp.example.com", "x500:/o=x", "X500 :/o=y",
        "smtp:a0@tenant.mail.onmicrosoft.com", "SMTP:Ext@Partner.example", "smtp:b@partner.example",
        "smtp:c@partner.example."]
    c.add_typed_batch(values, str)
    assert dict(c.ignored_by_type) == {"X500": 2, "SIP": 1, "EUM": 1}
    assert dict(c.dropped_by_domain) == {"tenant.mail.onmicrosoft.com": 1, "partner.example": 2}
    # a malformed type or address is refused one by one, with its reason
    assert one_by_one == ["X500 :/o=y", "smtp:c@partner.example."]
    assert c.sorted_addresses() == ["a0@example.com", "a1@example.com", "a2@example.com"]


def test_a_batch_of_plain_addresses_checks_them_in_one_scan(monkeypatch):
    c = collector()
    one_by_one = []
    monkeypatch.setattr(c, "_add_plain", lambda value, source: one_by_one.append(value))
    c.add_plain_batch(["A@example.com", "b@example.org", "c@other.net", "bad one@example.com"], str)
    assert c.sorted_addresses() == ["a@example.com", "b@example.org"]
    assert dict(c.dropped_by_domain) == {"other.net": 1} and one_by_one == ["bad one@example.com"]


def test_a_batch_names_the_source_of_each_refused_value_only():
    c = collector()
    asked = []

    def source_at(index):
        asked.append(index)
        return "CN=%d" % index

    c.add_typed_batch(["SMTP:a@example.com", "smtp:bad one@example.com", "X500:/o=x", "smtp:b@other.net"], source_at)
    assert c.sorted_addresses() == ["a@example.com"]
    assert [(x.source, x.reason) for x in c.refused] == [("CN=1", "whitespace ' '")]
    assert dict(c.ignored_by_type) == {"X500": 1} and dict(c.dropped_by_domain) == {"other.net": 1}
    assert asked == [1]  # the X500 value and the other domain are counted in the batch scan, not one by one


def test_batch_patterns_leave_domains_too_long_for_the_limit_to_the_full_checks():
    long_domain = ".".join(["d" * 60] * 3) + ".example"
    assert r.batch_patterns([long_domain]) == (None, None)
    c = r.RecipientCollector([long_domain])
    c.add_typed_batch(["smtp:%s@%s" % ("a" * 64, long_domain), "smtp:b@%s" % long_domain], lambda index: index)
    assert c.sorted_addresses() == ["b@" + long_domain]
    assert c.refused[0].reason == "address longer than 254 characters"


def test_a_relay_domain_too_long_for_the_batch_scan_is_never_taken_for_another_domain():
    long_domain = ".".join(["d" * 60] * 3) + ".example"
    c = r.RecipientCollector(["example.com", long_domain])
    c.add_typed_batch(["smtp:a@example.com", "smtp:b@%s" % long_domain, "smtp:c@other.net"], str)
    c.add_plain_batch(["d@%s" % long_domain, "e@other.net"], str)
    assert c.sorted_addresses() == ["a@example.com", "b@" + long_domain, "d@" + long_domain]
    assert dict(c.dropped_by_domain) == {"other.net": 2}


def test_watched_addresses_are_noted_and_everything_goes_to_the_sink():
    class Sink:
        def __init__(self):
            self.batches = []

        def update(self, addresses):
            self.batches.append(list(addresses))

    sink = Sink()
    c = r.RecipientCollector(DOMAINS, sink=sink, watch=["Postmaster@Example.com", "ceo@example.com"])
    c.add_typed_batch(["SMTP:postmaster@example.com", "smtp:a@example.org"], str)
    c.add_plain("B@example.com", "x")
    assert sink.batches == [["postmaster@example.com", "a@example.org"], ["b@example.com"]]
    assert c.watched == {"postmaster@example.com"}
    assert c.addresses is None


def test_relay_domains_are_normalised_and_checked():
    assert r.normalise_domains(["Example.COM", "example.com", "example.org"]) == ["example.com", "example.org"]
    with pytest.raises(ValueError, match="invalid"):
        r.normalise_domains(["exa mple.com"])
    with pytest.raises(ValueError, match="non-ASCII"):
        r.normalise_domains(["exämple.com"])
    with pytest.raises(ValueError, match="at least one"):
        r.normalise_domains([])


# File sources -----------------------------------------------------------------

VIRTUAL = (
    "\ufeff# export of 2024-01-01\r\n"
    "jdoe: SMTP:John.Doe@example.com\r\n"
    "jdoe: smtp:jd@example.org\r\n"
    "jdoe: X500:/o=Org/ou=Exchange/cn=Recipients/cn=jdoe\r\n"
    "jdoe: X400:c=US;a= ;p=Org;o=Exchange;s=Doe;\r\n"
    "\r\n"
    "ext: smtp:someone@elsewhere.net\r\n"
    "bad: smtp:bad user@example.com\r\n"
    "no colon line\r\n"
    "trail: smtp:trailing@example.com \r\n"
)


def test_virtual_file_keeps_smtp_lines_and_reports_bad_lines_with_line_numbers(tmp_path):
    c, path = read_file(tmp_path, "virtual.txt", VIRTUAL.encode("utf-8"), "virtual")
    assert c.sorted_addresses() == ["jd@example.org", "john.doe@example.com"]
    assert dict(c.ignored_by_type) == {"X500": 1, "X400": 1}
    assert dict(c.dropped_by_domain) == {"elsewhere.net": 1}
    assert [(x.source, x.reason) for x in c.refused] == [
        ("%s:8" % path, "whitespace ' '"),
        ("%s:9" % path, "not an 'alias: TYPE:address' line"),
        ("%s:10" % path, "whitespace ' '"),
    ]


def test_list_file_reads_one_address_per_line():
    c = collector()
    r.read_list(io.StringIO("# comment\nA@example.com\n\nb@example.org\nnot-an-address\n"), "list", c)
    assert c.sorted_addresses() == ["a@example.com", "b@example.org"]
    assert [(x.source, x.reason) for x in c.refused] == [("list:5", "no '@'")]


def test_csv_file_reads_the_named_column_with_quoted_fields():
    c = collector()
    data = 'Name,PrimarySmtpAddress\n"Doe, John",John@example.com\nNobody,\n"Bad",x y@example.com\n'
    r.read_csv(io.StringIO(data), "users.csv", c, "PrimarySmtpAddress")
    assert c.sorted_addresses() == ["john@example.com"]
    assert [(x.source, x.value) for x in c.refused] == [("users.csv:4", "x y@example.com")]


def test_csv_without_the_column_fails():
    with pytest.raises(ValueError) as failure:
        r.read_csv(io.StringIO("a,b\n1,2\n"), "f.csv", collector(), "mail")
    assert str(failure.value) == "f.csv: no column 'mail' in the CSV header ['a', 'b']"


def test_a_csv_file_is_read_from_disk_with_its_byte_order_mark_and_line_numbers(tmp_path):
    # As Export-Csv of Windows PowerShell 5.1 writes it: UTF-8 with a BOM, CRLF, every field quoted.
    path = tmp_path / "recipients.csv"
    path.write_bytes(b'\xef\xbb\xbf"Name","Notes","PrimarySmtpAddress"\r\n"Doe, John","","John@example.com"\r\n'
                     b'"Roe","line one\r\nline two","roe@example.org"\r\n"Bad","","x y@example.com"\r\n')
    c = collector()
    r.read_file_source(str(path), "csv", c, csv_column="PrimarySmtpAddress")
    assert c.sorted_addresses() == ["john@example.com", "roe@example.org"]
    assert c.refused == [r.Refusal("%s:5" % path, "x y@example.com", "whitespace ' '")]
    with pytest.raises(ValueError) as failure:
        r.read_file_source(str(path), "csv", c, csv_column="mail")
    assert str(failure.value).startswith("%s: no column 'mail'" % path)


def test_a_collector_counts_from_zero_and_keeps_100_refusals_by_default():
    c = r.RecipientCollector(["example.com"])
    assert (c.values_seen, c.refused_limit) == (0, 100)
    c.add_typed_batch(["smtp:bad %d@example.com" % i for i in range(150)], lambda index: "CN=%d" % index)
    assert (c.values_seen, c.refused_count, len(c.refused)) == (150, 150, 100)


def read_file(tmp_path, name, data, file_format):
    """(collector, path) after read_file_source of ``data`` written to ``tmp_path/name``."""
    path = tmp_path / name
    path.write_bytes(data)
    c = collector()
    r.read_file_source(str(path), file_format, c)
    return c, path


def test_file_lines_lose_only_their_line_end(tmp_path):
    c, _path = read_file(tmp_path, "list.txt", b"a@example.com\r\nx@example.comX\n\x0bb@example.com\n", "list")
    assert c.sorted_addresses() == ["a@example.com"]
    assert dict(c.dropped_by_domain) == {"example.comx": 1}
    assert [x.reason for x in c.refused] == ["control character '\\x0b'"]
    c, virtual = read_file(tmp_path, "virtual.txt", b"u1: \t SMTP:a@example.com\nu2:\x0bSMTP:b@example.com\n", "virtual")
    assert c.sorted_addresses() == ["a@example.com"]
    assert c.refused == [r.Refusal("%s:2" % virtual, "\x0bSMTP:b@example.com",
                                   "address type '\\x0bSMTP' has whitespace or control characters")]


def test_undecodable_bytes_are_refused_as_non_ascii(tmp_path):
    c, _path = read_file(tmp_path, "list.txt", b"ok@example.com\nb\xffad@example.com\n", "list")
    assert c.sorted_addresses() == ["ok@example.com"]
    assert c.refused[0].reason == r.NON_ASCII_REASON


# Map sources, diff -----------------------------------------------------------

def test_parse_map_keys_reads_a_hand_written_source_as_postmap_does():
    # Checked with postmap -s: an indented line continues the one before (its text is
    # part of b's value), and a carriage return inside a line does not end it.
    text = "# comment\n\nA@example.com OK\nb@example.com\tOK\n  c@example.com   REJECT\n  # note\nd@x\tOK\re@x OK\n"
    assert r.parse_map_keys(text) == ["a@example.com", "b@example.com", "d@x"]
    assert r.parse_map_keys(text + "\u00e9@x OK\n \u00e9@y OK\n") == ["a@example.com", "b@example.com", "d@x", "\u00e9@x"]


@given(st.text(alphabet="aB@.#x \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\u2028\u00c9", max_size=60))
@settings(max_examples=1000)
def test_parse_map_keys_agrees_with_line_by_line_parsing(text):
    # The fast path for ASCII sources must find exactly the keys a
    # line-by-line reading finds, whatever the separators.
    assert r.parse_map_keys(text) == r._map_keys_line_by_line(text)


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 1 << 20])
def test_map_key_batches_read_whole_lines_whatever_the_chunk_size(chunk_size):
    text = "".join("U%04d@Example.com\tOK\n" % i for i in range(300)) + "# end\nlast@example.com OK"
    keys = [key for batch in r.map_key_batches(io.StringIO(text), chunk_size) for key in batch]
    assert keys == ["u%04d@example.com" % i for i in range(300)] + ["last@example.com"]


def test_diff_text_counts_everything_and_lists_what_it_was_given():
    diff = r.MapDiff(["e@x.org", "f@x.org"], ["b@x.org", "c@x.org"], 3, 3)
    after = r.diff_text(4, diff.added, diff.added_count, "added")
    assert after == "# 4 entries\ne@x.org\tOK\nf@x.org\tOK\n# ... and 1 more added\n"
    assert r.diff_text(2, diff.removed, 2, "removed") == "# 2 entries\nb@x.org\tOK\nc@x.org\tOK\n"


# Gate -------------------------------------------------------------------------

def keys(n, domain="example.com"):
    return {"u%05d@%s" % (i, domain) for i in range(n)} | {"postmaster@%s" % domain}


def gate(old, new, **kw):
    args = dict(min_entries=1, max_shrink_percent=10, must_exist=["postmaster@example.com"], force=False)
    args.update(kw)
    removed = len(old - new) if old is not None else 0
    missing = [a for a in args.pop("must_exist") if a.lower() not in new]
    return r.check_gate(None if old is None else len(old), len(new), removed, missing=missing, **args)


def test_gate_passes_for_a_small_change():
    result = gate(keys(100), keys(95))
    assert result.passed and not result.forced and result.reasons == []
    assert (result.old_count, result.new_count) == (101, 96)


def test_gate_fails_when_too_many_live_entries_would_go():
    result = gate(keys(100), keys(40))
    assert not result.passed
    assert "60 of 101 live entries (59.41%) would be removed" in result.reasons[0]


def test_gate_counts_removals_even_when_the_size_stays_the_same():
    old = keys(100)
    new = (old - {"u%05d@example.com" % i for i in range(50)}) | {"x%d@example.com" % i for i in range(50)}
    result = gate(old, new)
    assert result.new_count == result.old_count == 101
    assert result.reasons == ["50 of 101 live entries (49.50%) would be removed, more than the maximum of 10%"]


def test_gate_fails_below_the_minimum_and_on_an_empty_first_map():
    assert gate(None, set()).reasons == [
        "0 entries, fewer than the minimum of 1",
        "required addresses missing: postmaster@example.com",
    ]
    assert not gate(None, keys(10), min_entries=50).passed
    assert gate(None, keys(10)).passed


def test_the_first_build_without_a_floor_fails_and_says_how_to_set_one():
    first = gate(None, keys(10), min_entries=None)
    assert not first.passed and len(first.reasons) == 1
    assert first.reasons[0].startswith("first build: there is no live map to compare with")
    assert "set min_entries (role: relay_recipients_min_entries)" in first.reasons[0]
    assert first.reasons[0].endswith("(this export found 11)")
    assert gate(None, keys(10), min_entries=None, force=True).forced
    # Once a live map exists, no floor means a floor of 1.
    assert gate(keys(10), keys(10), min_entries=None).passed
    assert gate(set(), set(), min_entries=None).reasons == [
        "0 entries, fewer than the minimum of 1", "required addresses missing: postmaster@example.com"]
    # A compiled table without its source already fails on its own reason, not on the floor's.
    orphan = gate(None, keys(10), min_entries=None, orphan_table=True)
    assert [reason.split(" ")[0] for reason in orphan.reasons] == ["a"]


def test_gate_fails_when_a_required_address_is_missing_in_any_case():
    result = gate(keys(10), keys(10), must_exist=["Postmaster@Example.com", "ceo@example.com"])
    assert result.reasons == ["required addresses missing: ceo@example.com"]


def test_gate_refuses_an_orphan_table_whose_size_is_unknown():
    assert not gate(None, keys(10), orphan_table=True).passed


def test_force_marks_a_failed_gate_as_forced_only():
    assert gate(keys(100), keys(10), force=True).forced
    assert not gate(keys(100), keys(99), force=True).forced


def test_gate_message_names_old_count_new_count_and_every_reason():
    message = r.gate_message(gate(keys(100), keys(10), must_exist=["a@example.com", "b@example.com"]))
    assert message == (
        "safety gate failed (live map kept): old count 101, new count 11: 90 of 101 live entries (89.11%) would be "
        "removed, more than the maximum of 10%; required addresses missing: a@example.com, b@example.com")
    assert r.gate_message(gate(None, set()), "map unchanged, nothing installed").startswith(
        "safety gate failed (map unchanged, nothing installed): old count none, new count 0: ")


def test_the_gate_limits_themselves_pass():
    at_floor = gate(None, keys(9), min_entries=10)
    assert at_floor.passed and at_floor.removed_percent == 0.0
    at_shrink_limit = gate(keys(99), keys(89))  # 10 of 100 removed: exactly 10 %
    assert at_shrink_limit.passed and at_shrink_limit.removed_percent == 10.0
    assert not gate(keys(99), keys(88)).passed


def test_the_first_build_reason_in_full():
    assert gate(None, keys(4), min_entries=None).reasons == [
        "first build: there is no live map to compare with, so only a floor can catch a wrong base DN or filter; "
        "set min_entries (role: relay_recipients_min_entries) to the fewest entries this map may have "
        "(this export found 5)"]


def test_default_must_exist_is_postmaster_of_every_domain():
    assert r.default_must_exist(DOMAINS) == ["postmaster@example.com", "postmaster@example.org"]


def test_map_source_reader_takes_the_key_and_ignores_value_and_comments():
    collector = r.RecipientCollector(["example.com"])
    stream = io.StringIO("# staged\nb@example.com\tOK\r\n\nA@Example.com OK\nno-at-sign\tOK\n")
    r.read_map(stream, "staging", collector)
    assert sorted(collector.addresses) == ["a@example.com", "b@example.com"]
    assert [item["source"] for item in collector.refused_as_dicts()] == ["staging:5"]


def one_line_at_a_time(text, file_format, collector):
    """The file readers' rules applied line by line: what the batched readers must give."""
    for number, line in enumerate(io.StringIO(text, newline=""), 1):
        line = line.rstrip("\r\n")
        source = "f:%d" % number
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if file_format == "virtual":
            alias, sep, value = line.partition(":")
            if not sep or not alias.strip():
                collector.refuse(source, line, "not an 'alias: TYPE:address' line")
            else:
                collector.add_typed(value.lstrip(" \t"), source)
        elif file_format == "list":
            collector.add_plain(line, source)
        else:
            collector.add_plain(line.split(None, 1)[0], source)


FILE_LINES = st.lists(
    st.one_of(
        st.sampled_from(["", "# comment", "   ", "no colon here", ": SMTP:x@example.com", "a: X500:/o=x",
                         "a: SMTP:ok@example.com", "b:\tsmtp:tab@example.org", "c: SMTP:bad one@example.com",
                         "d: smtp:x@other.net", "ok@example.com\tOK", "Bad Key@example.com OK", "e:smtp:é@example.com"]),
        st.text(alphabet="ab:@. \t#\u00e9", max_size=15),
    ),
    max_size=25,
)


@given(FILE_LINES, st.sampled_from(["virtual", "list", "map"]), st.sampled_from(["\n", "\r\n"]))
@settings(max_examples=600)
def test_file_readers_in_batches_end_as_one_line_at_a_time(lines, file_format, newline):
    text = newline.join(lines) + newline
    expected, batched = collector(), collector()
    one_line_at_a_time(text, file_format, expected)
    saved = r.FILE_BATCH
    r.FILE_BATCH = 3  # batches end in the middle of the file
    try:
        r.FILE_READERS[file_format](io.StringIO(text, newline=""), "f", batched)
    finally:
        r.FILE_BATCH = saved
    assert (batched.addresses, batched.refused, batched.refused_count, batched.dropped_by_domain,
            batched.ignored_by_type, batched.values_seen) == (
        expected.addresses, expected.refused, expected.refused_count, expected.dropped_by_domain,
        expected.ignored_by_type, expected.values_seen)
