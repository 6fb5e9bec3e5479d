# -*- coding: utf-8 -*-
"""The build lock against a real second process holding the same flock."""

import os
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.mailrelay.exchange.plugins.module_utils import _build_lock as bl

HOLDER = (
    "import fcntl, os, sys\n"
    "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)\n"
    "fcntl.flock(fd, fcntl.LOCK_EX)\n"
    "print('held', flush=True)\n"
    "sys.stdin.read()\n"
)


@pytest.fixture
def holder(tmp_path):
    """Start a process that holds the lock until its stdin closes; yields (path, process)."""
    path = str(tmp_path / "relay_recipients.lock")
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield path, proc
    proc.stdin.close()
    proc.wait()


def open_descriptors():
    return len(os.listdir("/proc/self/fd"))


def test_a_free_lock_is_taken_at_once_and_its_file_stays_private(tmp_path):
    path = bl.lock_path(str(tmp_path / "relay_recipients"))
    assert path.endswith("relay_recipients.lock")
    with bl.BuildLock(path, timeout=5) as lock:
        assert lock.waited is not None and lock.waited < 0.5
        assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    with bl.BuildLock(path, timeout=0) as again:  # released on leaving, so free again
        assert again.waited is not None


def test_a_held_lock_makes_the_run_give_up_after_the_timeout(holder):
    path, _proc = holder
    before = open_descriptors()
    started = time.monotonic()
    with pytest.raises(bl.LockTimeout) as failure:
        bl.BuildLock(path, timeout=1).acquire()
    assert 1 <= time.monotonic() - started < 3
    assert str(failure.value) == "another build of this map holds %s; gave up after 1 s (lock_timeout)" % path
    assert open_descriptors() == before


def test_a_run_waits_for_the_other_one_and_says_how_long(holder):
    path, proc = holder

    def end_the_other_run():
        time.sleep(0.5)
        proc.stdin.close()

    ender = threading.Thread(target=end_the_other_run)
    ender.start()
    with bl.BuildLock(path, timeout=10) as lock:
        assert 0.4 <= lock.waited < 5
    ender.join()


def test_the_waiting_time_is_counted_until_the_lock_is_free(holder):
    path, proc = holder
    ticks = []

    def sleep(seconds):
        ticks.append(seconds)
        if len(ticks) == 3:
            proc.stdin.close()
            proc.wait()

    clock = iter(range(100)).__next__
    with bl.BuildLock(path, timeout=50, clock=clock, sleep=sleep) as lock:
        # started at 0, refused at clock 1, 2 and 3, taken at clock 4
        assert lock.waited == 4 and ticks == [bl.POLL_SECONDS] * 3


def test_the_timeout_is_checked_before_every_wait(holder):
    path, _proc = holder
    slept = []
    clock = iter([0, 0.5, 0.9, 1.0, 99]).__next__
    with pytest.raises(bl.LockTimeout):
        bl.BuildLock(path, timeout=1, clock=clock, sleep=slept.append).acquire()
    assert slept == [bl.POLL_SECONDS] * 2  # at 0.5 and 0.9 it waits; at 1.0 it gives up


def test_check_mode_takes_an_existing_lock_and_creates_none(tmp_path, holder):
    missing = str(tmp_path / "other.lock")
    with bl.BuildLock(missing, timeout=1, create=False) as lock:
        assert lock.waited is None
    assert not os.path.exists(missing)
    path, _proc = holder
    with pytest.raises(bl.LockTimeout):
        bl.BuildLock(path, timeout=0, create=False).acquire()


def test_an_unusable_lock_path_is_an_error_not_a_free_lock(tmp_path):
    with pytest.raises(FileNotFoundError):
        bl.BuildLock(str(tmp_path / "absent" / "x.lock"), timeout=1).acquire()
    with pytest.raises(IsADirectoryError):
        bl.BuildLock(str(tmp_path), timeout=1).acquire()
