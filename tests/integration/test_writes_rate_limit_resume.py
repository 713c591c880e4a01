"""A bulk INSERT refused with 429s resumes as soon as the slice turns over: every worker waiting for the
reset goes at it (a fresh slice's spacing apart), none keeps a slot spaced by the seconds that were left
in the slice when the 429 came (those would make the k-th resend (k-1) x that late)."""
import time

from tests.integration.test_writes_concurrency import (  # noqa: F401  (pytest fixtures)
    bulk_db, emulator_behind_proxy, insert, knobs, spend_the_slice)


def test_a_rate_limited_bulk_insert_resumes_when_the_slice_turns_over(pg, bulk_db, emulator_behind_proxy):
    server, proxy = emulator_behind_proxy
    knobs(server, rate_limit_per_10s=100)
    try:
        reset = spend_the_slice(server, 100, seconds_left=6)
        insert(pg, bulk_db, "resumed", 30)
        finished = time.time()
    finally:
        knobs(server, rate_limit_per_10s=100_000)
    # 30 rows fit in the next slice at once: the import ends shortly after the reset
    assert finished - reset < 3, f"{finished - reset:.1f} s after the slice turned over"
