"""Cancel, statement_timeout and terminate end every wait within about half a second, and leave
nothing behind: a query waiting for a 429's reset, one waiting for the companies scroll lock, one with
a request in flight against a slow emulator (a contacts page, a companies scroll page). After each, the same backend answers at once, runs no
thread but its own (/proc/<pid>/task), and scans companies without waiting for a scroll.

Runtimes: the bundled one reports PostgreSQL's own cancel (SQLSTATE 57014); multicorn2 3.2 reports
intercom_fdw's "canceling statement ..." ERROR (XX000); a terminate ends the backend on both."""
import fcntl
import os
import threading
import time

import psycopg
import pytest

from intercom_fdw.client.scroll_lock import lock_path, workspace_key
from tests.emulator_fixtures import running_emulator, set_knobs
from tests.integration.read_fixtures import Api, create_server

pytestmark = pytest.mark.timeout(120)
TOKEN = "cancel-test-token"
MULTICORN2 = os.environ.get("INTERCOM_FDW_RUNTIME") == "multicorn2"
LATENCY_LIMIT = 0.6  # seconds from the cancel to the error
KINDS = ("cancel", "statement_timeout", "terminate")


@pytest.fixture(scope="module")
def server():
    with running_emulator(seed=5, token=TOKEN, contacts=120, companies=60, conversations=4, tickets=3,
                          articles=2, knobs={}) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def cancel_db(pg, db, server):
    with pg.connect(db) as conn:
        create_server(conn, "cancel", server.url, TOKEN, read_timeout=60)
        conn.execute("CREATE FOREIGN TABLE contacts (id text, email text, name text) SERVER cancel "
                     "OPTIONS (object 'contacts')")
        conn.execute("CREATE FOREIGN TABLE companies (id text, name text) SERVER cancel OPTIONS (object 'companies')")
    return db


def knobs(server, **values):
    set_knobs(server.url, **values)


@pytest.fixture
def calm(server):
    yield
    knobs(server, latency_ms=0, slow_body_ms=0)


class Interrupted:
    def __init__(self, error, latency, pid, conn):
        self.error, self.latency, self.pid, self.conn = error, latency, pid, conn


def interrupt(pg, db, query, kind, after=0.5, timeout_s=1.0, ready=None, notices=None):
    """Run `query` in a backend of its own and interrupt it `after` seconds in (or once `ready()`); the
    error and the seconds from the interrupt (for statement_timeout: from when it was due) to the error.
    `notices`: a list the backend's notices and warnings are added to, as (severity, message, detail)."""
    conn = pg.connect(db)
    if notices is not None:
        conn.add_notice_handler(lambda diag: notices.append((diag.severity_nonlocalized, diag.message_primary,
                                                             diag.message_detail)))
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    for table in ("contacts", "companies"):  # Python, intercom_fdw and the tables' objects ready: no API call
        conn.execute(f"EXPLAIN SELECT * FROM {table}")
    if kind == "statement_timeout":
        conn.execute(f"SET statement_timeout = '{timeout_s}s'")
    outcome = {}

    def run():
        outcome["started"] = time.monotonic()
        try:
            conn.execute(query).fetchall()
            outcome["error"] = None
        except psycopg.Error as error:
            outcome["error"] = error
        outcome["ended"] = time.monotonic()

    thread = threading.Thread(target=run)
    thread.start()
    if kind == "statement_timeout":
        thread.join(30)
        due = outcome["started"] + timeout_s
    else:
        if ready is None:
            time.sleep(after)
        else:
            deadline = time.monotonic() + 30
            while not ready():
                assert thread.is_alive() and time.monotonic() < deadline, f"never ready: {outcome}"
                time.sleep(0.01)
        assert thread.is_alive(), f"the query ended before it was interrupted: {outcome}"
        with pg.connect() as admin:
            due = time.monotonic()
            function = "pg_cancel_backend" if kind == "cancel" else "pg_terminate_backend"
            admin.execute(f"SELECT {function}(%s)", (pid,))
        thread.join(30)
    assert not thread.is_alive()
    if kind == "statement_timeout":
        conn.execute("SET statement_timeout = 0")  # noqa (a healthy backend accepts it)
    return Interrupted(outcome["error"], outcome["ended"] - due, pid, conn)


