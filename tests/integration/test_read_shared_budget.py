"""Six backends scanning with the same token under a tight rate limit share one budget
(client/shared_budget.py): every scan succeeds (no 429 reaches SQL) and the emulator answers
almost no 429 at all, since no backend spends what another already has."""
import threading

import pytest
import requests

from intercom_fdw.emulator import EmulatorConfig, start_in_thread
from tests.integration.read_fixtures import create_server

pytestmark = pytest.mark.timeout(120)
BACKENDS = 6
LIMIT_PER_10S = 20  # 6 scans of 6 pages: 36 calls, two slices


@pytest.fixture(scope="module")
def tight(pg, db):
    config = EmulatorConfig(seed=31, token="tok-budget-9a1c", contacts=900, companies=8, conversations=4,
                            tickets=3, articles=2, knobs={"rate_limit_per_10s": LIMIT_PER_10S, "latency_ms": 10})
    with start_in_thread(config, port=0) as server:
        limited = [0]
        limiter, take = server.state.rate_limiter, server.state.rate_limiter.take

        def counting(*args, **kwargs):
            decision = take(*args, **kwargs)
            limited[0] += not decision.allowed
            return decision

        limiter.take = counting
        with pg.connect(db) as conn:
            create_server(conn, "budget", server.url, server.token)
            conn.execute("CREATE FOREIGN TABLE public.budget_contacts (id text) SERVER budget "
                         "OPTIONS (object 'contacts')")
        yield server, limited


def test_concurrent_backends_share_the_rate_budget(pg, db, tight):
    server, limited = tight
    outcomes = [None] * BACKENDS
    barrier = threading.Barrier(BACKENDS)

    def scan(i):
        with pg.connect(db) as conn:
            barrier.wait()
            try:
                outcomes[i] = conn.execute("SELECT count(*) FROM public.budget_contacts").fetchone()[0]
            except Exception as error:  # reported by the assertion below
                outcomes[i] = error

    threads = [threading.Thread(target=scan, args=(i,)) for i in range(BACKENDS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(100)
    assert outcomes == [900] * BACKENDS
    calls = requests.get(server.url + "/__emulator/counters", timeout=30).json()["total"]
    assert calls >= BACKENDS * 6
    # Calls sent at a slice's start before its first answer are not counted yet: each backend's may
    # meet a 429 (measured alone: 0 with the shared budget, 2 to 4 without; under a loaded suite, 2).
    assert limited[0] <= BACKENDS, f"{limited[0]} answers 429 for {calls} calls"


EIGHT = 8
SMALL_BUDGET = 16  # calls per 10-second slice: 8 scans of 5 pages (40 calls) span three slices


@pytest.fixture(scope="module")
def small_budget(pg, db):
    config = EmulatorConfig(seed=32, token="tok-budget-8b2e", contacts=750, companies=8, conversations=4,
                            tickets=3, articles=2, knobs={"rate_limit_per_10s": SMALL_BUDGET})
    with start_in_thread(config, port=0) as server:
        decisions = []  # (slice end, allowed) of every API call, as the emulator's limiter decided
        limiter, take = server.state.rate_limiter, server.state.rate_limiter.take

        def recording(*args, **kwargs):
            decision = take(*args, **kwargs)
            decisions.append((decision.reset, decision.allowed))
            return decision

        limiter.take = recording
        with pg.connect(db) as conn:
            create_server(conn, "small_budget", server.url, server.token)
            conn.execute("CREATE FOREIGN TABLE public.small_budget_contacts (id text) SERVER small_budget "
                         "OPTIONS (object 'contacts')")
            # read as windows, read_concurrency at its default (32): a backend's windows race for the budget too
            conn.execute("CREATE FOREIGN TABLE public.small_budget_windows (id text, created_at timestamptz) "
                         "SERVER small_budget OPTIONS (object 'contacts', scan_mode 'partitioned')")
        yield server, decisions


@pytest.mark.parametrize("table", ["small_budget_contacts", "small_budget_windows"])
def test_eight_backends_use_the_whole_budget_and_no_more(pg, db, small_budget, table):
    # Judged per rate-limit slice from the emulator's own decisions, not by the clock of this
    # machine: in every slice the scans wholly ran through, the calls Intercom accepted are within
    # 10% of the budget (the backends together neither waste it nor overrun it by much).
    server, decisions = small_budget
    decisions.clear()
    searches = requests.get(server.url + "/__emulator/counters", timeout=30).json()["by_route"].get(
        "POST /contacts/search", 0)
    outcomes = [None] * EIGHT
    barrier = threading.Barrier(EIGHT)

    def scan(i):
        with pg.connect(db) as conn:
            conn.execute("SELECT 1")
            barrier.wait()
            try:
                outcomes[i] = conn.execute(f"SELECT count(*) FROM public.{table}").fetchone()[0]
            except Exception as error:  # reported by the assertion below
                outcomes[i] = error

    threads = [threading.Thread(target=scan, args=(i,)) for i in range(EIGHT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(100)
    assert outcomes == [750] * EIGHT  # no 429 reached SQL
    if table == "small_budget_windows":  # each scan read its first page and then its windows
        searches = requests.get(server.url + "/__emulator/counters", timeout=30).json()["by_route"][
            "POST /contacts/search"] - searches
        assert searches >= EIGHT * 3, searches
    slices = sorted({reset for reset, _ in decisions})
    assert len(slices) >= 3, slices
    accepted = {s: sum(1 for reset, allowed in decisions if reset == s and allowed) for s in slices}
    sent = {s: sum(1 for reset, _ in decisions if reset == s) for s in slices}
    # The first slice began before the scans, the last ended after them: the ones between are whole.
    for whole in slices[1:-1]:
        assert accepted[whole] >= 0.9 * SMALL_BUDGET, (accepted, sent)
        assert sent[whole] <= 1.1 * SMALL_BUDGET, (accepted, sent)
