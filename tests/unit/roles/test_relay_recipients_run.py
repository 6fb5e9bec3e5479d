# -*- coding: utf-8 -*-
"""The relay_recipients runner's DirSync parts: the approval copy, the journal line, warnings of any ansible-core."""

import json
import os
import stat
import sys

from conftest import load_script

runner = load_script("roles/relay_recipients/files/relay-recipients-run", "relay_recipients_run")


def test_an_approval_runs_a_private_copy_of_the_job_with_the_number(tmp_path, monkeypatch):
    job = tmp_path / "dirsync.json"
    job.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {"source": "dirsync", "bind_password": "secret"}}))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    copy = runner.approved_args(str(job), 50)
    try:
        assert json.load(open(copy))["ANSIBLE_MODULE_ARGS"] == {"source": "dirsync", "bind_password": "secret",
                                                                "dirsync_approve_removals": 50}
        assert stat.S_IMODE(os.stat(copy).st_mode) == 0o600
        # The job file itself is left as it was.
        assert "dirsync_approve_removals" not in job.read_text()
    finally:
        os.unlink(copy)


def test_the_journal_line_names_a_full_resync_and_its_reason():
    result = {"dirsync": {"entries_read": 81, "objects_changed": 46, "objects_deleted": 0, "held_removals": 0,
                          "full_resync": True, "reason": "cookie_refused", "reason_detail": "Unable to unmarshall cookie"}}
    line = runner.dirsync_summary(result)
    assert "entries_read=81" in line and "full_resync=cookie_refused (Unable to unmarshall cookie)" in line
    assert runner.dirsync_summary({"changed": False}) == ""
    assert "full_resync" not in runner.dirsync_summary({"dirsync": {"full_resync": False, "entries_read": 0}})


def test_warnings_read_as_text_from_old_and_new_ansible_core():
    assert runner.warning_text("plain") == "plain"
    event = {"event": {"msg": "DirSync full resync (dc_changed): ..."}, "__ansible_type": "Event"}
    assert runner.warning_text(event) == "DirSync full resync (dc_changed): ..."


def test_an_approval_is_passed_on_by_the_command_line(monkeypatch):
    calls = []
    monkeypatch.setattr(runner, "run_job", lambda job, approve=None: calls.append((job, approve)) or 0)
    monkeypatch.setattr(sys, "argv", ["relay-recipients-run", "--approve-removals", "50", "dirsync"])
    assert runner.main() == 0 and calls == [("dirsync", 50)]
