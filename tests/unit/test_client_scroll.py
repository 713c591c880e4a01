"""The companies scroll: one per workspace across backends, restarts, no duplicates."""
import subprocess
import sys
import textwrap
import threading

import pytest

from intercom_fdw import errors
from intercom_fdw.client import ApiRequest
from intercom_fdw.client.scroll_lock import workspace_key
from tests.unit.test_client_intercom_double import TOKEN, Reply, client_against, error_list, serve

COMPANIES = [{"type": "company", "id": f"co{n}"} for n in range(7)]
SCROLL = ApiRequest("GET", "/companies/scroll", paging="scroll")


class ScrollingIntercom:
    """Pages of 3; a scroll_param names the next position. `fail` maps a call number to a Reply."""

    def __init__(self, fail=None):
        self.fail = fail or {}
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, request):
        with self.lock:
            self.calls += 1
            if self.calls in self.fail:
                return self.fail[self.calls]
        start = int(request.query.get("scroll_param", "p0")[1:])
        chunk = COMPANIES[start:start + 3]
        return Reply(body={"type": "list", "data": chunk, "pages": None, "total_count": None,
                           "scroll_param": f"p{start + 3}"})


def ids(items):
    return [item["id"] for item in items]


def scan(client):
    return ids(client.iter_items(SCROLL))


def test_scroll_until_empty_data(tmp_path):
    with serve(ScrollingIntercom()) as api:
        assert scan(client_against(api, scroll_lock_dir=str(tmp_path))) == ids(COMPANIES)
    assert [r.query for r in api.seen] == [{}, {"scroll_param": "p3"}, {"scroll_param": "p6"}, {"scroll_param": "p9"}]


@pytest.mark.parametrize(
    "failure",
    [
        Reply(404, error_list("not_found", "scroll_param not found")),  # expired after a minute unused
        Reply(400, error_list("parameter_invalid", "scroll_param is invalid")),
        Reply(500, error_list("server_error", "Request failed due to an internal network error. "
                                                "Please restart the scroll operation.")),
        Reply(drop=True),
    ],
)
def test_a_scroll_ended_by_intercom_restarts_without_duplicates(tmp_path, failure):
    with serve(ScrollingIntercom(fail={3: failure})) as api:
        assert scan(client_against(api, scroll_lock_dir=str(tmp_path))) == ids(COMPANIES)
    queries = [r.query for r in api.seen]
    # the failed continuation is never resent: the scroll starts over
    assert queries[:4] == [{}, {"scroll_param": "p3"}, {"scroll_param": "p6"}, {}]


def test_restarts_are_bounded(tmp_path):
    stale = Reply(404, error_list("not_found", "scroll_param not found"))
    with serve(ScrollingIntercom(fail={n: stale for n in (2, 4, 6, 8)})) as api:
        with pytest.raises(errors.NotFoundError):
            scan(client_against(api, scroll_lock_dir=str(tmp_path)))
    assert len(api.seen) == 8


def test_waits_while_another_scroll_is_open(tmp_path):
    """A scroll opened elsewhere (or one of ours abandoned < 1 minute ago) blocks a new one."""
    busy = Reply(400, error_list("scroll_exists", "scroll already exists for this app"))
    with serve(ScrollingIntercom(fail={1: busy, 2: busy})) as api:
        client = client_against(api, scroll_lock_dir=str(tmp_path))
        assert scan(client) == ids(COMPANIES)
    clock = client._clock
    assert len(clock.sleeps) == 2 and all(s >= 1.0 for s in clock.sleeps)


def test_gives_up_waiting_for_another_scroll(tmp_path):
    busy = Reply(400, error_list("scroll_exists", "scroll already exists for this app"))
    with serve(lambda r: busy) as api:
        client = client_against(api, scroll_lock_dir=str(tmp_path), scroll_wait_timeout=30)
        with pytest.raises(errors.ApiRejectedError, match="scroll already exists"):
            scan(client)
    assert sum(client._clock.sleeps) == pytest.approx(30, abs=0.01)  # waited the whole bound, no more


