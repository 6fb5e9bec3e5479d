# -*- coding: utf-8 -*-
"""The textfile collector's file: rendering, reading it back, replacing it atomically."""

import os
import stat

import pytest

from ansible_collections.mailrelay.exchange.plugins.module_utils import _textfile as textfile

FAMILIES = [
    textfile.Family("demo_runs_total", "counter", "Runs.", (((("map", "/etc/postfix/a"),), 3),)),
    textfile.Family(
        "demo_reason",
        "gauge",
        "Reason.",
        (
            ((("map", "/etc/postfix/a"), ("reason", "gate")), 1),
            ((("map", "/etc/postfix/a"), ("reason", "lock")), 0),
        ),
    ),
    textfile.Family("demo_seconds", "gauge", "No labels.", (((), 2.5),)),
]


def test_families_render_with_help_type_and_labels_in_order():
    assert textfile.render(FAMILIES) == (
        "# HELP demo_runs_total Runs.\n"
        "# TYPE demo_runs_total counter\n"
        'demo_runs_total{map="/etc/postfix/a"} 3\n'
        "# HELP demo_reason Reason.\n"
        "# TYPE demo_reason gauge\n"
        'demo_reason{map="/etc/postfix/a",reason="gate"} 1\n'
        'demo_reason{map="/etc/postfix/a",reason="lock"} 0\n'
        "# HELP demo_seconds No labels.\n"
        "# TYPE demo_seconds gauge\n"
        "demo_seconds 2.5\n"
    )


def test_integral_floats_are_written_as_integers_and_others_keep_their_digits():
    text = textfile.render([textfile.Family("x", "gauge", "x", (((), 5120.0), ((("a", "1"),), 1764489600.125)))])
    assert "x 5120\n" in text and 'x{a="1"} 1764489600.125\n' in text


def test_what_is_rendered_parses_back_to_the_same_samples():
    assert textfile.parse(textfile.render(FAMILIES)) == {
        ("demo_runs_total", (("map", "/etc/postfix/a"),)): 3.0,
        ("demo_reason", (("map", "/etc/postfix/a"), ("reason", "gate"))): 1.0,
        ("demo_reason", (("map", "/etc/postfix/a"), ("reason", "lock"))): 0.0,
        ("demo_seconds", ()): 2.5,
    }


@pytest.mark.parametrize("value", ['a"b', "a\\b", "a\nb", 'end\\"', "a,b=c", "{}"])
def test_label_values_are_escaped_and_read_back_whole(value):
    text = textfile.render([textfile.Family("x", "gauge", "x", (((("map", value),), 1),))])
    assert len(text.splitlines()) == 3
    assert textfile.parse(text) == {("x", (("map", value),)): 1.0}


@pytest.mark.parametrize("value", [True, "1", None, [1]])
def test_a_sample_value_that_is_not_a_number_is_refused(value):
    with pytest.raises(textfile.TextfileError, match="must be a number"):
        textfile.render([textfile.Family("x", "gauge", "x", (((), value),))])


def test_a_bad_metric_name_is_refused():
    with pytest.raises(textfile.TextfileError, match="not a metric name: '2x'"):
        textfile.render([textfile.Family("2x", "gauge", "x", (((), 1),))])


@pytest.mark.parametrize(
    "text, words",
    [
        ("x{map=\"a\"} 1\ngarbage here too\n", "line 2 is not a sample"),
        ("x{map=a} 1\n", "line 1: cannot read the labels"),
        ('x{map="a"} one\n', "line 1: the value 'one' is not a number"),
        ('x{map="a" 1\n', "line 1 is not a sample"),
    ],
)
def test_a_file_that_is_not_what_render_writes_is_refused_naming_the_line(text, words):
    with pytest.raises(textfile.TextfileError, match=words):
        textfile.parse(text)


def test_comments_and_blank_lines_are_skipped():
    assert textfile.parse("# a comment\n\n# TYPE x gauge\nx 1\n") == {("x", ()): 1.0}


def test_the_file_is_replaced_by_a_rename_from_a_hidden_temporary_beside_it(tmp_path, monkeypatch):
    target = tmp_path / "demo.prom"
    target.write_text("old\n")
    seen = []
    real_replace = os.replace

    def replace(src, dst):
        # At the rename the temporary is complete, in the same directory, and not a *.prom the collector reads.
        seen.append((os.path.dirname(src), os.path.basename(src), open(src).read(), target.read_text()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    textfile.write_atomically(str(target), "new 1\n")
    [(directory, name, content, live_then)] = seen
    assert directory == str(tmp_path) and name.startswith(".demo.prom.") and not name.endswith(".prom")
    assert content == "new 1\n" and live_then == "old\n"
    assert target.read_text() == "new 1\n"
    assert sorted(os.listdir(str(tmp_path))) == ["demo.prom"]


def test_the_file_and_its_directory_are_synced(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(os.path.realpath("/proc/self/fd/%d" % fd))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    textfile.write_atomically(str(tmp_path / "demo.prom"), "x 1\n")
    assert len(synced) == 2
    assert os.path.basename(synced[0]).startswith(".demo.prom.")  # the temporary, before the rename
    assert synced[1] == str(tmp_path)


def test_the_file_is_readable_by_the_collector(tmp_path):
    target = tmp_path / "demo.prom"
    textfile.write_atomically(str(target), "x 1\n")
    assert stat.S_IMODE(os.stat(str(target)).st_mode) == 0o644


def test_a_failed_rename_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "demo.prom"
    target.write_text("old\n")

    def replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="No space left"):
        textfile.write_atomically(str(target), "new 1\n")
    assert target.read_text() == "old\n"
    assert os.listdir(str(tmp_path)) == ["demo.prom"]


def test_a_missing_directory_is_an_error_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nowhere")):
        textfile.write_atomically(str(tmp_path / "nowhere" / "demo.prom"), "x 1\n")
