# -*- coding: utf-8 -*-
"""The recipient map's metrics: what a run writes, what a failed run keeps, how bad input is refused."""

import os
import shutil
import subprocess

import pytest

from ansible_collections.mailrelay.exchange.plugins.module_utils import _map_metrics as map_metrics
from ansible_collections.mailrelay.exchange.plugins.module_utils import _textfile as textfile

MAP = "/etc/postfix/relay_recipients"
T0 = 1764489600.0
HOUR = 3600


def success(**changes):
    """A successful run's result as relay_recipient_map returns it (the keys the writer reads)."""
    outcome = dict(
        changed=True,
        map_source=MAP,
        entries=5120,
        previous_entries=5118,
        added=3,
        removed=1,
        refused_count=2,
        ldap_entries=5300,
        duration=2.345,
        gate=dict(passed=True, forced=False, reasons=[], old_count=5118, new_count=5120, removed_percent=0.02),
    )
    outcome.update(changes)
    return outcome


def failure(reason, **changes):
    outcome = dict(changed=False, failed=True, msg="it failed", map_source=MAP, failure_reason=reason)
    outcome.update(changes)
    return outcome


# The figures success() reports, as the writer names them.
SUCCESS_FIGURES = dict(
    entries=5120,
    last_success_added=3,
    last_success_removed=1,
    last_success_refused_values=2,
    last_success_directory_entries=5300,
    last_success_duration_seconds=2.345,
)
GATE_REFUSED = dict(passed=False, forced=False, reasons=["..."], old_count=5120, new_count=4000, removed_percent=21.9)


def record(directory, outcome, at, refresh_interval=HOUR, max_shrink_percent=10):
    return map_metrics.record_run(str(directory), outcome, refresh_interval, max_shrink_percent, clock=lambda: at)


def samples(path):
    """{metric suffix or (suffix, reason): value} of a written file."""
    with open(path) as stream:
        parsed = textfile.parse(stream.read())
    values = {}
    for (name, labels), value in parsed.items():
        labels = dict(labels)
        assert labels.pop("map") == MAP
        suffix = name[len(map_metrics.PREFIX):]
        values[(suffix, labels.pop("reason")) if "reason" in labels else suffix] = value
        assert not labels
    return values


def test_a_successful_run_writes_its_figures_and_time(tmp_path):
    path, warnings = record(tmp_path, success(), T0)
    assert warnings == []
    values = samples(path)
    assert values["last_success_timestamp_seconds"] == T0
    assert values["last_run_timestamp_seconds"] == T0
    assert dict((name, values[name]) for name in SUCCESS_FIGURES) == SUCCESS_FIGURES
    assert values["runs_total"] == 1
    assert values["last_failure_timestamp_seconds"] == 0
    assert values["gate_refusals_total"] == 0
    assert values["refresh_interval_seconds"] == HOUR
    assert values["gate_max_shrink_ratio"] == 0.1
    for reason in map_metrics.FAILURE_REASONS:
        assert values[("failures_total", reason)] == 0
        assert values[("last_failure_reason", reason)] == 0


def test_the_file_is_named_for_the_map_and_lies_in_the_textfile_directory(tmp_path):
    path, _warnings = record(tmp_path, success(), T0)
    assert os.path.dirname(path) == str(tmp_path)
    assert os.path.basename(path).startswith("mailrelay_recipient_map-etc_postfix_relay_recipients-")
    assert path.endswith(".prom")
    assert os.listdir(str(tmp_path)) == [os.path.basename(path)]


def test_two_maps_whose_slugs_agree_get_two_files(tmp_path):
    first = map_metrics.metrics_path(str(tmp_path), "/etc/postfix/relay_recipients")
    second = map_metrics.metrics_path(str(tmp_path), "/etc/postfix/relay/recipients")
    assert first != second


def test_a_failed_run_keeps_the_last_success_and_its_figures(tmp_path):
    record(tmp_path, success(), T0)
    path, warnings = record(tmp_path, failure("directory"), T0 + HOUR)
    assert warnings == []
    values = samples(path)
    assert values["last_success_timestamp_seconds"] == T0
    assert dict((name, values[name]) for name in SUCCESS_FIGURES) == SUCCESS_FIGURES
    assert values["last_failure_timestamp_seconds"] == T0 + HOUR
    assert values["last_run_timestamp_seconds"] == T0 + HOUR
    assert values["runs_total"] == 2
    assert values[("failures_total", "directory")] == 1
    assert values[("last_failure_reason", "directory")] == 1
    assert sum(values[("last_failure_reason", r)] for r in map_metrics.FAILURE_REASONS) == 1