def test_authentication_errors_are_not_restarted(tmp_path):
    with serve(lambda r: Reply(401, error_list("unauthorized", "Access Token Invalid"))) as api:
        with pytest.raises(errors.AuthenticationError):
            scan(client_against(api, scroll_lock_dir=str(tmp_path)))
    assert len(api.seen) == 1


def test_a_second_scroll_in_the_same_session_fails_at_once(tmp_path):
    with serve(ScrollingIntercom()) as api:
        client = client_against(api, scroll_lock_dir=str(tmp_path))
        outer = client.iter_items(SCROLL)
        next(outer)
        with pytest.raises(errors.UnsupportedOperationError, match="one companies scroll per workspace"):
            next(client.iter_items(SCROLL))
        assert len(ids(outer)) == len(COMPANIES) - 1


def test_scans_in_two_threads_wait_for_each_other(tmp_path):
    from intercom_fdw.client import IntercomClient

    with serve(ScrollingIntercom()) as api:
        client = IntercomClient(api.url, TOKEN, scroll_lock_dir=str(tmp_path), scroll_wait_timeout=20)
        first = client.iter_items(SCROLL)
        next(first)  # the first scan holds the workspace's scroll
        second = []
        waiter = threading.Thread(target=lambda: second.extend(scan(client)))
        waiter.start()
        waiter.join(0.3)
        assert waiter.is_alive() and len(api.seen) == 1  # waiting, not calling Intercom
        rest = ids(first)
        waiter.join(10)
    assert len(rest) == len(COMPANIES) - 1 and second == ids(COMPANIES)
    assert [r.query for r in api.seen].count({}) == 2  # two scrolls, one after the other


def test_stopping_early_releases_the_lock(tmp_path):
    with serve(ScrollingIntercom()) as api:
        client = client_against(api, scroll_lock_dir=str(tmp_path))
        limited = ApiRequest("GET", "/companies/scroll", paging="scroll", max_items=2)
        assert len(list(client.iter_items(limited))) == 2
        assert scan(client) == ids(COMPANIES)


HOLD_LOCK = textwrap.dedent(
    """
    import sys, time
    from intercom_fdw.client.scroll_lock import workspace_scroll_lock
    with workspace_scroll_lock(sys.argv[1], 10, time.time, time.sleep, sys.argv[2]):
        print("locked", flush=True)
        time.sleep(float(sys.argv[3]))
    """
)