def assert_canceled(error: psycopg.Error, why: str) -> None:
    """The error a canceled or timed-out statement gives on this runtime (`why`: "user request" or
    "statement timeout"): PostgreSQL's own on the bundled runtime; under multicorn2 intercom_fdw's when
    Python saw the interrupt first, PostgreSQL's own when PostgreSQL did (between rows, outside Python)."""
    diag = error.diag
    if MULTICORN2 and diag.sqlstate != "57014":  # PostgreSQL's own when it saw the interrupt between rows
        assert diag.message_primary == "canceling statement due to user request or statement timeout", diag
    else:
        assert (diag.sqlstate, diag.message_primary) == ("57014", f"canceling statement due to {why}")


def backend_threads(pid) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def lock_is_free(server) -> bool:
    """No process holds the workspace's scroll lock file (flock: the test can take it at once)."""
    path = lock_path(workspace_key(server.url.rstrip("/"), TOKEN))
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def assert_gone(pg, pid) -> None:
    """The terminated backend ends within 2 s."""
    deadline = time.monotonic() + 2
    with pg.connect() as admin:
        while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0]:
            assert time.monotonic() < deadline, "the terminated backend is still there"
            time.sleep(0.05)


def assert_interrupted_cleanly(pg, db, result: Interrupted, kind):
    print(f"{kind}: error {result.latency:.3f} s after the interrupt")
    assert result.error is not None, "the query was not interrupted"
    assert result.latency <= LATENCY_LIMIT, f"{kind}: {result.latency:.2f} s"
    diag = result.error.diag
    if kind == "terminate":
        if MULTICORN2:  # our ERROR first; PostgreSQL ends the backend right after it
            assert "terminating connection" in (diag.message_primary or ""), diag.message_primary
        else:
            assert result.conn.broken or diag.sqlstate == "57P01", result.error
        assert_gone(pg, result.pid)
        return
    assert_canceled(result.error, "statement timeout" if kind == "statement_timeout" else "user request")
    # the same backend: healthy, and nothing of ours left running in it
    assert result.conn.execute("SELECT 1").fetchone() == (1,)
    deadline = time.monotonic() + 0.5
    while backend_threads(result.pid) > 1:
        assert time.monotonic() < deadline, f"{backend_threads(result.pid)} threads in the backend"
        time.sleep(0.02)


def spend_the_slice(server, seconds_left):
    """With a limit of 1 call per 10-second slice, make sure the slice is used up and at least
    `seconds_left` of it remain (the tests share one slice when they can)."""
    session = Api(server.url, TOKEN).session
    knobs(server, rate_limit_per_10s=1)
    while True:
        answer = session.get(server.url + "/me", timeout=30)
        left = int(answer.headers["X-RateLimit-Reset"]) - time.time()
        if left >= seconds_left:
            if answer.status_code == 429:
                return
            continue  # this call spent it
        time.sleep(max(left, 0) + 0.05)


@pytest.mark.parametrize("kind", KINDS)
def test_a_query_waiting_for_a_rate_limit_reset(pg, cancel_db, server, calm, kind):
    spend_the_slice(server, seconds_left=2.5)
    result = interrupt(pg, cancel_db, "SELECT count(*) FROM contacts", kind)
    assert_interrupted_cleanly(pg, cancel_db, result, kind)


@pytest.mark.parametrize("kind", KINDS)
def test_a_query_with_a_request_in_flight_against_a_slow_emulator(pg, cancel_db, server, calm, kind):
    knobs(server, rate_limit_per_10s=100_000)
    knobs(server, latency_ms=3000)
    result = interrupt(pg, cancel_db, "SELECT * FROM contacts", kind)
    assert_interrupted_cleanly(pg, cancel_db, result, kind)
    # a companies scroll whose answer has begun, its body coming slowly: no lock left, no scroll waited for
    knobs(server, latency_ms=0, slow_body_ms=3000)
    result = interrupt(pg, cancel_db, "SELECT * FROM companies", kind)
    assert_interrupted_cleanly(pg, cancel_db, result, kind)
    assert lock_is_free(server)
    knobs(server, slow_body_ms=0)
    with pg.connect(cancel_db) as conn:
        started = time.monotonic()
        conn.execute("SELECT count(*) FROM companies").fetchone()
        # a scroll left open would be waited out (a minute); a new backend's first scan imports Python and
        # intercom_fdw and may wait for the workspace's shared rate budget, which an earlier test spent
        assert time.monotonic() - started < 10


