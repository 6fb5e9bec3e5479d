# -*- coding: utf-8 -*-
"""Sort, compare, build beside the target and swap in, with the real sort, comm and postmap."""

import errno
import fcntl
import hashlib
import locale
import os
import shutil
import subprocess
import sys
import tempfile
import threading

import pytest

from ansible_collections.mailrelay.exchange.plugins.module_utils import _postfix_map as pm
from ansible_collections.mailrelay.exchange.plugins.module_utils._map_source import map_key_batches

# fcntl's name from Python 3.10 on; Linux's number before.
F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", 1032)

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


@pytest.fixture(scope="module")
def user_locale(tmp_path_factory):
    """LOCPATH and LC_ALL of a locale that does not sort by bytes (en_US.UTF-8, built here with localedef)."""
    localedef = shutil.which("localedef")
    if localedef is None or not os.path.exists("/usr/share/i18n/locales/en_US"):
        pytest.skip("localedef or the locale sources are missing (apt-get install locales)")
    path = str(tmp_path_factory.mktemp("locales"))
    subprocess.run([localedef, "-i", "en_US", "-f", "UTF-8", os.path.join(path, "en_US.UTF-8")], capture_output=True, check=False)
    env = {"LOCPATH": path, "LC_ALL": "en_US.UTF-8"}
    probe = subprocess.run(["sort"], input="a-c\nab\n", env=dict(os.environ, **env), capture_output=True, text=True, check=False)
    if probe.stdout != "ab\na-c\n":
        pytest.skip("the locale built with localedef does not sort differently from bytes")
    return env


@pytest.fixture
def ascii_locale():
    """This process's character type locale set to C (ASCII), as where no UTF-8 locale is set (Python 3.6 in LANG=C)."""
    saved = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    yield
    locale.setlocale(locale.LC_CTYPE, saved)


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


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def chmod_644(path):
    os.chmod(path, 0o644)


