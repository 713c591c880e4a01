"""Worker threads for concurrent requests (get_many, read-ahead, bulk writes).

Inside a PostgreSQL backend, its signal handlers (query cancel, statement_timeout, terminate,
latch wake-ups) must run on the backend's own thread: a signal delivered to one of our threads
would go unnoticed until that thread's HTTP call returned. So every worker blocks them all.
"""
from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor


def block_signals() -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())


def worker_pool(width: int, name: str) -> ThreadPoolExecutor:
    """A pool of `width` threads named `name`_N that leave every signal to the backend thread."""
    return ThreadPoolExecutor(max_workers=width, thread_name_prefix=name, initializer=block_signals)
