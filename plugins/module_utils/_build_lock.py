# -*- coding: utf-8 -*-
# Copyright: mailrelay.exchange contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One builder of a map at a time.

PRIVATE: this module is an implementation detail of the ``mailrelay.exchange``
collection. It is not a public API and may change without notice.

The push unit, the timer and the refresh playbook can all rebuild the same map
on one relay. Each holds an exclusive ``flock`` on ``<map>.lock`` (a file beside
the map that stays there) for the whole run, so their runs follow each other
instead of racing to the last rename. A run waits for the lock up to a timeout
and then gives up with the map untouched.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import os
import time

POLL_SECONDS = 0.2


class LockTimeout(Exception):
    """Another run held the lock for longer than the timeout."""


def lock_path(map_path):
    return map_path + ".lock"


class BuildLock:
    """An exclusive flock on ``path``, taken with a timeout; use it as a context manager.

    ``create`` false (check mode) takes the lock only when the file exists, so
    that a check run writes nothing. ``waited`` is how long the run waited, in
    seconds; None when there was no lock file to take.
    """

    def __init__(self, path, timeout, create=True, clock=time.monotonic, sleep=time.sleep):
        self.path = path
        self.timeout = timeout
        self.create = create
        self.waited = None
        self._fd = None
        self._clock = clock
        self._sleep = sleep

    def acquire(self):
        flags = os.O_RDWR | os.O_CREAT if self.create else os.O_RDONLY
        try:
            self._fd = os.open(self.path, flags | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError as exc:
            if exc.errno == errno.ENOENT and not self.create:
                return self
            raise
        started = self._clock()
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    self.release()
                    raise
            else:
                self.waited = round(self._clock() - started, 3)
                return self
            if self._clock() - started >= self.timeout:
                self.release()
                raise LockTimeout(
                    "another build of this map holds %s; gave up after %d s (lock_timeout)" % (self.path, self.timeout)
                )
            self._sleep(POLL_SECONDS)

    def release(self):
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()