@pytest.mark.parametrize("kind", KINDS)
def test_a_query_waiting_for_the_scroll_lock(pg, cancel_db, server, calm, kind):
    knobs(server, rate_limit_per_10s=100_000)
    holder = pg.connect(cancel_db, autocommit=False)
    try:
        # an open cursor over companies holds the workspace's scroll (and its lock) in another backend
        holder.execute("DECLARE held CURSOR FOR SELECT id FROM companies")
        holder.execute("FETCH 1 FROM held").fetchall()
        result = interrupt(pg, cancel_db, "SELECT count(*) FROM companies", kind)
        assert_interrupted_cleanly(pg, cancel_db, result, kind)
    finally:
        holder.rollback()
        holder.close()
    # the lock is free again and the scroll left open by the cursor costs no wait: the next scan
    # reads the plain list (fewer than 10,000 companies) instead of waiting a minute for it to expire
    with pg.connect(cancel_db) as conn:
        started = time.monotonic()
        count = conn.execute("SELECT count(*) FROM companies").fetchone()[0]
        assert time.monotonic() - started < 2
    assert count == len(Api(server.url, TOKEN).get("/companies", per_page=60)["data"])


def contact_ids_with_prefix(server, prefix):
    return sorted(c["id"] for c in Api(server.url, TOKEN).all("/contacts") if (c.get("email") or "").startswith(prefix))


@pytest.mark.parametrize("kind", ("cancel", "statement_timeout"))
def test_a_bulk_insert_stopped_part_way_says_what_reached_intercom(pg, cancel_db, server, calm, kind):
    knobs(server, rate_limit_per_10s=100_000, latency_ms=100)
    prefix = f"stopped-{kind}-"
    notices = []
    conn = pg.connect(cancel_db)
    conn.add_notice_handler(lambda diag: notices.append((diag.severity_nonlocalized, diag.message_primary,
                                                         diag.message_detail)))
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    if kind == "statement_timeout":
        conn.execute("SET statement_timeout = '1.2s'")
    query = ("INSERT INTO contacts (email, name) SELECT %s || g || '@example.com', 'Stopped ' || g "
             "FROM generate_series(1, 300) g")
    timer = None
    if kind == "cancel":
        timer = threading.Timer(1.2, lambda: pg.connect().execute("SELECT pg_cancel_backend(%s)", (pid,)))
        timer.start()
    with pytest.raises(psycopg.Error) as caught:
        conn.execute(query, (prefix,))
    if timer:
        timer.join()
    assert_canceled(caught.value, "statement timeout" if kind == "statement_timeout" else "user request")
    written = [n for n in notices if "had already been written to Intercom" in (n[1] or "")]
    assert len(written) == 1, notices
    severity, message, detail = written[0]
    assert severity == "WARNING"
    reported = sorted(detail.removeprefix("written ids: ").split(", "))
    assert int(message.split()[0]) == len(reported) and 0 < len(reported) < 300
    in_flight = [n for n in notices if "were in flight" in (n[1] or "")]
    unknown = int(in_flight[0][1].split()[0]) if in_flight else 0
    time.sleep(0.3)  # the emulator finishes the requests that were abandoned in flight
    held = contact_ids_with_prefix(server, prefix)
    # every id reported is in Intercom; what Intercom holds beyond them is the requests in flight
    assert set(reported) <= set(held)
    assert len(held) - len(reported) <= unknown, (len(held), len(reported), unknown)
    assert conn.execute("SELECT 1").fetchone() == (1,)
    conn.close()



@pytest.fixture(scope="module")
def actions_db(pg, server):
    """A database with the extension's action functions, its server reading the module's emulator."""
    name = pg.create_database("cancel_actions", extensions=("multicorn", "plpython3u", "intercom_fdw"))
    with pg.connect(name) as conn:
        create_server(conn, "intercom", server.url, TOKEN, read_timeout=60)
        conn.execute("CREATE FOREIGN TABLE contacts (id text, email text, name text) SERVER intercom "
                     "OPTIONS (object 'contacts')")
        conn.execute("CREATE FOREIGN TABLE companies (id text, name text) SERVER intercom "
                     "OPTIONS (object 'companies')")
    return name


