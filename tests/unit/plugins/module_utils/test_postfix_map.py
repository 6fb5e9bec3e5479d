# -*- coding: utf-8 -*-
"""Build beside the target and swap in, with the real postmap where it is installed."""

import os
import shutil
import subprocess
import tempfile
import threading

import pytest

from ansible_collections.mailrelay.exchange.plugins.module_utils import _postfix_map as pm
from ansible_collections.mailrelay.exchange.plugins.module_utils._recipients import render_map

POSTMAP = shutil.which("postmap") or ("/usr/sbin/postmap" if os.path.exists("/usr/sbin/postmap") else None)
needs_postmap = pytest.mark.skipif(POSTMAP is None, reason="postmap is not installed (apt-get install postfix postfix-cdb postfix-lmdb)")


def map_types():
    """The table types this postmap can build (postconf -m lists them)."""
    if POSTMAP is None:
        return []
    postconf = os.path.join(os.path.dirname(POSTMAP), "postconf")
    with tempfile.TemporaryDirectory() as config:
        open(os.path.join(config, "main.cf"), "w").close()
        out = subprocess.run([postconf, "-c", config, "-m"], capture_output=True, text=True, check=False).stdout.split()
    return [t for t in sorted(pm.SUFFIXES) if t in out]


@pytest.fixture
def config_dir(tmp_path):
    """A Postfix configuration directory of its own, so the host's main.cf does not matter."""
    path = tmp_path / "postfix-config"
    path.mkdir()
    (path / "main.cf").write_text("")
    return str(path)


