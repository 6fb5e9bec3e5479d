# -*- coding: utf-8 -*-
"""The monitoring role's Postfix collector, run with stand-in postconf, journalctl and postqueue.

The stand-ins are shell scripts on PATH that print what the real programs
print and record their arguments; the lab (molecule/monitoring) runs the
collector against the real ones.
"""

import json
import os
import shutil
import stat
import subprocess
import time

import pytest
from conftest import load_postfix_collector

from ansible_collections.mailrelay.exchange.plugins.module_utils import _textfile

collector = load_postfix_collector()

UNKNOWN = ("NOQUEUE: reject: RCPT from unknown[10.0.0.30]: 550 5.1.1 <nobody@example.com>: Recipient address "
           "rejected: User unknown in relay recipient table; from=<a@b.test> to=<nobody@example.com> proto=ESMTP")
SENT = ("4QwZ1: to=<user1@example.com>, relay=10.0.0.20[10.0.0.20]:25, delay=0.1, delays=0/0/0/0, dsn=2.0.0, "
        "status=sent (250 2.0.0 Ok)")


def entry(cursor, identifier, message):
    return json.dumps({"__CURSOR": cursor, "SYSLOG_IDENTIFIER": identifier, "MESSAGE": message,
                       "SYSLOG_FACILITY": "2"})


class Lab(object):
    def __init__(self, tmp_path, monkeypatch):
        self.bin = tmp_path / "bin"
        self.textfile = tmp_path / "textfile"
        self.state = tmp_path / "state"
        for path in (self.bin, self.textfile, self.state):
            path.mkdir()
        self.calls = tmp_path / "calls"
        self.journal = tmp_path / "journal.json"
        self.queue = tmp_path / "queue.json"
        self.journal.write_text("")
        self.queue.write_text("")
        self.tool("postconf", 'printf "postfix\\nexample.com, example.org\\n"')
        self.tool("journalctl", 'echo "journalctl $*" >> %s; cat %s' % (self.calls, self.journal))
        self.tool("postqueue", "cat %s" % self.queue)
        monkeypatch.setenv("PATH", "%s:%s" % (self.bin, os.environ["PATH"]))

    def tool(self, name, body):
        path = self.bin / name
        path.write_text("#!/bin/sh\n%s\n" % body)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)

    def run(self, *extra):
        return collector.main(["--textfile-dir", str(self.textfile), "--state-dir", str(self.state), "--once"]
                              + list(extra))

    def metrics(self):
        text = (self.textfile / "mailrelay_postfix.prom").read_text()
        return dict(((name, labels), value) for (name, labels), value in _textfile.parse(text).items())

    def journal_calls(self):
        return self.calls.read_text().splitlines()


@pytest.fixture(name="lab")
def fixture_lab(tmp_path, monkeypatch):
    return Lab(tmp_path, monkeypatch)


def test_first_run_starts_now_then_follows_the_cursor(lab):
    before = int(time.time())
    lab.journal.write_text("\n".join([entry("c1", "postfix/smtpd", UNKNOWN), entry("c2", "postfix/smtp", SENT)]))
    lab.queue.write_text(json.dumps({"queue_name": "deferred", "arrival_time": time.time() - 1000,
                                     "recipients": [{"address": "u@example.com"}]}) + "\n")
    assert lab.run("--deferred-age", "600", "--queue-messages", "50", "--rejects-per-second", "0.5") == 0
    first = lab.journal_calls()[0].split()
    assert first[-2] == "--since" and before <= int(first[-1].lstrip("@")) <= before + 2
    assert "SYSLOG_FACILITY=2" in first
    metrics = lab.metrics()
    assert metrics[("mailrelay_postfix_smtpd_rejects_total", (("reason", "unknown_recipient"),))] == 1
    assert metrics[("mailrelay_postfix_deliveries_total", (("destination", "exchange"), ("status", "sent")))] == 1
    age = metrics[("mailrelay_postfix_queue_oldest_age_seconds", (("queue", "deferred"), ("destination", "exchange")))]
    assert 999 <= age <= 1005
    assert metrics[("mailrelay_postfix_queue_messages", (("queue", "deferred"), ("destination", "exchange")))] == 1
    assert metrics[("mailrelay_postfix_queue_messages", (("queue", "active"), ("destination", "internet")))] == 0
    assert metrics[("mailrelay_postfix_threshold_deferred_age_seconds", ())] == 600
    assert metrics[("mailrelay_postfix_threshold_queue_messages", ())] == 50
    assert metrics[("mailrelay_postfix_threshold_rejects_per_second", ())] == 0.5
    assert metrics[("mailrelay_postfix_queue_read_success", ())] == 1
    assert metrics[("mailrelay_postfix_log_read_success", ())] == 1
    assert metrics[("mailrelay_postfix_collector_log_entries_total", ())] == 2
    assert stat.S_IMODE(os.stat(lab.state / "state.json").st_mode) == 0o600

    # The next run reads after the saved cursor and adds to the counters.
    lab.journal.write_text(entry("c3", "postfix/smtpd", UNKNOWN))
    assert lab.run() == 0
    assert lab.journal_calls()[1].split()[-2:] == ["--after-cursor", "c2"]
    assert lab.metrics()[("mailrelay_postfix_smtpd_rejects_total", (("reason", "unknown_recipient"),))] == 2
    assert json.loads((lab.state / "state.json").read_text())["cursor"] == "c3"


