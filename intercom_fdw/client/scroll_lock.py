"""One companies scroll per workspace: an exclusive fcntl lock shared by all PostgreSQL backends.

Intercom allows one open scroll per workspace; a second `GET /companies/scroll` fails while the
first is open. Every backend of a cluster runs on one machine as one OS user, so a lock file in
the temp directory, named by a hash of (base_url, token), serialises their scans: a second scan
waits (polling, bounded by `timeout`) instead of failing. flock locks belong to the open file,
so the lock is released when the scan ends, is abandoned, or its backend dies.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import tempfile
import threading
from typing import Callable, Iterator, Optional

from intercom_fdw import errors

_POLL_SECONDS = 0.05
_MAX_POLL_SECONDS = 1.0

# Which thread of this process holds each key's lock. A second scroll from the same thread (a
# self-join of companies: the outer scan is suspended while the inner one runs; a cursor of the
# session still reading companies) would wait for itself, so it is refused at once
# (ScrollOpenInThisSession: the scan may read the plain list instead); another thread simply waits
# like a backend.
_holders: dict = {}
_holders_lock = threading.Lock()


class ScrollOpenInThisSession(errors.UnsupportedOperationError):
    """This backend's own scan of companies holds the workspace's scroll."""


def workspace_key(base_url: str, token: str) -> str:
    """A file-name-safe key for the workspace that never reveals the token."""
    return hashlib.sha256(f"{base_url}\0{token}".encode()).hexdigest()[:32]


def lock_path(key: str, directory: Optional[str] = None) -> str:
    return os.path.join(directory or tempfile.gettempdir(), f"intercom_fdw-scroll-{key}.lock")


@contextlib.contextmanager
def workspace_scroll_lock(
    key: str,
    timeout: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    directory: Optional[str] = None,
) -> Iterator[None]:
    me = threading.get_ident()
    with _holders_lock:
        if _holders.get(key) == me:
            raise ScrollOpenInThisSession(
                "this session already has a scan of companies open (another scan of companies in this "
                "query, or an open cursor's), and Intercom allows only one companies scroll per workspace "
                "at a time",
                hint="close the cursor that reads companies, or give one of the query's scans of companies "
                "a filter by id or company_id (or materialize it first)",
            )
    fd = _open_lock_file(lock_path(key, directory))
    try:
        _acquire(fd, timeout, clock, sleep)
        with _holders_lock:
            _holders[key] = me
        try:
            yield
        finally:
            with _holders_lock:
                del _holders[key]
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _open_lock_file(path: str) -> int:
    """Open read-only (flock needs no more), creating the file if needed.

    Not O_CREAT on an existing file: with fs.protected_regular, Linux refuses that in /tmp for a
    file another user created (tests running as root next to backends running as postgres).
    """
    while True:
        try:
            return os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            pass
        try:
            return os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue  # another backend created it between our two calls


def _acquire(fd: int, timeout: float, clock, sleep) -> None:
    deadline = clock() + timeout
    pause = _POLL_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
        if clock() >= deadline:
            raise errors.RateLimitedError(
                f"gave up after waiting {timeout:g} s for another session's scan of companies to finish",
                hint="Intercom allows one companies scroll per workspace at a time; retry when the "
                "other scan is done, or filter companies by id, company_id, name, tag_id or segment_id",
            )
        sleep(pause)
        pause = min(pause * 2, _MAX_POLL_SECONDS)
