"""Each paging style against a scripted Intercom: what is sent, what comes back, when it stops."""
import time

import pytest

from intercom_fdw.client import ApiRequest
from intercom_fdw.client.paging import items_of, next_link, reroot
from tests.unit.test_client_intercom_double import Reply, client_against, serve

ROWS = [{"type": "contact", "id": f"c{n}"} for n in range(7)]


def cursor_list(rows, items_key="data"):
    """Intercom's cursor lists: per_page + starting_after, next at pages.next.starting_after."""

    def handler(request):
        size = int(request.query.get("per_page", 50))
        start = int(request.query.get("starting_after", 0))
        chunk = rows[start:start + size]
        more = start + size < len(rows)
        pages = {"type": "pages", "per_page": size, "next": {"per_page": size, "starting_after": str(start + size)} if more else None}
        return Reply(body={"type": "list", items_key: chunk, "pages": pages, "total_count": len(rows)})

    return handler


def ids(items):
    return [item["id"] for item in items]


def test_cursor_paging_follows_starting_after():
    with serve(cursor_list(ROWS)) as api:
        client = client_against(api)
        got = list(client.iter_items(ApiRequest("GET", "/contacts", {"role": "user"}, paging="cursor", per_page=3)))
    assert ids(got) == ids(ROWS)
    assert [r.query for r in api.seen] == [
        {"role": "user", "per_page": "3"},
        {"role": "user", "per_page": "3", "starting_after": "3"},
        {"role": "user", "per_page": "3", "starting_after": "6"},
    ]
    assert client.calls_made == 3


def test_max_items_sizes_per_page_and_stops_paging():
    with serve(cursor_list(ROWS)) as api:
        client = client_against(api)
        got = list(client.iter_items(ApiRequest("GET", "/contacts", paging="cursor", per_page=150, max_items=5)))
    assert ids(got) == ids(ROWS[:5])
    assert [r.query for r in api.seen] == [{"per_page": "5"}]


def test_max_items_across_pages_fetches_only_the_pages_needed():
    with serve(cursor_list(ROWS)) as api:
        got = list(client_against(api).iter_items(ApiRequest("GET", "/contacts", paging="cursor", per_page=2, max_items=3)))
    assert ids(got) == ["c0", "c1", "c2"]
    assert len(api.seen) == 2


def test_max_items_zero_makes_no_call():
    with serve(cursor_list(ROWS)) as api:
        assert list(client_against(api).iter_items(ApiRequest("GET", "/contacts", paging="cursor", max_items=0))) == []
    assert api.seen == []