def addresses(n, prefix="u"):
    return ["%s%06d@example.com" % (prefix, i) for i in range(n)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pipe sizes are set on Linux only")
def test_the_pipe_into_sort_holds_several_pages_of_addresses(tmp_path):
    work = pm.WorkDir(str(tmp_path / "relay_recipients"))
    source = pm.SortedSource(work)
    try:
        assert fcntl.fcntl(source._proc.stdin.fileno(), F_GETPIPE_SZ) == pm.PIPE_SIZE
        source.update(addresses(3))
        assert open(source.finish()).read() == "".join("%s\tOK\n" % a for a in addresses(3))
    finally:
        work.remove()


def test_a_pipe_that_cannot_be_widened_is_used_as_it_is(tmp_path):
    with open(str(tmp_path / "not-a-pipe"), "wb") as stream:
        assert pm.widen_pipe(stream) is False


def staged(map_path, keys):
    """A finished new source for ``map_path``: a WorkDir beside it holding ``keys`` sorted."""
    work = pm.WorkDir(str(map_path))
    source = pm.SortedSource(work)
    source.update(list(keys))
    return work, source.finish()


def swap(map_path, map_type, keys, compile_map, backup):
    work, source = staged(map_path, keys)
    with work:
        return pm.build_and_swap(str(map_path), map_type, source, compile_map, chmod_644, backup)


def copying_compiler(type_and_path):
    """A stand-in for postmap whose table is a copy of its source: enough to tell tables apart."""
    map_type, path = type_and_path.split(":", 1)
    shutil.copyfile(path, pm.compiled_path(path, map_type))
    return 0, "", ""


def shell_script(path, body):
    """An executable sh script at ``path``: a sort or comm that fails in a given way."""
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def outside(work, directory):
    """What lies in ``directory`` beside the run's own work directory."""
    return sorted(name for name in os.listdir(str(directory)) if name != os.path.basename(work.path))


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
    os.utime(str(source), (2000, 2000))  # compiled within the same second (coarse time stamps)
    assert pm.is_current(str(source), "cdb")
    os.utime(str(source), (3000, 3000))
    assert not pm.is_current(str(source), "cdb")


def test_a_failing_compiler_leaves_the_live_map_and_no_temporary_files(tmp_path):
    live = tmp_path / "rr"
    live.write_text("old@example.com\tOK\n")
    (tmp_path / "rr.cdb").write_text("old table")
    before = sorted(os.listdir(str(tmp_path)))

    with pytest.raises(pm.MapBuildError, match=r"^postmap failed \(rc=1\): fatal: unsupported$"):
        swap(live, "cdb", ["new@example.com"], lambda arg: (1, "", "fatal: unsupported\n"), True)
    assert sorted(os.listdir(str(tmp_path))) == before
    assert live.read_text() == "old@example.com\tOK\n"
    assert (tmp_path / "rr.cdb").read_text() == "old table"


def test_a_compiler_that_writes_nothing_is_a_failure(tmp_path):
    with pytest.raises(pm.MapBuildError, match="rc=0"):
        swap(tmp_path / "rr", "cdb", ["a@example.com"], lambda arg: (0, "", ""), False)
    assert os.listdir(str(tmp_path)) == []


def test_the_compiler_gets_a_path_in_a_private_directory_beside_the_target(tmp_path):
    seen = []

    def fake(type_and_path):
        seen.append(type_and_path)
        path = type_and_path.split(":", 1)[1]
        with open(path + ".cdb", "w") as out:
            out.write("compiled")
        return 0, "", ""

    swap(tmp_path / "rr", "cdb", ["a@example.com"], fake, False)
    map_type, path = seen[0].split(":", 1)
    assert map_type == "cdb"
    assert os.path.dirname(os.path.dirname(path)) == str(tmp_path)
    assert os.path.basename(os.path.dirname(path)).startswith("rr.new.")
    assert sorted(os.listdir(str(tmp_path))) == ["rr", "rr.cdb"]
    assert oct(os.stat(str(tmp_path / "rr.cdb")).st_mode & 0o777) == "0o644"


@needs_postmap
@pytest.mark.parametrize("map_type", map_types())
def test_real_postmap_builds_swaps_and_keeps_the_previous_map(tmp_path, config_dir, map_type):
    target = tmp_path / "maps"
    target.mkdir()
    map_path = str(target / "relay_recipients")
    run = runner(config_dir)

    assert swap(map_path, map_type, ["a@example.com", "b@example.com"], run, True) == []
    assert lookup(config_dir, map_type, map_path, "a@example.com") == (0, "OK")

    written = swap(map_path, map_type, ["b@example.com", "c@example.com"], run, True)
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
    swap(map_path, map_type, stable, run, False)
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
            swap(map_path, map_type, stable + addresses(10000, "r%d" % round_no), run, True)
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

    work, new_source = staged(live, ["new@example.com"])
    with work:
        with pytest.raises(pm.MapBuildError, match="rc=137"):
            pm.build_and_swap(str(live), "cdb", new_source, killed, chmod_644, True)
        # The half-written table is confined to the run's work directory ...
        assert outside(work, tmp_path) == before
        assert live.read_text() == "old@example.com\tOK\n"
    # ... which goes with everything in it when the run ends.
    assert sorted(os.listdir(str(tmp_path))) == before


def test_a_full_disk_fails_clearly_and_leaves_nothing_behind(tmp_path, monkeypatch):
    live = tmp_path / "rr"
    live.write_text("old@example.com\tOK\n")
    before = sorted(os.listdir(str(tmp_path)))

    def no_space(fd):
        raise OSError(28, "No space left on device")

    work, new_source = staged(live, ["new@example.com"])
    with work:
        monkeypatch.setattr(pm.os, "fsync", no_space)
        with pytest.raises(pm.MapBuildError, match=r"^cannot write the map beside .*/rr: .*No space left on device$"):
            pm.build_and_swap(str(live), "cdb", new_source, lambda arg: (0, "", ""), chmod_644, True)
        assert outside(work, tmp_path) == before
    assert sorted(os.listdir(str(tmp_path))) == before
    assert live.read_text() == "old@example.com\tOK\n"


def test_the_previous_map_is_copied_where_hard_links_are_refused(tmp_path, monkeypatch):
    live = tmp_path / "rr"
    swap(live, "cdb", ["old@example.com"], copying_compiler, False)

    def refused(source, target):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(pm.os, "link", refused)
    written = swap(live, "cdb", ["new@example.com"], copying_compiler, True)
    assert sorted(written) == [str(tmp_path / "rr.prev"), str(tmp_path / "rr.prev.cdb")]
    assert (tmp_path / "rr.prev").read_text() == "old@example.com\tOK\n"
    assert (tmp_path / "rr.prev.cdb").read_text() == "old@example.com\tOK\n"
    assert (tmp_path / "rr.cdb").read_text() == "new@example.com\tOK\n"
    assert sorted(os.listdir(str(tmp_path))) == ["rr", "rr.cdb", "rr.prev", "rr.prev.cdb"]


def test_the_previous_map_is_kept_without_writing_to_the_current_directory(tmp_path, monkeypatch):
    """Ansible runs a module in a temporary directory of its own; here it is gone, so nothing can be written there."""
    maps = tmp_path / "maps"
    maps.mkdir()
    live = maps / "rr"
    swap(live, "cdb", ["old@example.com"], copying_compiler, False)
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(str(gone))
    gone.rmdir()

    written = swap(live, "cdb", ["new@example.com"], copying_compiler, True)
    assert sorted(written) == [str(maps / "rr.prev"), str(maps / "rr.prev.cdb")]
    assert (maps / "rr.prev").read_text() == "old@example.com\tOK\n"
    assert (maps / "rr.prev.cdb").read_text() == "old@example.com\tOK\n"
    assert live.read_text() == "new@example.com\tOK\n"


def test_a_map_path_without_a_directory_is_built_in_the_current_one(tmp_path, monkeypatch):
    monkeypatch.chdir(str(tmp_path))
    swap("rr", "cdb", ["a@example.com"], copying_compiler, False)
    assert sorted(os.listdir(str(tmp_path))) == ["rr", "rr.cdb"]
    assert (tmp_path / "rr.cdb").read_text() == "a@example.com\tOK\n"


def test_the_work_directory_goes_when_the_run_fails(tmp_path):
    live = tmp_path / "rr"
    with pytest.raises(RuntimeError):
        with pm.WorkDir(str(live)) as work:
            with open(work.join("scratch"), "w") as stream:
                stream.write("x")
            raise RuntimeError("the run failed")
    assert os.listdir(str(tmp_path)) == []


def test_a_work_directory_removed_early_does_not_hide_the_run_s_own_error(tmp_path):
    with pytest.raises(RuntimeError, match="the run failed"):
        with pm.WorkDir(str(tmp_path / "rr")) as work:
            shutil.rmtree(work.path)
            raise RuntimeError("the run failed")


# The new source: sort, hash, compare -------------------------------------------

def test_sort_writes_unique_tab_ok_lines_in_the_order_python_sorts_them(tmp_path):
    keys = ["b@example.com", "a-b@example.com", "a@example.com", "a.b@example.com", "a@example.com", "z+1@example.com"]
    work, source = staged(tmp_path / "rr", keys[:3])
    with open(source, "rb") as stream:
        assert stream.read() == b"".join(b"%s\tOK\n" % k.encode() for k in sorted(set(keys[:3])))
    work.remove()
    many = ["%s%d@example.com" % (prefix, i) for prefix in ("b", "a", "a.", "a-", "A", "a_") for i in range(3000)]
    work = pm.WorkDir(str(tmp_path / "rr"))
    source = pm.SortedSource(work)
    for start in range(0, len(many), 1000):
        source.update(many[start:start + 1000] + many[:10])
    with open(source.finish()) as stream:
        assert stream.read().splitlines() == ["%s\tOK" % k for k in sorted(set(many))]
    work.remove()
    assert os.listdir(str(tmp_path)) == []


def test_sort_and_comm_keep_byte_order_whatever_the_locale(tmp_path, monkeypatch, user_locale):
    for name, value in user_locale.items():
        monkeypatch.setenv(name, value)
    keys = ["ac@example.com", "a-c@example.com", "ab@example.com", "a.d@example.com"]
    work, new_source = staged(tmp_path / "rr", keys)
    with work:
        with open(new_source) as stream:
            assert stream.read().splitlines() == ["%s\tOK" % k for k in sorted(keys)]
        old = pm.SortedSource(work, "old")
        old.update(["a-c@example.com", "ab@example.com", "b@example.com"])
        assert pm.compare_sources(old.finish(), new_source, 10) == (["a.d@example.com", "ac@example.com"], ["b@example.com"], 2, 1)


def test_an_empty_export_is_an_empty_source(tmp_path):
    work, source = staged(tmp_path / "rr", [])
    assert pm.digest_and_count(source) == (sha256_hex(b""), 0)
    work.remove()


def test_digest_and_count_read_the_file_in_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(pm, "CHUNK", 7)
    path = tmp_path / "f"
    data = b"".join(b"k%d@example.com\tOK\n" % i for i in range(100))
    path.write_bytes(data)
    assert pm.digest_and_count(str(path)) == (sha256_hex(data), 100)


def test_sort_that_dies_is_a_clear_failure(tmp_path):
    script = tmp_path / "sort-dies"
    script.write_text("#!/bin/sh\necho 'sort: write failed: No space left on device' >&2\nexit 2\n")
    script.chmod(0o755)
    work = pm.WorkDir(str(tmp_path / "rr"))
    source = pm.SortedSource(work, sort_path=str(script))
    source.update(addresses(50000))  # the pipe breaks; the error comes from finish()
    source.update(addresses(10))
    with pytest.raises(pm.MapBuildError, match=r"^sort failed \(rc=2\): sort: write failed: No space left on device$"):
        source.finish()
    work.remove()
    assert os.listdir(str(tmp_path)) == ["sort-dies"]


def test_a_sort_message_that_is_not_utf8_is_still_reported(tmp_path):
    latin1 = shell_script(tmp_path / "sort-latin1", "printf 'sort: cannot create caf\\351: Permission denied\\n' >&2\nexit 2\n")
    with pm.WorkDir(str(tmp_path / "rr")) as work:
        source = pm.SortedSource(work, sort_path=latin1)
        with pytest.raises(pm.MapBuildError, match=r"^sort failed \(rc=2\): sort: cannot create caf\ufffd: Permission denied$"):
            source.finish()


def test_a_missing_sort_is_a_clear_failure(tmp_path):
    work = pm.WorkDir(str(tmp_path / "rr"))
    with pytest.raises(pm.MapBuildError, match="^cannot run sort: "):
        pm.SortedSource(work, sort_path=str(tmp_path / "no-such-sort"))
    work.remove()


def test_a_work_directory_where_nothing_may_be_written_is_a_clear_failure(tmp_path):
    with pytest.raises(pm.MapBuildError, match="^cannot write beside .*/missing-directory/rr: "):
        pm.WorkDir(str(tmp_path / "missing-directory" / "rr"))


def test_same_content_compares_bytes_and_missing_files(tmp_path, monkeypatch):
    monkeypatch.setattr(pm, "CHUNK", 3)
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"x@example.com\tOK\n")
    b.write_bytes(b"x@example.com\tOK\n")
    assert pm.same_content(str(a), str(b))
    b.write_bytes(b"y@example.com\tOK\n")
    assert not pm.same_content(str(a), str(b))
    b.write_bytes(b"x@example.com\tNO\n")  # the same size and first chunk
    assert not pm.same_content(str(a), str(b))
    b.write_bytes(b"x@example.com\tOK\ny@example.com\tOK\n")  # the same start, longer
    assert not pm.same_content(str(a), str(b))
    assert not pm.same_content(str(a), str(tmp_path / "none"))
    assert not pm.same_content(str(tmp_path / "none"), str(a))