def test_counters_carry_over_and_the_last_reason_follows_the_last_failure(tmp_path):
    record(tmp_path, failure("lock"), T0)
    record(tmp_path, failure("lock"), T0 + 1)
    record(tmp_path, success(), T0 + 2)
    path, _warnings = record(tmp_path, failure("map_build"), T0 + 3)
    values = samples(path)
    assert values[("failures_total", "lock")] == 2
    assert values[("failures_total", "map_build")] == 1
    assert values[("last_failure_reason", "lock")] == 0
    assert values[("last_failure_reason", "map_build")] == 1
    assert values["runs_total"] == 4
    assert values["last_success_timestamp_seconds"] == T0 + 2


def test_a_success_after_a_failure_keeps_the_failure_time_and_reason(tmp_path):
    record(tmp_path, failure("gate", gate=GATE_REFUSED), T0)
    path, _warnings = record(tmp_path, success(), T0 + HOUR)
    values = samples(path)
    # The alerts compare the two times: the failure is over once the success is newer.
    assert values["last_failure_timestamp_seconds"] == T0
    assert values["last_success_timestamp_seconds"] == T0 + HOUR
    assert values[("last_failure_reason", "gate")] == 1


def test_a_gate_refusal_counts_and_records_the_refused_size(tmp_path):
    path, _warnings = record(tmp_path, failure("gate", gate=GATE_REFUSED), T0)
    values = samples(path)
    assert values["gate_refusals_total"] == 1
    assert values["gate_last_refused_entries"] == 4000
    assert values["last_success_timestamp_seconds"] == 0
    assert values["entries"] == 0


def test_a_forced_install_is_a_success_and_still_a_gate_refusal(tmp_path):
    forced = dict(GATE_REFUSED, forced=True)
    path, _warnings = record(tmp_path, success(entries=4000, removed=1121, gate=forced), T0)
    values = samples(path)
    assert values["gate_refusals_total"] == 1
    assert values["entries"] == 4000
    assert values["last_success_timestamp_seconds"] == T0
    assert values[("failures_total", "gate")] == 0


def test_a_failure_before_the_gate_ran_is_no_gate_refusal(tmp_path):
    path, _warnings = record(tmp_path, failure("directory"), T0)
    assert samples(path)["gate_refusals_total"] == 0


def test_the_settings_of_the_last_run_are_written(tmp_path):
    record(tmp_path, success(), T0, refresh_interval=HOUR, max_shrink_percent=10)
    path, _warnings = record(tmp_path, failure("lock"), T0 + 1, refresh_interval=900, max_shrink_percent=2.5)
    values = samples(path)
    assert values["refresh_interval_seconds"] == 900
    assert values["gate_max_shrink_ratio"] == 0.025


def test_another_maps_samples_in_the_file_are_not_taken(tmp_path):
    other = map_metrics.families(dict(map_metrics.initial_state(), runs_total=7, entries=99), "/elsewhere")
    path = map_metrics.metrics_path(str(tmp_path), MAP)
    with open(path, "w") as stream:
        stream.write(textfile.render(other))
    state = map_metrics.state_from_text(open(path).read(), MAP)
    assert state == map_metrics.initial_state()


def test_the_previous_file_round_trips_through_the_state():
    state = map_metrics.next_state(map_metrics.initial_state(), failure("reload"), T0, HOUR, 10)
    state = map_metrics.next_state(state, success(), T0 + 5, HOUR, 10)
    text = textfile.render(map_metrics.families(state, MAP))
    assert map_metrics.state_from_text(text, MAP) == state


def test_next_state_does_not_change_the_previous_state():
    previous = map_metrics.initial_state()
    map_metrics.next_state(previous, failure("lock"), T0, HOUR, 10)
    assert previous == map_metrics.initial_state()


def test_an_unreadable_previous_file_is_a_warning_and_the_run_starts_from_zero(tmp_path):
    path = map_metrics.metrics_path(str(tmp_path), MAP)
    with open(path, "w") as stream:
        stream.write("this is not a metrics file\n")
    written, warnings = record(tmp_path, failure("lock"), T0)
    assert written == path
    [warning] = warnings
    assert path in warning and "line 1 is not a sample" in warning and "counters start again from 0" in warning
    values = samples(path)
    assert values["runs_total"] == 1
    assert values["last_success_timestamp_seconds"] == 0


