# -*- coding: utf-8 -*-
"""The keys of a map source and the diff text."""

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.mailrelay.exchange.plugins.module_utils import _map_source as ms


def test_parse_map_keys_reads_a_hand_written_source_as_postmap_does():
    # Checked with postmap -s: an indented line continues the one before (its text is
    # part of b's value), and a carriage return inside a line does not end it.
    text = "# comment\n\nA@example.com OK\nb@example.com\tOK\n  c@example.com   REJECT\n  # note\nd@x\tOK\re@x OK\n"
    assert ms.parse_map_keys(text) == ["a@example.com", "b@example.com", "d@x"]
    assert ms.parse_map_keys(text + "\u00e9@x OK\n \u00e9@y OK\n") == ["a@example.com", "b@example.com", "d@x", "\u00e9@x"]


@given(st.text(alphabet="aB@.#x \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\u2028\u00c9", max_size=60))
@settings(max_examples=1000)
def test_parse_map_keys_agrees_with_line_by_line_parsing(text):
    # The fast path for ASCII sources must find exactly the keys a
    # line-by-line reading finds, whatever the separators.
    assert ms.parse_map_keys(text) == ms._map_keys_line_by_line(text)


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 1 << 20])
def test_map_key_batches_read_whole_lines_whatever_the_chunk_size(chunk_size):
    text = "".join("U%04d@Example.com\tOK\n" % i for i in range(300)) + "# end\nlast@example.com OK"
    keys = [key for batch in ms.map_key_batches(io.StringIO(text), chunk_size) for key in batch]
    assert keys == ["u%04d@example.com" % i for i in range(300)] + ["last@example.com"]


def test_diff_text_counts_everything_and_lists_what_it_was_given():
    diff = ms.MapDiff(["e@x.org", "f@x.org"], ["b@x.org", "c@x.org"], 3, 3)
    after = ms.diff_text(4, diff.added, diff.added_count, "added")
    assert after == "# 4 entries\ne@x.org\tOK\nf@x.org\tOK\n# ... and 1 more added\n"
    assert ms.diff_text(2, diff.removed, 2, "removed") == "# 2 entries\nb@x.org\tOK\nc@x.org\tOK\n"
