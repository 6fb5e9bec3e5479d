# -*- coding: utf-8 -*-
"""Patching a map source: the bytes sort -u would write for the same keys, and an exact diff."""

import hashlib
import random

from ansible_collections.mailrelay.exchange.plugins.module_utils import _postfix_map as pm
from ansible_collections.mailrelay.exchange.plugins.module_utils._map_patch import patch_source


def sorted_source(tmp_path, name, keys):
    """A map source of ``keys`` as the full export writes it (sort -u in the C locale)."""
    work = pm.WorkDir(str(tmp_path / name))
    source = pm.SortedSource(work)
    source.update(sorted(keys))
    with open(source.finish(), "rb") as stream:
        data = stream.read()
    work.remove()
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_a_patched_source_is_the_one_sort_would_write_for_the_same_keys(tmp_path):
    rng = random.Random(7)
    # Names that sort differently by bytes than by letters: dots, digits, dashes, upper-case-free.
    pool = ["%s%d%s@%s" % (rng.choice(["a", "a.b", "a-b", "z", "b_"]), n, rng.choice(["", ".x", "-1"]),
                           rng.choice(["example.com", "example.org", "ex.com"])) for n in range(400)]
    for round_ in range(20):
        live = set(rng.sample(pool, 150))
        remove = set(rng.sample(pool, rng.randint(0, 40)))
        add = set(rng.sample(pool, rng.randint(0, 40)))
        live_path = sorted_source(tmp_path, "live%d" % round_, live)
        expected = (live - remove) | add
        patched = patch_source(live_path, str(tmp_path / ("new%d" % round_)), remove, add, 1000, watch=["A1@EXAMPLE.COM"])
        with open(str(tmp_path / ("new%d" % round_)), "rb") as stream:
            data = stream.read()
        with open(sorted_source(tmp_path, "full%d" % round_, expected), "rb") as stream:
            assert data == stream.read()
        assert patched.sha256 == hashlib.sha256(data).hexdigest() and patched.count == len(expected)
        assert patched.diff.added == sorted(expected - live, key=lambda k: k.encode())
        assert patched.diff.removed == sorted(live - expected, key=lambda k: k.encode())
        assert (patched.diff.added_count, patched.diff.removed_count) == (len(expected - live), len(live - expected))


def test_keys_not_there_to_remove_or_there_already_change_nothing(tmp_path):
    live = sorted_source(tmp_path, "live", {"a@example.com", "b@example.com"})
    patched = patch_source(live, str(tmp_path / "new"), {"c@example.com"}, {"a@example.com"}, 10)
    assert (tmp_path / "new").read_bytes() == (tmp_path / "live").read_bytes()
    assert (patched.diff.added_count, patched.diff.removed_count) == (0, 0)


def test_a_key_both_removed_and_added_stays(tmp_path):
    live = sorted_source(tmp_path, "live", {"a@example.com", "b@example.com"})
    patched = patch_source(live, str(tmp_path / "new"), {"a@example.com"}, {"a@example.com", "c@example.com"}, 10)
    assert (tmp_path / "new").read_text() == "a@example.com\tOK\nb@example.com\tOK\nc@example.com\tOK\n"
    assert patched.diff.added == ["c@example.com"] and patched.diff.removed == []


def test_lists_stop_at_the_limit_but_counts_do_not(tmp_path):
    live = sorted_source(tmp_path, "live", {"k%02d@example.com" % n for n in range(30)})
    patched = patch_source(live, str(tmp_path / "new"), {"k%02d@example.com" % n for n in range(20)},
                           {"n%02d@example.com" % n for n in range(5)}, 3)
    assert patched.diff.removed == ["k00@example.com", "k01@example.com", "k02@example.com"]
    assert patched.diff.added == ["n00@example.com", "n01@example.com", "n02@example.com"]
    assert (patched.diff.added_count, patched.diff.removed_count, patched.count) == (5, 20, 15)


def test_an_emptied_source_is_an_empty_file_and_watched_keys_are_looked_up(tmp_path):
    live = sorted_source(tmp_path, "live", {"a@example.com", "postmaster@example.com"})
    patched = patch_source(live, str(tmp_path / "new"), set(), set(), 10, watch=["Postmaster@example.com", "x@example.com"])
    assert patched.present == {"postmaster@example.com"}
    patched = patch_source(live, str(tmp_path / "empty"), {"a@example.com", "postmaster@example.com"}, set(), 10)
    assert (tmp_path / "empty").read_bytes() == b"" and patched.count == 0
