# -*- coding: utf-8 -*-
"""The module end to end with a file source: contract, gate, check and diff mode, swap.

The module runs as Ansible runs it, in a child Python process with its arguments
in a JSON file, so exit_json/fail_json and the argument spec are exercised too.
The map is compiled by the real postmap; without it these tests are skipped.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest

from ansible_collections.mailrelay.exchange import plugins as _plugins

# Where ansible_collections/ lies (conftest.py put it on sys.path): the module runs from there.
PYROOT = os.path.abspath(os.path.join(list(_plugins.__path__)[0], *[os.pardir] * 4))
MODULE = "ansible_collections.mailrelay.exchange.plugins.modules.relay_recipient_map"
POSTMAP = shutil.which("postmap") or ("/usr/sbin/postmap" if os.path.exists("/usr/sbin/postmap") else None)
needs_postmap = pytest.mark.skipif(POSTMAP is None, reason="postmap is not installed (apt-get install postfix postfix-cdb)")

USERS = ["postmaster@example.com"] + ["user%03d@example.com" % i for i in range(100)]


def render_map(addresses):
    """The map source the module must write, computed here on its own: sorted ``address<TAB>OK`` lines."""
    return "".join("%s\tOK\n" % address for address in sorted({a.lower() for a in addresses}))


def content_hash(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Env:
    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.config = tmp_path / "postfix"
        self.config.mkdir()
        (self.config / "main.cf").write_text("")
        self.maps = tmp_path / "maps"
        self.maps.mkdir()
        self.map_path = str(self.maps / "relay_recipients")
        self.src = tmp_path / "virtual.txt"
        # The module's temporary directory (check mode works there): must be empty after every run.
        self.tmpdir = tmp_path / "tmp"
        self.tmpdir.mkdir()

    def write_source(self, addresses, extra=""):
        lines = ["u%d: SMTP:%s" % (n, a) for n, a in enumerate(addresses)]
        self.src.write_text("\r\n".join(lines) + "\r\n" + extra)

    def run(self, check=False, diff=False, **args):
        params = dict(
            source="file",
            src=str(self.src),
            format="virtual",
            domains=["example.com"],
            map_path=self.map_path,
            config_directory=str(self.config),
            min_entries=1,  # the first build needs an explicit floor; None omits it
        )
        params.update(args)
        params = {k: v for k, v in params.items() if v is not None}  # as a playbook omits them
        params.update(_ansible_check_mode=check, _ansible_diff=diff)
        args_file = self.tmp / "args.json"
        args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": params}))
        env = dict(os.environ, PYTHONPATH=PYROOT, PATH=os.environ.get("PATH", "") + ":/usr/sbin", TMPDIR=str(self.tmpdir))
        proc = subprocess.run(
            [sys.executable, "-m", MODULE, str(args_file)], capture_output=True, text=True, env=env, check=False
        )
        try:
            return json.loads(proc.stdout[proc.stdout.index("{"):])
        except ValueError:
            raise AssertionError("module output is not JSON: %s %s" % (proc.stdout, proc.stderr))

    def listing(self):
        """The map directory without the build lock, which stays once a build ran (see its own test)."""
        return sorted(name for name in os.listdir(str(self.maps)) if name != "relay_recipients.lock")

    def live_source(self):
        with open(self.map_path) as stream:
            return stream.read()


@pytest.fixture
def env(tmp_path):
    return Env(tmp_path)


def test_missing_file_options_are_rejected_by_the_argument_spec(env):
    result = env.run(src=None)
    assert result["failed"] and "src" in result["msg"]
    result = env.run(format="csv")
    assert result["failed"] and "csv_column" in result["msg"]


def test_ldap_source_needs_uris_and_base_dns_and_refuses_plain_ldap(env):
    result = env.run(source="ldap", src=None)
    assert result["failed"] and "server_uris" in result["msg"] and "base_dns" in result["msg"]
    result = env.run(source="ldap", src=None, server_uris=["ldap://127.0.0.1:1"], base_dns=["DC=x"])
    assert result["failed"] and "allow_plaintext" in result["msg"]
    assert env.listing() == []


def test_dirsync_needs_a_state_directory_the_default_filter_and_a_directory_that_answers(env, tmp_path):
    ldap = dict(source="dirsync", src=None, server_uris=["ldaps://127.0.0.1:1"], base_dns=["DC=x"], timeout=2)
    result = env.run(**ldap)
    assert result["failed"] and "dirsync_state_dir" in result["msg"]
    state_dir = str(tmp_path / "dirsync")
    result = env.run(dirsync_state_dir=state_dir, filter="(mail=*)", **ldap)
    assert result["failed"] and "default filter" in result["msg"] and result["failure_reason"] == "arguments"
    result = env.run(dirsync_state_dir=state_dir, **ldap)
    assert result["failed"] and "no directory server could be used" in result["msg"]
    assert result["failure_reason"] == "directory"
    # Nothing is written when the directory never answered: no map, no state.
    assert env.listing() == [] and not os.path.exists(state_dir)


def test_the_new_directory_switches_are_booleans(env):
    for option in ("fail_on_references", "exclude_system_mailboxes"):
        result = env.run(**{option: "sometimes"})
        assert result["failed"] and option in result["msg"] and "bool" in result["msg"]
    assert env.listing() == []


def test_password_is_required_with_bind_dn_and_never_returned(env):
    result = env.run(source="ldap", src=None, server_uris=["ldaps://127.0.0.1:1"], base_dns=["DC=x"], bind_dn="svc")
    assert result["failed"] and "bind_password" in result["msg"]
    result = env.run(
        source="ldap", src=None, server_uris=["ldaps://127.0.0.1:1"], base_dns=["DC=x"],
        bind_dn="svc", bind_password="Pa55-w0rd-secret", timeout=2,
    )
    assert result["failed"] and "no directory server could be used" in result["msg"]
    assert "Pa55-w0rd-secret" not in json.dumps(result)
    assert env.listing() == []


@needs_postmap
def test_first_build_then_nothing_changed(env):
    env.write_source(USERS, extra="u: X500:/o=Org/cn=x\r\nbad: SMTP:bad user@example.com\r\nf: SMTP:a@foreign.net\r\n")
    first = env.run()
    assert first["changed"] and not first.get("failed"), first
    assert first["entries"] == 101 and first["added"] == 101 and first["removed"] == 0
    assert first["previous_entries"] is None
    assert first["refused_count"] == 1 and first["refused"][0]["reason"] == "whitespace ' '"
    assert first["refused"][0]["source"].endswith("virtual.txt:103")
    assert first["dropped_by_domain"] == {"foreign.net": 1}
    assert first["ignored_by_type"] == {"X500": 1}
    # The directory's counts are there for a file source too, and empty.
    assert (first["references"], first["references_missed"]) == ([], [])
    assert (first["system_mailboxes_skipped"], first["system_mailboxes"]) == (0, [])
    assert first["sha256"] == content_hash(render_map(USERS))
    assert first["map_file"] == env.map_path + ".cdb"
    assert env.live_source() == render_map(USERS)
    assert env.listing() == ["relay_recipients", "relay_recipients.cdb"]
    # The whole list of valid addresses: not for every local user (Postfix opens it as root).
    assert [oct(os.stat(path).st_mode & 0o777) for path in (env.map_path, env.map_path + ".cdb")] == ["0o640"] * 2

    stat_before = os.stat(env.map_path + ".cdb")
    second = env.run()
    assert not second["changed"] and second["sha256"] == first["sha256"]
    assert os.stat(env.map_path + ".cdb").st_mtime_ns == stat_before.st_mtime_ns
    assert env.listing() == ["relay_recipients", "relay_recipients.cdb"]


@needs_postmap
def test_the_first_build_needs_an_explicit_floor_and_later_builds_do_not(env):
    env.write_source(USERS)
    first = env.run(min_entries=None)
    assert first["failed"] and not first["changed"]
    assert "safety gate failed (live map kept): old count none, new count 101: first build:" in first["msg"]
    assert "set min_entries (role: relay_recipients_min_entries)" in first["msg"]
    assert "(this export found 101)" in first["msg"]
    assert env.listing() == []
    assert env.run(min_entries=102)["msg"].endswith("101 entries, fewer than the minimum of 102")
    assert env.run(min_entries=101)["changed"]
    env.write_source(USERS + ["new.user@example.com"])
    later = env.run(min_entries=None)
    assert later["changed"] and not later.get("failed") and later["gate"]["passed"]


@needs_postmap
def test_an_existing_world_readable_map_is_made_0640_without_a_rebuild(env):
    env.write_source(USERS)
    env.run()
    for path in (env.map_path, env.map_path + ".cdb"):
        os.chmod(path, 0o644)
    inode = os.stat(env.map_path + ".cdb").st_ino
    result = env.run()
    assert result["changed"] and result["added"] == 0 and result["removed"] == 0
    assert [oct(os.stat(path).st_mode & 0o777) for path in (env.map_path, env.map_path + ".cdb")] == ["0o640"] * 2
    assert os.stat(env.map_path + ".cdb").st_ino == inode


@needs_postmap
def test_check_mode_writes_nothing_beside_the_live_map(env):
    # A relay before its first run: not even the map's directory exists yet.
    env.map_path = str(env.tmp / "absent" / "relay_recipients")
    env.write_source(USERS)
    result = env.run(check=True, diff=True)
    assert result["changed"] and not result.get("failed"), result
    assert result["entries"] == 101 and result["diff"]["after"].startswith("# 101 entries\n")
    assert not os.path.exists(str(env.tmp / "absent"))
    assert os.listdir(str(env.tmpdir)) == []  # the private directory of the check run is gone too


@needs_postmap
def test_a_build_waits_for_another_build_of_the_same_map_or_gives_up(env):
    import fcntl

    env.write_source(USERS)
    assert env.run()["lock_waited"] < 1
    lock = env.map_path + ".lock"
    assert oct(os.stat(lock).st_mode & 0o777) == "0o600"
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another build is running
        env.write_source(USERS + ["new.user@example.com"])
        result = env.run(lock_timeout=1)
        assert result["failed"] and not result["changed"]
        assert result["msg"] == "another build of this map holds %s; gave up after 1 s (lock_timeout); live map kept" % lock
        assert env.live_source() == render_map(USERS)
        checked = env.run(check=True, lock_timeout=0)  # check mode waits for the lock too
        assert checked["failed"] and "gave up after 0 s" in checked["msg"]
    finally:
        os.close(fd)
    applied = env.run(lock_timeout=1)
    assert applied["changed"] and applied["lock_waited"] < 1 and "new.user@example.com\tOK\n" in env.live_source()


@needs_postmap
def test_check_mode_creates_no_lock_file(env):
    env.write_source(USERS)
    result = env.run(check=True)
    assert result["changed"] and result["lock_waited"] is None
    assert os.listdir(str(env.maps)) == []


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("min_entries", 0, "min_entries must be at least 1"),
        ("max_shrink_percent", 150, "max_shrink_percent must be from 0 to 100"),
        ("page_size", -1, "page_size must be from 1 to 100000"),
        ("diff_limit", -3, "diff_limit must be from 0 to 1000000"),
        ("lock_timeout", 3601, "lock_timeout must be from 0 to 3600"),
        ("dirsync_max_removals", -1, "dirsync_max_removals must be from 0 to 1000000"),
        ("dirsync_approve_removals", 1000001, "dirsync_approve_removals must be from 0 to 1000000"),
    ],
)
def test_a_number_outside_its_range_fails_before_anything_runs(env, option, value, message):
    env.write_source(USERS)
    result = env.run(**{option: value})
    assert result["failed"] and message in result["msg"] and "not %s" % value in result["msg"]
    assert env.listing() == [] and os.listdir(str(env.tmpdir)) == []


@needs_postmap
def test_check_mode_changes_nothing_and_diff_lists_added_and_removed(env):
    env.write_source(USERS)
    env.run()
    before = env.live_source()
    env.write_source(USERS[:-1] + ["new.user@example.com"])
    result = env.run(check=True, diff=True)
    assert result["changed"]
    assert (result["added"], result["removed"]) == (1, 1)
    assert result["added_addresses"] == ["new.user@example.com"]
    assert result["removed_addresses"] == ["user099@example.com"]
    assert result["diff"]["before"] == "# 101 entries\nuser099@example.com\tOK\n"
    assert result["diff"]["after"] == "# 101 entries\nnew.user@example.com\tOK\n"
    assert env.live_source() == before
    assert env.listing() == ["relay_recipients", "relay_recipients.cdb"]

    applied = env.run()
    assert applied["changed"] and "new.user@example.com\tOK\n" in env.live_source()
    assert sorted(applied["backup_files"]) == [env.map_path + ".prev", env.map_path + ".prev.cdb"]


@needs_postmap
def test_diff_lists_addresses_up_to_the_limit_but_counts_all(env):
    env.write_source(USERS)
    result = env.run(diff=True, diff_limit=3)
    assert result["added"] == 101 and len(result["added_addresses"]) == 3
    assert result["diff"]["after"].endswith("# ... and 98 more added\n")


@needs_postmap
def test_a_shrink_beyond_the_limit_fails_and_keeps_the_live_map(env):
    env.write_source(USERS)
    env.run()
    live = env.live_source()
    env.write_source(USERS[:40])
    result = env.run()
    assert result["failed"] and not result["changed"]
    assert "safety gate failed (live map kept): old count 101, new count 40" in result["msg"]
    assert result["gate"]["passed"] is False
    assert env.live_source() == live
    assert env.listing() == ["relay_recipients", "relay_recipients.cdb"]


@needs_postmap
def test_force_installs_past_the_gate_with_a_warning(env):
    env.write_source(USERS)
    env.run()
    env.write_source(USERS[:40])
    result = env.run(force=True)
    assert result["changed"] and not result.get("failed")
    assert result["gate"]["forced"] is True
    # ansible-core 2.19 returns warnings as structured events, older versions as strings.
    assert "force: safety gate failed (map installed anyway): old count 101, new count 40" in json.dumps(result["warnings"])
    assert env.live_source() == render_map(USERS[:40])


@needs_postmap
def test_missing_postmaster_and_too_few_entries_fail_the_first_build(env):
    env.write_source(USERS[1:])
    result = env.run(min_entries=500)
    assert result["failed"]
    assert "fewer than the minimum of 500" in result["msg"]
    assert "required addresses missing: postmaster@example.com" in result["msg"]
    assert env.listing() == []


@needs_postmap
def test_an_empty_export_never_installs_an_empty_map(env):
    env.src.write_text("")
    result = env.run(must_exist=[])
    assert result["failed"] and "0 entries" in result["msg"]
    assert env.listing() == []


@needs_postmap
def test_a_stale_compiled_table_is_rebuilt_even_if_the_source_matches(env):
    env.write_source(USERS)
    env.run()
    os.utime(env.map_path + ".cdb", (1, 1))
    assert env.run()["changed"]
    assert not env.run()["changed"]


@needs_postmap
def test_a_missing_compiled_table_is_rebuilt(env):
    env.write_source(USERS)
    env.run()
    os.unlink(env.map_path + ".cdb")
    result = env.run()
    assert result["changed"] and (result["added"], result["removed"]) == (0, 0)
    assert "relay_recipients.cdb" in env.listing()


@needs_postmap
def test_a_postmap_failure_keeps_the_live_map_and_removes_temporary_files(env):
    env.write_source(USERS)
    env.run()
    env.write_source(USERS + ["one.more@example.com"])
    fake = env.tmp / "postmap"
    fake.write_text("#!/bin/sh\necho 'postmap: fatal: simulated' >&2\nexit 1\n")
    fake.chmod(0o755)
    result = env.run(postmap_path=str(fake))
    assert result["failed"] and "simulated" in result["msg"] and "live map kept" in result["msg"]
    assert env.live_source() == render_map(USERS)
    assert env.listing() == ["relay_recipients", "relay_recipients.cdb"]


@needs_postmap
def test_list_and_csv_sources_build_the_same_map_as_virtual(env):
    env.write_source(USERS)
    virtual = env.run(check=True)
    listing = env.tmp / "list.txt"
    listing.write_text("\n".join(a.upper() for a in USERS) + "\n")
    as_list = env.run(check=True, src=str(listing), format="list")
    table = env.tmp / "users.csv"
    table.write_text("Name,PrimarySmtpAddress\n" + "".join('"x, y",%s\n' % a for a in USERS))
    as_csv = env.run(check=True, src=str(table), format="csv", csv_column="PrimarySmtpAddress")
    assert virtual["sha256"] == as_list["sha256"] == as_csv["sha256"]


def test_compile_false_writes_only_the_source_without_postmap_and_is_idempotent(env):
    env.write_source(USERS)
    missing = str(env.tmp / "no-such-postmap")
    first = env.run(compile=False, postmap_path=missing, reload=True)
    assert first["changed"] and first["map_file"] is None and not first["reloaded"], first
    assert env.listing() == ["relay_recipients"]
    assert env.live_source() == render_map(USERS)
    again = env.run(compile=False, postmap_path=missing)
    assert not again["changed"] and again["sha256"] == first["sha256"]
    assert env.listing() == ["relay_recipients"]


def test_compile_false_keeps_the_gate_and_the_staged_source(env):
    env.write_source(USERS)
    env.run(compile=False)
    env.write_source(USERS[:50])
    shrunk = env.run(compile=False)
    assert shrunk["failed"] and "safety gate failed" in shrunk["msg"]
    assert env.live_source() == render_map(USERS)


@needs_postmap
def test_a_staged_map_source_read_as_map_format_gives_the_same_map(env):
    env.write_source(USERS)
    staged = env.run(compile=False, map_path=str(env.tmp / "staging"))
    built = env.run(src=str(env.tmp / "staging"), format="map")
    assert built["changed"] and built["sha256"] == staged["sha256"], built
    assert env.listing() == ["relay_recipients", "relay_recipients.cdb"]


@needs_postmap
def test_a_hand_edited_live_source_is_compared_by_key_and_then_replaced(env):
    env.write_source(USERS)
    env.run()
    # Someone edited the live source: upper case, a comment, a different value,
    # a duplicate and an address that the directory no longer has.
    edited = env.live_source().replace("user001@example.com\tOK", "USER001@Example.com   OK")
    edited = "# edited by hand\n" + edited.replace("user002@example.com\tOK", "user002@example.com\tREJECT")
    with open(env.map_path, "w") as stream:
        stream.write(edited + "user003@example.com\tOK\ngone@example.com\tOK\n")
    result = env.run(diff=True)
    assert result["changed"] and not result.get("failed"), result
    assert (result["previous_entries"], result["entries"]) == (102, 101)
    assert (result["added"], result["removed"], result["removed_addresses"]) == (0, 1, ["gone@example.com"])
    assert env.live_source() == render_map(USERS)
    assert env.listing() == ["relay_recipients", "relay_recipients.cdb", "relay_recipients.prev", "relay_recipients.prev.cdb"]


@needs_postmap
def test_an_export_that_cannot_be_sorted_fails_and_leaves_nothing(env, monkeypatch):
    env.write_source(USERS)
    env.run()
    bin_dir = env.tmp / "bin"
    bin_dir.mkdir()
    broken = bin_dir / "sort"
    broken.write_text("#!/bin/sh\necho 'sort: write failed: No space left on device' >&2\nexit 2\n")
    broken.chmod(0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (bin_dir, os.environ.get("PATH", "")))
    env.write_source(USERS + ["one.more@example.com"])
    result = env.run()
    assert result["failed"] and "No space left on device" in result["msg"] and "live map kept" in result["msg"]
    assert env.live_source() == render_map(USERS)
    assert env.listing() == ["relay_recipients", "relay_recipients.cdb"]


def marked_virtual(addresses):
    """A virtual.txt as Export-RelayRecipients.ps1 writes it: LF lines, then the end marker."""
    body = "".join("u%d: SMTP:%s\n" % (n, a) for n, a in enumerate(addresses)).encode()
    return body + b"#mailrelay-end lines=%d sha256=%s\n" % (body.count(b"\n"), hashlib.sha256(body).hexdigest().encode())


@needs_postmap
def test_with_require_end_marker_only_a_complete_upload_is_built(env):
    whole = marked_virtual(USERS + ["bad user@example.com"])
    env.src.write_bytes(whole)
    first = env.run(require_end_marker=True)
    assert first["changed"] and first["entries"] == 101, first
    assert first["end_marker"] == {"lines": 102, "sha256": hashlib.sha256(whole[: whole.rindex(b"#")]).hexdigest()}
    # Refusals name the uploaded file and its line, not the private copy.
    assert first["refused"][0]["source"] == "%s:102" % env.src
    before = env.live_source()

    # Cut short by one address: a shrink of 1% the gate would let through.
    env.src.write_bytes(whole[: whole.index(b"u100:")])
    cut = env.run(require_end_marker=True)
    assert cut["failed"] and "has no end marker" in cut["msg"] and "live map kept" in cut["msg"], cut
    assert env.live_source() == before and env.listing() == ["relay_recipients", "relay_recipients.cdb"]
    # Without the option the same file is built: what the option is for.
    assert env.run()["removed"] == 1

    # An unmarked file is refused; a legacy uploader is accepted only without the option.
    env.write_source(USERS)
    unmarked = env.run(require_end_marker=True, check=True)
    assert unmarked["failed"] and "a legacy uploader needs the explicit option" in unmarked["msg"]
    assert os.listdir(str(env.tmpdir)) == []


def test_a_keytab_needs_the_gssapi_mechanism(env):
    result = env.run(source="ldap", src=None, server_uris=["ldaps://127.0.0.1:1"], base_dns=["DC=x"], keytab="/etc/k.keytab")
    assert result["failed"] and "keytab" in result["msg"] and "sasl_mechanism" in result["msg"], result


def metrics(path):
    """{(name, sorted labels without map): value} of a metrics file."""
    samples = {}
    with open(path) as stream:
        for line in stream:
            if line.startswith("#") or not line.strip():
                continue
            series, value = line.rsplit(" ", 1)
            name, _brace, labels = series.partition("{")
            pairs = tuple(sorted(p.split("=", 1)[0] + "=" + p.split("=", 1)[1].strip('"')
                                 for p in labels.rstrip("}").split(",") if p and not p.startswith("map=")))
            samples[(name, pairs)] = float(value)
    return samples


M = "mailrelay_recipient_map_"


@needs_postmap
def test_every_run_writes_the_maps_metrics_and_a_failure_keeps_the_last_success(env):
    textfiles = env.tmp / "node-exporter"
    textfiles.mkdir()
    env.write_source(USERS)
    first = env.run(metrics_dir=str(textfiles), refresh_interval=900)
    assert first["changed"] and first["metrics_file"].startswith(str(textfiles) + "/mailrelay_recipient_map-")
    assert os.listdir(str(textfiles)) == [os.path.basename(first["metrics_file"])]
    after_first = metrics(first["metrics_file"])
    assert after_first[(M + "entries", ())] == 101
    assert after_first[(M + "last_success_added", ())] == 101
    assert after_first[(M + "refresh_interval_seconds", ())] == 900
    assert after_first[(M + "runs_total", ())] == 1
    assert after_first[(M + "last_failure_timestamp_seconds", ())] == 0
    success_time = after_first[(M + "last_success_timestamp_seconds", ())]
    assert success_time > 0

    # Half the users gone: the gate refuses, the failure is counted by its reason.
    env.write_source(USERS[:50])
    refused = env.run(metrics_dir=str(textfiles), refresh_interval=900)
    assert refused["failed"] and refused["failure_reason"] == "gate"
    after_gate = metrics(refused["metrics_file"])
    assert after_gate[(M + "last_success_timestamp_seconds", ())] == success_time
    assert after_gate[(M + "entries", ())] == 101
    assert after_gate[(M + "failures_total", ("reason=gate",))] == 1
    assert after_gate[(M + "last_failure_reason", ("reason=gate",))] == 1
    assert after_gate[(M + "gate_refusals_total", ())] == 1
    assert after_gate[(M + "gate_last_refused_entries", ())] == 50
    assert after_gate[(M + "runs_total", ())] == 2

    # An unreadable source: another reason; the source back: a success, the failure counts stay.
    missing = env.run(metrics_dir=str(textfiles), src=str(env.tmp / "gone.txt"))
    assert missing["failure_reason"] == "source_file"
    env.write_source(USERS)
    again = env.run(metrics_dir=str(textfiles))
    assert not again.get("failed") and not again["changed"]
    final = metrics(again["metrics_file"])
    assert final[(M + "failures_total", ("reason=gate",))] == 1
    assert final[(M + "failures_total", ("reason=source_file",))] == 1
    assert final[(M + "last_failure_reason", ("reason=source_file",))] == 1
    assert final[(M + "last_success_timestamp_seconds", ())] > success_time
    assert final[(M + "runs_total", ())] == 4
    assert env.live_source() == render_map(USERS)


@needs_postmap
def test_check_mode_writes_no_metrics_and_a_metrics_failure_never_fails_the_build(env):
    textfiles = env.tmp / "node-exporter"
    textfiles.mkdir()
    env.write_source(USERS)
    checked = env.run(check=True, metrics_dir=str(textfiles))
    assert checked["changed"] and "metrics_file" not in checked
    assert os.listdir(str(textfiles)) == []
    built = env.run(metrics_dir=str(env.tmp / "no-such-directory"))
    assert built["changed"] and not built.get("failed") and "metrics_file" not in built
    assert "metrics were not written" in json.dumps(built["warnings"])
    assert env.live_source() == render_map(USERS)


def test_a_bad_option_is_recorded_as_an_arguments_failure(env):
    textfiles = env.tmp / "node-exporter"
    textfiles.mkdir()
    for bad in (dict(refresh_interval=30), dict(min_entries="many")):
        result = env.run(metrics_dir=str(textfiles), **bad)
        assert result["failed"] and result["failure_reason"] == "arguments", result
    samples = metrics(result["metrics_file"])
    assert samples[(M + "failures_total", ("reason=arguments",))] == 2
    assert samples[(M + "last_success_timestamp_seconds", ())] == 0
    assert env.listing() == []