@pytest.mark.parametrize("kind", KINDS)
def test_an_action_waiting_for_intercom(pg, actions_db, server, calm, kind):
    # Reported as a cancel by the function (57014 on both runtimes: PL/Python sets the SQLSTATE), with
    # what may have reached Intercom: the request had been sent when the wait was given up.
    knobs(server, rate_limit_per_10s=100_000)
    contact = Api(server.url, TOKEN).get("/contacts", per_page=1)["data"][0]["id"]
    # a slice an earlier test spent (rate_limit_per_10s 1) turns over first: the call must not wait for it
    answer = Api(server.url, TOKEN).session.get(server.url + "/me", timeout=30)
    time.sleep(max(0.0, int(answer.headers["X-RateLimit-Reset"]) - time.time()) + 0.2)
    knobs(server, latency_ms=20_000)
    result = interrupt(pg, actions_db, f"SELECT archive_contact('{contact}')", kind)
    print(f"{kind}: error {result.latency:.3f} s after the interrupt")
    assert result.error is not None and result.latency <= LATENCY_LIMIT, (result.error, result.latency)
    if kind == "terminate":  # the function's ERROR says so, then PostgreSQL ends the backend
        assert result.conn.broken or "terminating connection" in (result.error.diag.message_primary or "")
        assert_gone(pg, result.pid)
        return
    diag = result.error.diag
    assert diag.sqlstate == "57014", diag.message_primary
    assert "canceling statement due to user request or statement timeout" in diag.message_primary
    assert "the request had been sent, so Intercom may have carried out this action" in diag.message_detail
    assert result.conn.execute("SELECT 1").fetchone() == (1,)


def fresh_slice(server, limit):
    """A rate-limit slice of `limit` calls that has just begun, one of them spent here: the next
    `limit - 1` calls go, the one after meets a 429 and waits for the slice's end (6 s or more away)."""
    session = Api(server.url, TOKEN).session
    knobs(server, rate_limit_per_10s=limit)
    while True:
        answer = session.get(server.url + "/me", timeout=30)
        left = int(answer.headers["X-RateLimit-Reset"]) - time.time()
        if answer.status_code == 200 and int(answer.headers["X-RateLimit-Remaining"]) == limit - 1 and left >= 6:
            return
        time.sleep(max(left, 0) + 0.05)


def calls_to(server, route) -> int:
    return Api(server.url, TOKEN).counters()["by_route"].get(route, 0)


@pytest.fixture
def lost_answers(server):
    yield
    knobs(server, drop_rate=0, drop_route="", rate_limit_per_10s=100_000)


def test_a_create_stopped_while_waiting_to_be_resent_says_it_may_have_reached_intercom(pg, cancel_db, server,
                                                                                        lost_answers):
    # The first POST /contacts is carried out, its answer lost (the connection cut); the writer resends
    # it (a contact's create is found again by its email), and that resend waits for a 429's reset when
    # the cancel comes. The statement said nothing at all (the row's request was not in flight at that
    # moment), though the contact was in Intercom. Now the row is named as one whose outcome is unknown.
    email = "resent-then-canceled@example.com"
    route = "POST /contacts"
    before = calls_to(server, route)
    fresh_slice(server, limit=2)
    knobs(server, drop_rate=1.0, drop_route=route)
    notices = []
    result = interrupt(pg, cancel_db, f"INSERT INTO contacts (email) VALUES ('{email}')", "cancel",
                       ready=lambda: calls_to(server, route) >= before + 2, notices=notices)  # sent, then refused
    assert_interrupted_cleanly(pg, cancel_db, result, "cancel")
    assert calls_to(server, route) == before + 2  # the first send (carried out, its answer cut) and the refused resend
    knobs(server, drop_rate=0, drop_route="", rate_limit_per_10s=100_000)
    assert contact_ids_with_prefix(server, email)  # the first send created it
    warnings = [(message, detail) for severity, message, detail in notices if severity == "WARNING"]
    assert warnings == [("1 request(s) were in flight (or sent without a usable answer) when the statement was "
                         "stopped: whether they reached Intercom is unknown", "rows: 1")], notices


