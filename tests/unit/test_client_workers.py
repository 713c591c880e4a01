"""Worker threads block every signal, so PostgreSQL's handlers (cancel, statement_timeout) run on
the backend's own thread and are never swallowed by a thread busy in an HTTP call."""
import signal

from intercom_fdw.client.workers import worker_pool


def blocked_signals():
    return signal.pthread_sigmask(signal.SIG_BLOCK, [])


def test_every_worker_blocks_every_signal():
    pool = worker_pool(3, "test-workers")
    try:
        masks = list(pool.map(lambda _: blocked_signals(), range(6)))
    finally:
        pool.shutdown(wait=True)
    blockable = signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}
    assert all(mask == blockable for mask in masks)
    assert signal.SIGINT not in blocked_signals()  # the calling thread keeps its own mask