def test_head_keys_reads_only_the_first_lines(tmp_path):
    work, source = staged(tmp_path / "rr", addresses(500))
    assert pm.head_keys(source, 3) == addresses(3)
    assert pm.head_keys(source, 1) == addresses(1)
    assert pm.head_keys(source, 0) == []
    work.remove()


def test_the_live_source_is_compared_by_key_in_whatever_form_it_was_left(tmp_path):
    live = tmp_path / "rr"
    live.write_text(
        "# edited by hand\n\nD@example.com OK\nb@example.com\tOK\nb@example.com\tOK\n"
        "c@example.com   REJECT\nold1@example.com\tOK\nold2@example.com\tOK\n"
    )
    work, new_source = staged(live, ["b@example.com", "c@example.com", "d@example.com", "new1@example.com",
                                     "new2@example.com", "new3@example.com"])
    normalised = pm.normalise_live_source(str(live), work, map_key_batches)
    assert pm.digest_and_count(normalised)[1] == 5
    added, removed, added_count, removed_count = pm.compare_sources(normalised, new_source, 2)
    assert (added, added_count) == (["new1@example.com", "new2@example.com"], 3)
    assert (removed, removed_count) == (["old1@example.com", "old2@example.com"], 2)
    assert pm.compare_sources(normalised, new_source, 1) == (["new1@example.com"], ["old1@example.com"], 3, 2)
    work.remove()


