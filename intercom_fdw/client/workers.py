"""Worker threads for concurrent requests (get_many, read-ahead, bulk writes, each request's own thread).

Inside a PostgreSQL backend, its signal handlers (query cancel, statement_timeout, terminate,
latch wake-ups) must run on the backend's own thread: a signal delivered to one of our threads
would go unnoticed until that thread's HTTP call returned. So every worker blocks them all.
"""
from __future__ import annotations

import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable


def block_signals() -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())


def worker_pool(width: int, name: str) -> ThreadPoolExecutor:
    """A pool of `width` threads named `name`_N that leave every signal to the backend thread."""
    return ThreadPoolExecutor(max_workers=width, thread_name_prefix=name, initializer=block_signals)


def start_thread(target: Callable[[], None], name: str) -> threading.Thread:
    """A started daemon thread running `target` with every signal blocked from its first instruction:
    a thread inherits its creator's mask, so the creator blocks them while it starts the thread."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return thread