def test_an_action_stopped_while_waiting_to_be_retried_says_it_may_have_been_carried_out(pg, actions_db, server,
                                                                                        lost_answers):
    # archive_contact's first send is carried out and its answer lost; the client sends it again (it is
    # idempotent), and that retry waits for a 429's reset when the cancel comes. The DETAIL said
    # "intercom_fdw stopped waiting before the request was sent: nothing reached Intercom".
    contact = Api(server.url, TOKEN).get("/contacts", per_page=5)["data"][-1]["id"]
    route = "POST /contacts/{id}/archive"
    before = calls_to(server, route)
    fresh_slice(server, limit=2)
    knobs(server, drop_rate=1.0, drop_route=route)
    result = interrupt(pg, actions_db, f"SELECT archive_contact('{contact}')", "cancel",
                       ready=lambda: calls_to(server, route) >= before + 2)
    assert result.error is not None and result.latency <= LATENCY_LIMIT, (result.error, result.latency)
    diag = result.error.diag
    assert diag.sqlstate == "57014", diag.message_primary
    assert "the request had been sent, so Intercom may have carried out this action" in diag.message_detail, \
        diag.message_detail
    assert result.conn.execute("SELECT 1").fetchone() == (1,)
    assert calls_to(server, route) == before + 2  # the first send (carried out, its answer cut) and the refused retry
    knobs(server, drop_rate=0, drop_route="", rate_limit_per_10s=100_000)
    Api(server.url, TOKEN).post(f"/contacts/{contact}/unarchive", {})


def test_a_statement_calling_an_action_per_row_is_canceled_as_a_cancel(pg, actions_db, server, calm):
    # A cancel of a statement that calls an action per row lands anywhere: in PostgreSQL between calls, in
    # the client's wait, or in the queries the function runs first (its server and user mapping), where
    # it was reported as "internal error: QueryCanceled: ..." (XX000, HINT: a bug of intercom_fdw), about
    # one cancel in three. Each try cancels a run of 5,000 calls at another moment. The function reports
    # every cancel that comes while its calls run (between two, too), naming the calls that reached Intercom.
    knobs(server, rate_limit_per_10s=100_000)
    # a slice an earlier test spent (rate_limit_per_10s 2) turns over first: the calls must not wait for it
    answer = Api(server.url, TOKEN).session.get(server.url + "/me", timeout=30)
    time.sleep(max(0.0, int(answer.headers["X-RateLimit-Reset"]) - time.time()) + 0.2)
    ids = [c["id"] for c in Api(server.url, TOKEN).get("/contacts", per_page=50)["data"]]
    query = (f"SELECT unarchive_contact(c) FROM unnest(ARRAY[{', '.join(repr(i) for i in ids)}]) c, "
             "generate_series(1, 100) g")
    route = "POST /contacts/{id}/unarchive"
    ours = 0
    for attempt in range(12):
        before = calls_to(server, route)
        result = interrupt(pg, actions_db, query, "cancel", after=0.3 + 0.05 * attempt)
        diag = result.error.diag
        assert diag.sqlstate == "57014", (diag.sqlstate, diag.message_primary, diag.message_detail)
        assert "canceling statement due to user request" in diag.message_primary, diag.message_primary
        sent = calls_to(server, route) - before  # one at a time: all but the last had their answer
        if diag.message_primary.startswith("intercom_fdw.unarchive_contact(): ") and sent >= 2:
            # the function's own report of the cancel counts the calls made before it, and names the first ten
            ours += 1
            reached = int(diag.message_primary.split("; ")[-1].split(" call(s) of it had already reached")[0])
            assert reached in (sent - 1, sent), (sent, diag.message_primary)
            assert "calls of it that reached Intercom: unarchive_contact(id => " in diag.message_detail
        assert result.latency <= LATENCY_LIMIT and result.conn.execute("SELECT 1").fetchone() == (1,)
        result.conn.close()
    assert ours, "no cancel came while calls ran"
    print(f"{ours} of 12 cancels reported by the function after calls had reached Intercom")