def test_compare_with_live_counts_the_live_map_from_the_difference(tmp_path):
    live = tmp_path / "rr"
    live.write_text("# by hand\nA@example.com OK\nold@example.com\tOK\n")
    work, new_source = staged(live, ["a@example.com", "n1@example.com", "n2@example.com"])
    with work:
        unchanged, old_count, diff = pm.compare_with_live(work, str(live), new_source, 3, 1)
        assert (unchanged, old_count) == (False, 2)
        assert diff == pm.MapDiff(["n1@example.com"], ["old@example.com"], 2, 1)


def test_compare_with_live_of_a_first_build_and_of_the_same_bytes(tmp_path):
    live = tmp_path / "rr"
    work, new_source = staged(live, ["a@example.com", "b@example.com", "c@example.com"])
    with work:
        assert pm.compare_with_live(work, str(live), new_source, 3, 2) == (
            False, None, pm.MapDiff(["a@example.com", "b@example.com"], [], 3, 0))
        live.write_bytes(open(new_source, "rb").read())
        assert pm.compare_with_live(work, str(live), new_source, 3, 2) == (True, 3, pm.MapDiff([], [], 0, 0))


@pytest.mark.parametrize("chunk_size", [1, 3, 8, 1 << 20])
def test_a_carriage_return_never_ends_a_line_of_the_live_source_whatever_the_chunk(tmp_path, chunk_size):
    # postmap ends lines at "\n" only: "b@example.com\tOK\rx@example.com OK" is one line, key b.
    live = tmp_path / "rr"
    live.write_bytes(b"a@example.com\tOK\r\nb@example.com\tOK\rx@example.com OK\n  y@example.com OK\nc@example.com\tOK\n")
    work, new_source = staged(live, ["a@example.com", "b@example.com", "c@example.com"])
    with work:
        normalised = pm.normalise_live_source(str(live), work, lambda stream: map_key_batches(stream, chunk_size))
        assert pm.compare_sources(normalised, new_source, 10) == ([], [], 0, 0)