def hold_lock_elsewhere(key, directory, seconds):
    """Another backend: a separate process holding the workspace's scroll lock for `seconds`."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, key, directory, str(seconds)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_scans_from_two_backends_wait_for_each_other(tmp_path):
    with serve(ScrollingIntercom()) as api:
        holder = hold_lock_elsewhere(workspace_key(api.url, TOKEN), str(tmp_path), 0.5)
        try:
            # real clock: the wait is for a real process
            from intercom_fdw.client import IntercomClient

            client = IntercomClient(api.url, TOKEN, scroll_lock_dir=str(tmp_path), scroll_wait_timeout=20)
            assert scan(client) == ids(COMPANIES)
            assert holder.poll() == 0  # we got the lock only after the other scan ended
        finally:
            holder.wait()


def test_waiting_for_another_backend_is_bounded(tmp_path):
    with serve(ScrollingIntercom()) as api:
        holder = hold_lock_elsewhere(workspace_key(api.url, TOKEN), str(tmp_path), 5)
        try:
            client = client_against(api, scroll_lock_dir=str(tmp_path), scroll_wait_timeout=12)
            with pytest.raises(errors.RateLimitedError) as caught:
                scan(client)
            assert "waiting 12 s for another session's scan of companies" in str(caught.value)
            assert "one companies scroll per workspace" in caught.value.hint
            assert api.seen == []
        finally:
            holder.kill()
            holder.wait()


# ---- the plain list stands in for a scroll that cannot be opened ------------------------------------

LISTED = ApiRequest("GET", "/companies", paging="page", per_page=3)
REACH = 10_000


def with_stand_in(reach=REACH):
    return ApiRequest("GET", "/companies/scroll", paging="scroll", stand_in=(LISTED, reach))


class ScrollAndList(ScrollingIntercom):
    """The scroll as above, and GET /companies: pages of 3 with total_count (`total` to claim more)."""

    def __init__(self, fail=None, total=None):
        super().__init__(fail)
        self.total = total

    def __call__(self, request):
        if request.path != "/companies":
            return super().__call__(request)
        page = int(request.query["page"])
        chunk = COMPANIES[(page - 1) * 3:page * 3]
        pages = {"type": "pages", "page": page, "per_page": 3, "total_pages": -(-len(COMPANIES) // 3)}
        return Reply(body={"type": "list", "data": chunk, "pages": pages,
                           "total_count": self.total if self.total is not None else len(COMPANIES)})


BUSY = Reply(400, error_list("scroll_exists", "scroll already exists for this workspace"))


def test_a_scroll_already_open_is_replaced_by_the_list_without_waiting(tmp_path):
    with serve(ScrollAndList(fail={1: BUSY})) as api:
        client = client_against(api, scroll_lock_dir=str(tmp_path))
        assert ids(client.iter_items(with_stand_in())) == ids(COMPANIES)
    assert client._clock.sleeps == []
    assert [(r.path, r.query.get("page")) for r in api.seen] == [
        ("/companies/scroll", None), ("/companies", "1"), ("/companies", "2"), ("/companies", "3")]


def test_a_lost_answer_to_opening_the_scroll_costs_no_wait(tmp_path):
    # the first open reached Intercom and opened the scroll, its answer was lost; the resend finds it open
    with serve(ScrollAndList(fail={1: Reply(drop=True), 2: BUSY})) as api:
        client = client_against(api, scroll_lock_dir=str(tmp_path))
        assert ids(client.iter_items(with_stand_in())) == ids(COMPANIES)
    assert all(s < 1.0 for s in client._clock.sleeps)  # the resend's backoff only


def test_after_a_restart_the_list_gives_only_the_companies_not_yet_given(tmp_path):
    stale = Reply(404, error_list("not_found", "scroll_param not found"))
    with serve(ScrollAndList(fail={2: stale, 3: BUSY})) as api:
        client = client_against(api, scroll_lock_dir=str(tmp_path))
        assert ids(client.iter_items(with_stand_in())) == ids(COMPANIES)  # no duplicates, none missing


def test_a_list_that_cannot_reach_every_company_is_not_used(tmp_path):
    with serve(ScrollAndList(fail={1: BUSY}, total=REACH + 1)) as api:
        client = client_against(api, scroll_lock_dir=str(tmp_path))
        assert ids(client.iter_items(with_stand_in())) == ids(COMPANIES)
    assert len(client._clock.sleeps) == 1 and client._clock.sleeps[0] >= 1.0  # waited, then scrolled
    assert [r.path for r in api.seen][:3] == ["/companies/scroll", "/companies", "/companies/scroll"]


def test_a_second_scan_while_this_session_scrolls_reads_the_list(tmp_path):
    # A cursor of the session still reading companies (or a self-join's other side) holds the scroll:
    # a second scan failed ("this query already has a scan of companies open") where the list reaches
    # every company.
    with serve(ScrollAndList()) as api:
        client = client_against(api, scroll_lock_dir=str(tmp_path))
        cursor = client.iter_items(with_stand_in())
        first = next(cursor)
        assert ids(client.iter_items(with_stand_in())) == ids(COMPANIES)
        assert [first["id"]] + ids(cursor) == ids(COMPANIES)
    assert [r.path for r in api.seen].count("/companies/scroll") == 4  # one scroll, read to its end


def test_a_second_scan_while_this_session_scrolls_fails_where_the_list_falls_short(tmp_path):
    with serve(ScrollAndList(total=REACH + 1)) as api:
        client = client_against(api, scroll_lock_dir=str(tmp_path))
        cursor = client.iter_items(with_stand_in())
        next(cursor)
        with pytest.raises(errors.UnsupportedOperationError, match="one companies scroll per workspace") as caught:
            next(client.iter_items(with_stand_in()))
        assert "close the cursor" in caught.value.hint