def test_pages_are_fetched_lazily():
    with serve(cursor_list(ROWS)) as api:
        items = client_against(api).iter_items(ApiRequest("GET", "/contacts", paging="cursor", per_page=2))
        assert api.seen == []  # nothing before the first item is asked for
        assert [next(items)["id"], next(items)["id"]] == ["c0", "c1"]
        assert len(api.seen) == 1  # the second page only when the first is used up
        next(items)
        # from the second page on, one page is read ahead (test_client_read_ahead.py), no more
        deadline = time.monotonic() + 5
        while len(api.seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        assert len(api.seen) == 3
        items.close()
    assert len(api.seen) == 3


def test_cursor_style_also_follows_a_next_url():
    def handler(request):
        if "starting_after" not in request.query:
            return Reply(body={"data": ROWS[:2], "pages": {"next": "https://api.intercom.io/contacts?starting_after=xyz"}})
        return Reply(body={"data": ROWS[2:3], "pages": {"next": None}})

    with serve(handler) as api:
        got = list(client_against(api).iter_items(ApiRequest("GET", "/contacts", paging="cursor")))
    assert ids(got) == ["c0", "c1", "c2"]
    assert api.seen[1].query == {"starting_after": "xyz"}


def test_next_url_follows_urls_on_our_own_host():
    """GET /events: pages.next is a URL, here pointing at Intercom's real host; the token must
    stay on the configured host, so only its path and query are followed."""

    def handler(request):
        if request.query.get("next") == "2":
            return Reply(body={"type": "event.list", "events": [{"id": "e3"}], "pages": {}})
        return Reply(body={"type": "event.list", "events": [{"id": "e1"}, {"id": "e2"}],
                           "pages": {"next": "https://api.intercom.io/events?type=user&user_id=u1&next=2"}})

    request = ApiRequest("GET", "/events", {"type": "user", "user_id": "u1"}, paging="next_url", items_key="events")
    with serve(handler) as api:
        got = list(client_against(api).iter_items(request))
    assert ids(got) == ["e1", "e2", "e3"]
    assert api.seen[0].query == {"type": "user", "user_id": "u1"}  # no per_page: events declare none
    assert api.seen[1].path == "/events" and api.seen[1].query["next"] == "2"


def test_next_url_also_accepts_a_cursor_object():
    """GET /admins/activity_logs: the file's schema says pages.next is {starting_after}."""
    logs = [{"id": f"l{n}"} for n in range(5)]
    request = ApiRequest("GET", "/admins/activity_logs", {"created_at_after": "1"}, paging="next_url",
                         items_key="activity_logs")
    with serve(cursor_list(logs, "activity_logs")) as api:
        got = list(client_against(api).iter_items(request))
    assert ids(got) == ids(logs)
    assert len(api.seen) == 1 and "per_page" not in api.seen[0].query  # server default 50


def test_a_repeated_next_link_ends_the_scan():
    def handler(request):
        return Reply(body={"data": [{"id": "same"}], "pages": {"next": {"starting_after": "loop"}}})

    with serve(handler) as api:
        got = list(client_against(api).iter_items(ApiRequest("GET", "/notes", paging="cursor")))
    assert ids(got) == ["same", "same"]
    assert len(api.seen) == 2


def test_page_numbers_until_total_pages():
    companies = [{"id": f"co{n}"} for n in range(5)]

    def handler(request):
        page, size = int(request.query["page"]), int(request.query["per_page"])
        total = -(-len(companies) // size)
        return Reply(body={"type": "list", "data": companies[(page - 1) * size:page * size],
                           "pages": {"type": "pages", "page": page, "per_page": size, "total_pages": total,
                                     "next": None}})

    with serve(handler) as api:
        got = list(client_against(api).iter_items(ApiRequest("GET", "/companies", paging="page", per_page=2)))
    assert ids(got) == ids(companies)
    assert [r.query["page"] for r in api.seen] == ["1", "2", "3"]


def test_page_numbers_without_total_pages_stop_when_no_next():
    def handler(request):
        page = int(request.query["page"])
        return Reply(body={"data": [{"id": f"p{page}"}], "pages": {"next": "more" if page < 2 else None}})

    with serve(handler) as api:
        got = list(client_against(api).iter_items(ApiRequest("GET", "/companies/x/contacts", paging="page")))
    assert ids(got) == ["p1", "p2"]


def test_search_pages_through_the_body():
    def handler(request):
        assert request.method == "POST"
        pagination = request.body["pagination"]
        start = int(pagination.get("starting_after", 0))
        size = pagination["per_page"]
        more = start + size < len(ROWS)
        return Reply(body={"type": "list", "data": ROWS[start:start + size],
                           "pages": {"next": {"starting_after": str(start + size)} if more else None}})

    query = {"query": {"field": "role", "operator": "=", "value": "user"}, "sort": {"field": "id", "order": "ascending"}}
    with serve(handler) as api:
        got = list(client_against(api).iter_items(ApiRequest("POST", "/contacts/search", body=query, paging="search",
                                                               per_page=150, max_items=4)))
    assert ids(got) == ids(ROWS[:4])
    assert api.seen[0].body == {**query, "pagination": {"per_page": 4}}
    assert len(api.seen) == 1


def test_search_follows_the_cursor():
    def handler(request):
        start = int(request.body["pagination"].get("starting_after", 0))
        more = start + 3 < len(ROWS)
        return Reply(body={"data": ROWS[start:start + 3], "pages": {"next": {"starting_after": str(start + 3)} if more else None}})

    with serve(handler) as api:
        got = list(client_against(api).iter_items(ApiRequest("POST", "/tickets/search", body={"query": {}},
                                                               paging="search", items_key="data")))
    assert ids(got) == ids(ROWS)
    assert [r.body["pagination"] for r in api.seen] == [{}, {"starting_after": "3"}, {"starting_after": "6"}]


def test_a_search_whose_cursors_go_round_in_a_cycle_ends():
    # A -> B -> A: only an immediately repeated cursor used to end the search, so this one paged forever
    def handler(request):
        cursor = request.body["pagination"].get("starting_after")
        following = "B" if cursor in (None, "A") else "A"
        return Reply(body={"data": [{"id": f"after-{cursor}"}], "pages": {"next": {"starting_after": following}}})

    with serve(handler) as api:
        got = list(client_against(api).iter_items(ApiRequest("POST", "/contacts/search", body={"query": {}},
                                                               paging="search", items_key="data", max_items=50)))
    assert ids(got) == ["after-None", "after-B", "after-A"]
    assert len(api.seen) == 3


def test_unpaged_and_none():
    def handler(request):
        if request.path == "/admins":
            return Reply(body={"type": "admin.list", "admins": [{"id": "a1"}, {"id": "a2"}]})
        return Reply(body={"type": "contact", "id": "c1"})

    with serve(handler) as api:
        client = client_against(api)
        assert ids(client.iter_items(ApiRequest("GET", "/admins", paging="unpaged", items_key="admins"))) == ["a1", "a2"]
        assert list(client.iter_items(ApiRequest("GET", "/contacts/c1", items_key=None))) == [{"type": "contact", "id": "c1"}]


def test_allow_404_gives_no_items():
    with serve(lambda r: Reply(404, {"type": "error.list", "errors": [{"code": "not_found", "message": "nope"}]})) as api:
        client = client_against(api)
        assert list(client.iter_items(ApiRequest("GET", "/contacts/missing", items_key=None, allow_404=True))) == []
        assert client.call("GET", "/contacts/missing", allow_404=True) is None


@pytest.mark.parametrize(
    "per_page,max_items,expected",
    [(None, None, None), (150, None, 150), (150, 5, 5), (20, 500, 20), (None, 5, 5), (None, 500, 50)],
)
def test_page_size(per_page, max_items, expected):
    assert ApiRequest("GET", "/x", paging="cursor", per_page=per_page, max_items=max_items).page_size == expected


def test_paged_requests_are_reads_single_calls_follow_their_method():
    assert ApiRequest("POST", "/contacts/search", paging="search").idempotent is True
    assert ApiRequest("POST", "/companies/list", paging="page").idempotent is True
    assert ApiRequest("POST", "/contacts", paging="none").idempotent is None  # a create: method decides
    assert ApiRequest("GET", "/admins", paging="unpaged").idempotent is None


def test_a_paged_post_is_retried_as_a_read():
    calls = []

    def handler(request):
        calls.append(request)
        if len(calls) == 1:
            return Reply(503, "busy")
        return Reply(body={"data": [{"id": "co1"}], "pages": {"page": 1, "total_pages": 1}})

    with serve(handler) as api:
        got = list(client_against(api).iter_items(ApiRequest("POST", "/companies/list", {"order": "desc"},
                                                               paging="page", per_page=60)))
    assert ids(got) == ["co1"]
    assert [r.query for r in api.seen] == [{"order": "desc", "page": "1", "per_page": "60"}] * 2


def test_bad_requests_are_refused_at_construction():
    with pytest.raises(ValueError, match="unknown paging style"):
        ApiRequest("GET", "/x", paging="offset")
    with pytest.raises(ValueError):
        ApiRequest("GET", "/x", per_page=0)


# ---- the pure helpers ----

def test_items_of():
    assert items_of(None, "data") == []
    assert items_of({"data": None}, "data") == []
    assert items_of({"x": 1}, None) == [{"x": 1}]
    assert items_of({"tags": {"tags": [{"id": 1}]}}, "tags.tags") == [{"id": 1}]


def test_next_link():
    assert next_link({"pages": {"next": "https://x/y"}}) == ("url", "https://x/y")
    assert next_link({"pages": {"next": {"starting_after": "abc"}}}) == ("cursor", "abc")
    assert next_link({"pages": {"next": {"starting_after": None}}}) is None
    assert next_link({"pages": {"next": None}}) is None
    assert next_link({"pages": None}) is None
    assert next_link(None) is None


@pytest.mark.parametrize(
    "url,base,expected",
    [
        ("https://api.intercom.io/events?a=1", "http://127.0.0.1:9000", "http://127.0.0.1:9000/events?a=1"),
        ("https://api.intercom.io/events", "http://proxy/intercom", "http://proxy/intercom/events"),
        ("http://proxy/intercom/events?b=2", "http://proxy/intercom", "http://proxy/intercom/events?b=2"),
        ("https://evil.example/steal?x=1", "https://api.intercom.io", "https://api.intercom.io/steal?x=1"),
    ],
)
def test_reroot_keeps_the_configured_host(url, base, expected):
    assert reroot(url, base) == expected
