# -*- coding: utf-8 -*-
"""The file sources: virtual.txt, list, CSV and map source, batched and line by line."""

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.mailrelay.exchange.plugins.module_utils import _address as ad
from ansible_collections.mailrelay.exchange.plugins.module_utils import _collector as co
from ansible_collections.mailrelay.exchange.plugins.module_utils import _file_source as fs

DOMAINS = ["example.com", "example.org"]


def collector(limit=100):
    return co.RecipientCollector(DOMAINS, refused_limit=limit)


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
    fs.read_list(io.StringIO("# comment\nA@example.com\n\nb@example.org\nnot-an-address\n"), "list", c)
    assert c.sorted_addresses() == ["a@example.com", "b@example.org"]
    assert [(x.source, x.reason) for x in c.refused] == [("list:5", "no '@'")]


def test_csv_file_reads_the_named_column_with_quoted_fields():
    c = collector()
    data = 'Name,PrimarySmtpAddress\n"Doe, John",John@example.com\nNobody,\n"Bad",x y@example.com\n'
    fs.read_csv(io.StringIO(data), "users.csv", c, "PrimarySmtpAddress")
    assert c.sorted_addresses() == ["john@example.com"]
    assert [(x.source, x.value) for x in c.refused] == [("users.csv:4", "x y@example.com")]


def test_csv_without_the_column_fails():
    with pytest.raises(ValueError) as failure:
        fs.read_csv(io.StringIO("a,b\n1,2\n"), "f.csv", collector(), "mail")
    assert str(failure.value) == "f.csv: no column 'mail' in the CSV header ['a', 'b']"


def test_a_csv_file_is_read_from_disk_with_its_byte_order_mark_and_line_numbers(tmp_path):
    # As Export-Csv of Windows PowerShell 5.1 writes it: UTF-8 with a BOM, CRLF, every field quoted.
    path = tmp_path / "recipients.csv"
    path.write_bytes(b'\xef\xbb\xbf"Name","Notes","PrimarySmtpAddress"\r\n"Doe, John","","John@example.com"\r\n'
                     b'"Roe","line one\r\nline two","roe@example.org"\r\n"Bad","","x y@example.com"\r\n')
    c = collector()
    fs.read_file_source(str(path), "csv", c, csv_column="PrimarySmtpAddress")
    assert c.sorted_addresses() == ["john@example.com", "roe@example.org"]
    assert c.refused == [co.Refusal("%s:5" % path, "x y@example.com", "whitespace ' '")]
    with pytest.raises(ValueError) as failure:
        fs.read_file_source(str(path), "csv", c, csv_column="mail")
    assert str(failure.value).startswith("%s: no column 'mail'" % path)


def read_file(tmp_path, name, data, file_format):
    """(collector, path) after read_file_source of ``data`` written to ``tmp_path/name``."""
    path = tmp_path / name
    path.write_bytes(data)
    c = collector()
    fs.read_file_source(str(path), file_format, c)
    return c, path


def test_file_lines_lose_only_their_line_end(tmp_path):
    c, _path = read_file(tmp_path, "list.txt", b"a@example.com\r\nx@example.comX\n\x0bb@example.com\n", "list")
    assert c.sorted_addresses() == ["a@example.com"]
    assert dict(c.dropped_by_domain) == {"example.comx": 1}
    assert [x.reason for x in c.refused] == ["control character '\\x0b'"]
    c, virtual = read_file(tmp_path, "virtual.txt", b"u1: \t SMTP:a@example.com\nu2:\x0bSMTP:b@example.com\n", "virtual")
    assert c.sorted_addresses() == ["a@example.com"]
    assert c.refused == [co.Refusal("%s:2" % virtual, "\x0bSMTP:b@example.com",
                                    "address type '\\x0bSMTP' has whitespace or control characters")]


def test_undecodable_bytes_are_refused_as_non_ascii(tmp_path):
    c, _path = read_file(tmp_path, "list.txt", b"ok@example.com\nb\xffad@example.com\n", "list")
    assert c.sorted_addresses() == ["ok@example.com"]
    assert c.refused[0].reason == ad.NON_ASCII_REASON


def test_map_source_reader_takes_the_key_and_ignores_value_and_comments():
    collector = co.RecipientCollector(["example.com"])
    stream = io.StringIO("# staged\nb@example.com\tOK\r\n\nA@Example.com OK\nno-at-sign\tOK\n")
    fs.read_map(stream, "staging", collector)
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
    saved = fs.FILE_BATCH
    fs.FILE_BATCH = 3  # batches end in the middle of the file
    try:
        fs.FILE_READERS[file_format](io.StringIO(text, newline=""), "f", batched)
    finally:
        fs.FILE_BATCH = saved
    assert (batched.addresses, batched.refused, batched.refused_count, batched.dropped_by_domain,
            batched.ignored_by_type, batched.values_seen) == (
        expected.addresses, expected.refused, expected.refused_count, expected.dropped_by_domain,
        expected.ignored_by_type, expected.values_seen)
