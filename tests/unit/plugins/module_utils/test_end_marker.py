# -*- coding: utf-8 -*-
"""The end marker of a pushed file: what the uploader writes, and the check of a whole upload."""

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.mailrelay.exchange.plugins.module_utils import _end_marker as end_marker

BODY = b"u1: SMTP:a@example.com\nu2: smtp:b@example.com\n"


def marked(body):
    return body + end_marker.format_marker(body).encode("ascii")


def test_the_marker_counts_the_lines_and_hashes_every_byte_before_it():
    line = end_marker.format_marker(BODY)
    assert line == "#mailrelay-end lines=2 sha256=%s\n" % hashlib.sha256(BODY).hexdigest()
    assert end_marker.parse_marker(line.encode()) == (2, hashlib.sha256(BODY).hexdigest())


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"#mailrelay-end lines=2\n",
        b"#mailrelay-end lines=x sha256=" + b"0" * 64 + b"\n",
        b"#mailrelay-end lines=2 sha256=" + b"0" * 63 + b"\n",
        b"#mailrelay-end lines=2 sha256=" + b"A" * 64 + b"\n",
        b"#mailrelay-end lines=2 sha256=" + b"0" * 64 + b" more\n",
        b"u3: SMTP:c@example.com\n",
    ],
)
def test_anything_else_is_not_a_marker(line):
    assert end_marker.parse_marker(line) is None


def test_a_marker_may_end_with_crlf_or_without_a_line_end():
    digest = "0" * 64
    for end in (b"\r\n", b"\n", b""):
        assert end_marker.parse_marker(b"#mailrelay-end lines=7 sha256=" + digest.encode() + end) == (7, digest)


def test_a_whole_upload_is_copied_without_its_marker(tmp_path):
    src, dest = tmp_path / "virtual.txt", tmp_path / "copy"
    src.write_bytes(marked(BODY))
    assert end_marker.snapshot(str(src), str(dest)) == (2, hashlib.sha256(BODY).hexdigest())
    assert dest.read_bytes() == BODY


def test_an_empty_export_with_its_marker_is_complete(tmp_path):
    src, dest = tmp_path / "virtual.txt", tmp_path / "copy"
    src.write_bytes(marked(b""))
    assert end_marker.snapshot(str(src), str(dest)) == (0, hashlib.sha256(b"").hexdigest())
    assert dest.read_bytes() == b""


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", "the file is empty"),
        (BODY, "'u2: smtp:b@example.com'"),
        (b"x" * 1000, "too long to be a marker"),
        (b"x" * 100, "'" + "x" * 80 + "'"),
    ],
)
def test_a_file_without_a_marker_is_refused_with_what_it_ends_with(tmp_path, content, words):
    src = tmp_path / "virtual.txt"
    src.write_bytes(content)
    with pytest.raises(end_marker.EndMarkerError) as error:
        end_marker.snapshot(str(src), str(tmp_path / "copy"))
    assert "has no end marker" in str(error.value) and words in str(error.value)


def test_a_transfer_cut_short_is_refused(tmp_path):
    whole = marked(BODY * 50)
    src = tmp_path / "virtual.txt"
    for cut in (1, len(whole) // 2, len(whole) - 40):
        src.write_bytes(whole[:cut])
        with pytest.raises(end_marker.EndMarkerError, match="has no end marker"):
            end_marker.snapshot(str(src), str(tmp_path / "copy"))


def test_a_body_that_does_not_match_its_marker_is_refused_with_both_counts(tmp_path):
    src = tmp_path / "virtual.txt"
    # A line lost in the middle: the marker of the whole body after what arrived.
    src.write_bytes(BODY.splitlines(True)[0] + end_marker.format_marker(BODY).encode())
    with pytest.raises(end_marker.EndMarkerError) as error:
        end_marker.snapshot(str(src), str(tmp_path / "copy"))
    message = str(error.value)
    assert "the marker says 2 lines" in message and "hold 1 lines" in message
    assert hashlib.sha256(BODY).hexdigest() in message


def test_a_changed_byte_is_found_even_when_the_line_count_agrees(tmp_path):
    src = tmp_path / "virtual.txt"
    src.write_bytes(BODY.replace(b"a@", b"c@") + end_marker.format_marker(BODY).encode())
    with pytest.raises(end_marker.EndMarkerError, match="does not match its end marker"):
        end_marker.snapshot(str(src), str(tmp_path / "copy"))


def test_a_long_upload_is_read_in_chunks_and_hashed_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(end_marker, "_CHUNK", 7)
    body = b"".join(b"u%d: SMTP:user%d@example.com\n" % (i, i) for i in range(300))
    src, dest = tmp_path / "virtual.txt", tmp_path / "copy"
    src.write_bytes(marked(body))
    assert end_marker.snapshot(str(src), str(dest)) == (300, hashlib.sha256(body).hexdigest())
    assert dest.read_bytes() == body


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=30), st.data())
def test_every_marked_body_is_accepted_and_every_strict_prefix_refused(tmp_path_factory, lines, data):
    tmp = tmp_path_factory.mktemp("marker")
    body = b"".join(line + b"\n" for line in lines)
    whole = marked(body)
    src, dest = tmp / "virtual.txt", tmp / "copy"
    src.write_bytes(whole)
    assert end_marker.snapshot(str(src), str(dest)) == (len(lines), hashlib.sha256(body).hexdigest())
    assert dest.read_bytes() == body
    # Cut anywhere before the marker's last digit: never accepted.
    cut = data.draw(st.integers(min_value=0, max_value=len(whole) - 2))
    src.write_bytes(whole[:cut])
    with pytest.raises(end_marker.EndMarkerError):
        end_marker.snapshot(str(src), str(dest))