def test_a_live_source_left_in_latin1_is_compared_not_refused(tmp_path):
    live = tmp_path / "rr"
    live.write_bytes(b"Caf\xe9@example.com\tOK\nb@example.com\tOK\n")
    work, new_source = staged(live, ["b@example.com"])
    with work:
        normalised = pm.normalise_live_source(str(live), work, map_key_batches)
        assert pm.compare_sources(normalised, new_source, 10) == ([], ["caf\ufffd@example.com"], 0, 1)


def test_the_live_source_is_read_as_utf8_whatever_the_locale(tmp_path, ascii_locale):
    live = tmp_path / "rr"
    live.write_bytes("caf\u00e9@example.com\tOK\n".encode("utf-8"))
    work, new_source = staged(live, ["caf\u00e9@example.com"])
    with work:
        normalised = pm.normalise_live_source(str(live), work, map_key_batches)
        assert pm.compare_sources(normalised, new_source, 10) == ([], [], 0, 0)


def test_the_live_source_is_normalised_by_the_given_sort_and_a_silent_failure_says_so(tmp_path):
    live = tmp_path / "rr"
    live.write_text("a@example.com\tOK\n")
    silent = shell_script(tmp_path / "sort-silent", "cat >/dev/null\nexit 3\n")
    with pm.WorkDir(str(live)) as work:
        with pytest.raises(pm.MapBuildError, match=r"^sort failed \(rc=3\): no message$"):
            pm.normalise_live_source(str(live), work, map_key_batches, sort_path=silent)