def test_a_previous_file_that_is_not_utf8_is_a_warning(tmp_path):
    path = map_metrics.metrics_path(str(tmp_path), MAP)
    with open(path, "wb") as stream:
        stream.write(b"\xff\xfe\x00")
    _written, warnings = record(tmp_path, success(), T0)
    assert len(warnings) == 1 and "cannot be read" in warnings[0]


@pytest.mark.parametrize(
    "outcome, words",
    [
        ([], "must be the module's result dict, got list"),
        (dict(success(), map_source=None), "needs map_source, the absolute map path, got None"),
        (dict(success(), map_source="relay_recipients"), "got 'relay_recipients'"),
        (dict(success(), failed="yes"), "failed='yes'; it must be true or false"),
        (failure(None), "a failed run needs failure_reason, one of arguments, lock, directory,"),
        (failure("ldap timeout"), "got 'ldap timeout'"),
        (dict(success(), entries=None), "needs entries as a number of at least 0, got None"),
        (dict(success(), added=-1), "needs added as a number of at least 0, got -1"),
        (dict(success(), duration=float("nan")), "needs duration as a number"),
        (dict(success(), refused_count=True), "needs refused_count as a number of at least 0, got True"),
        (dict(success(), removed="1"), "needs removed as a number of at least 0, got '1'"),
        (dict(success(), ldap_entries=None), "needs ldap_entries"),
        (dict(success(), gate=dict(new_count=5)), "a gate without passed true or false"),
        (dict(success(), gate=dict(GATE_REFUSED, new_count=None)), "needs new_count as a number"),
    ],
)
def test_a_bad_outcome_is_refused_clearly_and_nothing_is_written(tmp_path, outcome, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        record(tmp_path, outcome, T0)
    assert os.listdir(str(tmp_path)) == []


@pytest.mark.parametrize(
    "interval, shrink, words",
    [
        (0, 10, "refresh_interval must be a number of seconds above 0, got 0"),
        (None, 10, "refresh_interval must be a number of seconds above 0, got None"),
        ("1h", 10, "got '1h'"),
        (HOUR, 101, "max_shrink_percent must be a number from 0 to 100, got 101"),
        (HOUR, -1, "got -1"),
        (HOUR, None, "got None"),
    ],
)
def test_bad_settings_are_refused_clearly_and_nothing_is_written(tmp_path, interval, shrink, words):
    with pytest.raises(ValueError, match=words):
        record(tmp_path, success(), T0, refresh_interval=interval, max_shrink_percent=shrink)
    assert os.listdir(str(tmp_path)) == []


def test_a_bad_outcome_leaves_the_previous_file_as_it_was(tmp_path):
    path, _warnings = record(tmp_path, success(), T0)
    before = open(path).read()
    with pytest.raises(ValueError):
        record(tmp_path, failure("not a reason"), T0 + 1)
    assert open(path).read() == before


def test_the_reason_label_only_ever_takes_the_documented_values(tmp_path):
    for reason in map_metrics.FAILURE_REASONS:
        path, _warnings = record(tmp_path, failure(reason), T0)
    reasons = {labels for (_name, labels) in textfile.parse(open(path).read())}
    assert {dict(labels).get("reason") for labels in reasons} == set(map_metrics.FAILURE_REASONS) | {None}
    for reason in map_metrics.FAILURE_REASONS:
        assert "``%s``" % reason in map_metrics.__doc__


def test_a_file_that_cannot_be_written_raises_and_keeps_the_previous_one(tmp_path, monkeypatch):
    path, _warnings = record(tmp_path, success(), T0)
    before = open(path).read()

    def replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="No space left"):
        record(tmp_path, failure("lock"), T0 + 1)
    assert open(path).read() == before


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian: apt-get install prometheus)")
def test_promtool_accepts_every_file_the_writer_produces(tmp_path):
    runs = [success(), failure("gate", gate=GATE_REFUSED), failure("directory"), success(ldap_entries=0, duration=0)]
    for at, outcome in enumerate(runs):
        path, _warnings = record(tmp_path, outcome, T0 + at * HOUR)
        with open(path, "rb") as stream:
            proc = subprocess.run([PROMTOOL, "check", "metrics"], stdin=stream, capture_output=True, check=False)
        # promtool prints lint problems (missing _total, units, ...) and exits non-zero for them.
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b""), open(path).read()
