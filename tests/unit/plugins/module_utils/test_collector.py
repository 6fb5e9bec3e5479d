# -*- coding: utf-8 -*-
"""The recipient collector: types, domains, refusals, batches against one by one."""

import string

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from ansible_collections.mailrelay.exchange.plugins.module_utils import _address as ad
from ansible_collections.mailrelay.exchange.plugins.module_utils import _collector as co

DOMAINS = ["example.com", "example.org"]
# RFC 5322 atext, as in test_address.
ATEXT = string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~"


def collector(limit=100):
    return co.RecipientCollector(DOMAINS, refused_limit=limit)


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
    assert c.refused == [co.Refusal("CN=u", "user@example.com", "no address type prefix (expected SMTP:...)")]


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
    assert c.refused[0] == co.Refusal("CN=u", value, reason)


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
    one, batch = (co.RecipientCollector(DOMAINS, watch=["postmaster@example.com"]) for _unused in range(2))
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


# Mostly ASCII pages, as a directory hands them over, so that most examples reach the scan.
@given(st.one_of(BATCH_VALUES, ASCII_BATCH_VALUES, ASCII_BATCH_VALUES, ASCII_BATCH_VALUES), st.booleans())
@settings(max_examples=1000)
def test_values_handed_over_as_one_text_end_as_the_values_one_by_one(values, typed):
    values = [value if typed else value.partition(":")[2] or value for value in values if "\n" not in value]
    one, lines = (co.RecipientCollector(DOMAINS, watch=["postmaster@example.com"]) for _unused in range(2))
    add_one, add_lines = (one.add_typed, lines.add_typed_lines) if typed else (one.add_plain, lines.add_plain_lines)
    for index, value in enumerate(values):
        add_one(value, "CN=%d" % index)
    asked = []

    def value_at(index):
        asked.append(index)
        return values[index]

    add_lines("\n".join(values), len(values), value_at, lambda index: "CN=%d" % index)
    scanned = len(values) - len(asked)
    event("values the scan sorted out: %s" % ("all" if values and not asked else "some" if scanned else "none"))
    assert outcome(lines) == outcome(one)
    assert asked == sorted(set(asked))  # each value at most once, in order


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
    assert ad.batch_patterns([long_domain]) == (None, None)
    c = co.RecipientCollector([long_domain])
    c.add_typed_batch(["smtp:%s@%s" % ("a" * 64, long_domain), "smtp:b@%s" % long_domain], lambda index: index)
    assert c.sorted_addresses() == ["b@" + long_domain]
    assert c.refused[0].reason == "address longer than 254 characters"


def test_a_relay_domain_too_long_for_the_batch_scan_is_never_taken_for_another_domain():
    long_domain = ".".join(["d" * 60] * 3) + ".example"
    c = co.RecipientCollector(["example.com", long_domain])
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
    c = co.RecipientCollector(DOMAINS, sink=sink, watch=["Postmaster@Example.com", "ceo@example.com"])
    c.add_typed_batch(["SMTP:postmaster@example.com", "smtp:a@example.org"], str)
    c.add_plain("B@example.com", "x")
    assert sink.batches == [["postmaster@example.com", "a@example.org"], ["b@example.com"]]
    assert c.watched == {"postmaster@example.com"}
    assert c.addresses is None


def test_a_collector_counts_from_zero_and_keeps_100_refusals_by_default():
    c = co.RecipientCollector(["example.com"])
    assert (c.values_seen, c.refused_limit) == (0, 100)
    c.add_typed_batch(["smtp:bad %d@example.com" % i for i in range(150)], lambda index: "CN=%d" % index)
    assert (c.values_seen, c.refused_count, len(c.refused)) == (150, 150, 100)