def test_a_live_source_that_cannot_be_read_stops_sort_and_keeps_the_error(tmp_path):
    live = tmp_path / "rr"
    live.write_text("a@example.com\tOK\n")
    finished = tmp_path / "sort-finished"
    # A sort that would write its output a moment after its input ends.
    slow = shell_script(tmp_path / "sort-slow", "cat >/dev/null\nsleep 1\necho done >'%s'\n" % finished)

    def unreadable(stream):
        yield ["a@example.com"]
        raise OSError(errno.EIO, "Input/output error")

    with pm.WorkDir(str(live)) as work:
        with pytest.raises(OSError, match="Input/output error"):
            pm.normalise_live_source(str(live), work, unreadable, sort_path=slow)
    assert not finished.exists()


def test_keys_that_are_not_utf8_are_reported_with_a_replacement_character(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    old.write_bytes(b"caf\xe9@example.com\tOK\nsame@example.com\tOK\n")
    new.write_bytes(b"d\xe9j\xe0@example.com\tOK\nsame@example.com\tOK\n")
    assert pm.head_keys(str(new), 1) == ["d\ufffdj\ufffd@example.com"]
    assert pm.compare_sources(str(old), str(new), 10) == (["d\ufffdj\ufffd@example.com"], ["caf\ufffd@example.com"], 1, 1)


def test_comm_failures_are_clear(tmp_path):
    work, new_source = staged(tmp_path / "rr", addresses(3))
    with work:
        with pytest.raises(pm.MapBuildError, match=r"^comm failed \(rc=1\): comm: .*no-such-source.*: No such file or directory$"):
            pm.compare_sources(str(tmp_path / "no-such-source"), new_source, 10)
        with pytest.raises(pm.MapBuildError, match="^cannot run comm: .*no-such-comm"):
            pm.compare_sources(new_source, new_source, 10, comm_path=str(tmp_path / "no-such-comm"))
        latin1 = shell_script(tmp_path / "comm-latin1", "printf 'comm: caf\\351: Input/output error\\n' >&2\nexit 1\n")
        with pytest.raises(pm.MapBuildError, match=r"^comm failed \(rc=1\): comm: caf\ufffd: Input/output error$"):
            pm.compare_sources(new_source, new_source, 10, comm_path=latin1)


def test_identical_sources_compare_as_no_change(tmp_path):
    work, new_source = staged(tmp_path / "rr", addresses(1000))
    old = pm.SortedSource(work, "old")
    old.update(addresses(1000)[::-1])
    assert pm.compare_sources(old.finish(), new_source, 10) == ([], [], 0, 0)
    work.remove()


def test_a_check_run_works_in_the_temporary_directory_not_beside_the_map(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(pm.tempfile, "tempdir", None)  # read TMPDIR again
    map_path = tmp_path / "absent" / "relay_recipients"
    with pm.WorkDir(str(map_path), beside=False) as work:
        assert os.path.dirname(work.path) == str(tmp_path / "tmp")
        assert os.path.basename(work.path).startswith("relay_recipients.check.")
    assert os.listdir(str(tmp_path / "tmp")) == [] and not (tmp_path / "absent").exists()
    with pytest.raises(pm.MapBuildError, match="^cannot write beside .*absent/relay_recipients: "):
        pm.WorkDir(str(map_path))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "gone"))
    monkeypatch.setattr(pm.tempfile, "tempdir", str(tmp_path / "gone"))
    with pytest.raises(pm.MapBuildError, match="^cannot create a temporary directory for .*relay_recipients: "):
        pm.WorkDir(str(map_path), beside=False)