def runner(config_dir):
    def run(type_and_path):
        proc = subprocess.run([POSTMAP, "-c", config_dir, type_and_path], capture_output=True, text=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    return run


def lookup(config_dir, map_type, map_path, key):
    proc = subprocess.run(
        [POSTMAP, "-c", config_dir, "-q", key, "%s:%s" % (map_type, map_path)], capture_output=True, text=True, check=False
    )
    return proc.returncode, proc.stdout.strip()


def chmod_644(path):
    os.chmod(path, 0o644)


def addresses(n, prefix="u"):
    return ["%s%06d@example.com" % (prefix, i) for i in range(n)]


def test_paths_follow_the_map_type():
    assert pm.compiled_path("/etc/postfix/rr", "cdb") == "/etc/postfix/rr.cdb"
    assert pm.compiled_path("/etc/postfix/rr", "lmdb") == "/etc/postfix/rr.lmdb"
    assert pm.compiled_path("/etc/postfix/rr", "hash") == "/etc/postfix/rr.db"
    assert pm.backup_paths("/etc/postfix/rr", "cdb") == ("/etc/postfix/rr.prev", "/etc/postfix/rr.prev.cdb")


def test_is_current_needs_a_compiled_table_not_older_than_its_source(tmp_path):
    source = tmp_path / "rr"
    assert not pm.is_current(str(source), "cdb")
    source.write_text("a@example.com\tOK\n")
    assert not pm.is_current(str(source), "cdb")
    compiled = tmp_path / "rr.cdb"
    compiled.write_text("x")
    os.utime(str(source), (1000, 1000))
    os.utime(str(compiled), (2000, 2000))
    assert pm.is_current(str(source), "cdb")
    os.utime(str(source), (3000, 3000))
    assert not pm.is_current(str(source), "cdb")


def test_a_failing_compiler_leaves_the_live_map_and_no_temporary_files(tmp_path):
    live = tmp_path / "rr"
    live.write_text("old@example.com\tOK\n")
    (tmp_path / "rr.cdb").write_text("old table")
    before = sorted(os.listdir(str(tmp_path)))

    with pytest.raises(pm.MapBuildError, match="postmap failed .rc=1.: fatal: unsupported"):
        pm.build_and_swap(str(live), "cdb", "new@example.com\tOK\n", lambda arg: (1, "", "fatal: unsupported\n"), chmod_644, True)
    assert sorted(os.listdir(str(tmp_path))) == before
    assert live.read_text() == "old@example.com\tOK\n"
    assert (tmp_path / "rr.cdb").read_text() == "old table"


def test_a_compiler_that_writes_nothing_is_a_failure(tmp_path):
    with pytest.raises(pm.MapBuildError, match="rc=0"):
        pm.build_and_swap(str(tmp_path / "rr"), "cdb", "a@example.com\tOK\n", lambda arg: (0, "", ""), chmod_644, False)
    assert os.listdir(str(tmp_path)) == []


def test_the_compiler_gets_a_temporary_path_beside_the_target(tmp_path):
    seen = []

    def fake(type_and_path):
        seen.append(type_and_path)
        path = type_and_path.split(":", 1)[1]
        with open(path + ".cdb", "w") as out:
            out.write("compiled")
        return 0, "", ""

    pm.build_and_swap(str(tmp_path / "rr"), "cdb", "a@example.com\tOK\n", fake, chmod_644, False)
    map_type, path = seen[0].split(":", 1)
    assert map_type == "cdb"
    assert os.path.dirname(path) == str(tmp_path) and os.path.basename(path).startswith("rr.new.")
    assert sorted(os.listdir(str(tmp_path))) == ["rr", "rr.cdb"]
    assert oct(os.stat(str(tmp_path / "rr.cdb")).st_mode & 0o777) == "0o644"


@needs_postmap
@pytest.mark.parametrize("map_type", map_types())
def test_real_postmap_builds_swaps_and_keeps_the_previous_map(tmp_path, config_dir, map_type):
    target = tmp_path / "maps"
    target.mkdir()
    map_path = str(target / "relay_recipients")
    run = runner(config_dir)

    assert pm.build_and_swap(map_path, map_type, render_map(["a@example.com", "b@example.com"]), run, chmod_644, True) == []
    assert lookup(config_dir, map_type, map_path, "a@example.com") == (0, "OK")

    written = pm.build_and_swap(map_path, map_type, render_map(["b@example.com", "c@example.com"]), run, chmod_644, True)
    prev_source, prev_compiled = pm.backup_paths(map_path, map_type)
    assert sorted(written) == sorted([prev_source, prev_compiled])
    assert lookup(config_dir, map_type, map_path, "a@example.com")[0] == 1
    assert lookup(config_dir, map_type, map_path, "c@example.com") == (0, "OK")
    assert lookup(config_dir, map_type, map_path + ".prev", "a@example.com") == (0, "OK")
    assert pm.is_current(map_path, map_type)
    suffix = pm.SUFFIXES[map_type]
    assert sorted(os.listdir(str(target))) == sorted(
        ["relay_recipients", "relay_recipients" + suffix, "relay_recipients.prev", "relay_recipients.prev" + suffix]
    )


@needs_postmap
@pytest.mark.parametrize("map_type", [t for t in map_types() if t != "hash"])
def test_lookups_during_rebuilds_never_see_a_partial_or_missing_table(tmp_path, config_dir, map_type):
    map_path = str(tmp_path / "relay_recipients")
    run = runner(config_dir)
    stable = addresses(10000, "s")
    pm.build_and_swap(map_path, map_type, render_map(stable), run, chmod_644, False)
    failures, lookups = [], [0]
    done = threading.Event()

    def reader():
        while not done.is_set():
            for key in (stable[0], stable[-1]):
                rc, out = lookup(config_dir, map_type, map_path, key)
                lookups[0] += 1
                if (rc, out) != (0, "OK"):
                    failures.append((key, rc, out))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for round_no in range(4):
            pm.build_and_swap(map_path, map_type, render_map(stable + addresses(10000, "r%d" % round_no)), run, chmod_644, True)
    finally:
        done.set()
        thread.join()
    assert lookups[0] > 4
    assert failures == []


def test_a_killed_postmap_leaves_no_half_written_table(tmp_path):
    live = tmp_path / "rr"
    live.write_text("old@example.com\tOK\n")
    before = sorted(os.listdir(str(tmp_path)))

    def killed(arg):
        # postmap builds <file>.cdb.tmp and dies before it renames it (SIGKILL: rc 137).
        with open(pm.compiled_path(arg.split(":", 1)[1], "cdb") + ".tmp", "w") as stream:
            stream.write("half a table")
        return 137, "", ""

    with pytest.raises(pm.MapBuildError, match="rc=137"):
        pm.build_and_swap(str(live), "cdb", "new@example.com\tOK\n", killed, chmod_644, True)
    assert sorted(os.listdir(str(tmp_path))) == before


def test_a_full_disk_leaves_no_temporary_source(tmp_path, monkeypatch):
    live = tmp_path / "rr"
    live.write_text("old@example.com\tOK\n")
    before = sorted(os.listdir(str(tmp_path)))

    def no_space(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pm.os, "fsync", no_space)
    with pytest.raises(pm.MapBuildError, match="No space left on device"):
        pm.build_and_swap(str(live), "cdb", "new@example.com\tOK\n", lambda arg: (0, "", ""), chmod_644, True)
    assert sorted(os.listdir(str(tmp_path))) == before
    assert live.read_text() == "old@example.com\tOK\n"