def test_unreadable_queue_drops_the_queue_series_and_keeps_the_counters(lab):
    lab.journal.write_text(entry("c1", "postfix/smtpd", UNKNOWN))
    lab.tool("postqueue", 'echo "postqueue: fatal: Queue report unavailable - mail system is down" >&2; exit 69')
    assert lab.run() == 1
    metrics = lab.metrics()
    assert metrics[("mailrelay_postfix_queue_read_success", ())] == 0
    assert not [key for key in metrics if key[0].startswith("mailrelay_postfix_queue_messages")]
    assert metrics[("mailrelay_postfix_smtpd_rejects_total", (("reason", "unknown_recipient"),))] == 1


def test_garbled_queue_output_counts_as_unreadable(lab):
    lab.tool("postqueue", "echo 'not json'")
    assert lab.run() == 1
    assert lab.metrics()[("mailrelay_postfix_queue_read_success", ())] == 0


def test_failed_journal_read_keeps_counters_and_cursor(lab):
    lab.journal.write_text(entry("c1", "postfix/smtpd", UNKNOWN))
    assert lab.run() == 0
    lab.tool("journalctl", 'echo "Failed to seek to cursor" >&2; exit 1')
    assert lab.run() == 1
    metrics = lab.metrics()
    assert metrics[("mailrelay_postfix_log_read_success", ())] == 0
    assert metrics[("mailrelay_postfix_smtpd_rejects_total", (("reason", "unknown_recipient"),))] == 1
    assert json.loads((lab.state / "state.json").read_text())["cursor"] == "c1"


def test_corrupt_state_starts_again_from_now(lab):
    (lab.state / "state.json").write_text("{not json")
    assert lab.run() == 0
    assert lab.journal_calls()[0].split()[-2] == "--since"
    assert lab.metrics()[("mailrelay_postfix_collector_log_entries_total", ())] == 0


def test_failed_postconf_leaves_the_last_metrics_file(lab):
    lab.journal.write_text(entry("c1", "postfix/smtpd", UNKNOWN))
    assert lab.run() == 0
    before = (lab.textfile / "mailrelay_postfix.prom").read_text()
    lab.tool("postconf", "echo 'postconf: fatal: open /etc/postfix/main.cf: No such file' >&2; exit 1")
    assert lab.run() == 1
    assert (lab.textfile / "mailrelay_postfix.prom").read_text() == before


@pytest.mark.parametrize("args", [["--interval", "2"], ["--deferred-age", "59"], ["--queue-messages", "0"],
                                  ["--rejects-per-second", "x"], []])
def test_bad_arguments_are_refused(lab, args, capsys):
    argv = args if args else ["--state-dir", str(lab.state)]
    with pytest.raises(SystemExit) as exc:
        collector.main(argv if not args else ["--textfile-dir", "t", "--state-dir", "s"] + args)
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


def test_check_changes_nothing_and_names_what_is_wrong(lab, capsys):
    assert lab.run("--check") == 0
    assert not os.listdir(str(lab.textfile)) and not os.listdir(str(lab.state))
    assert not lab.calls.exists()
    assert "relay domains: example.com example.org" in capsys.readouterr().err
    lab.tool("postconf", "echo 'postconf: fatal: bad main.cf' >&2; exit 1")
    missing = str(lab.textfile) + "-missing"
    code = collector.main(["--textfile-dir", missing, "--state-dir", str(lab.state), "--check"])
    err = capsys.readouterr().err
    assert code == 1
    assert "%s is not a writable directory" % missing in err
    assert "postconf: fatal: bad main.cf" in err


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed (Debian: apt-get install prometheus)")
@pytest.mark.parametrize("queue_ok", [True, False])
def test_promtool_accepts_the_metrics_file(lab, queue_ok):
    lab.journal.write_text("\n".join([entry("c1", "postfix/smtpd", UNKNOWN), entry("c2", "postfix/smtp", SENT)]))
    if not queue_ok:
        lab.tool("postqueue", "exit 69")
    lab.run()
    with open(str(lab.textfile / "mailrelay_postfix.prom"), "rb") as stream:
        proc = subprocess.run([shutil.which("promtool"), "check", "metrics"], stdin=stream, capture_output=True,
                              check=False)
    # promtool prints lint problems (missing _total, units, ...) and exits non-zero for them.
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")
