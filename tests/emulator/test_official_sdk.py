"""Intercom's official Python SDK (python-intercom 5.0.1) pointed at the emulator: every list iterator
it has ends, with every object once.

The iterators are found by walking the SDK's client for methods that return a pager, so a method the
SDK gains must be given a call here (or a reason it cannot be served). Each walk goes through an
httpx client that counts requests and refuses the one past the walk's bound (its pages, plus one):
an iterator that never ends, as `articles.list()` did when the emulator ignored `page`, fails at once
instead of running on. The objects it yields are compared with one large page read over plain HTTP.

The SDK's three search iterators cannot end against any server that has a second page: 5.0.1's
`search` pager asks for its next page with the pagination it was given, not with the answer's
`pages.next.starting_after` (`get_next = lambda: self.search(query=query, pagination=pagination, ...)`
in each `raw_client.py`), so it gets page 1 again and again. A test pins that down (it fails once a
release fixes it), and walks the same searches page by page through the SDK, by the cursor, to the end.
"""
from __future__ import annotations

import inspect
import math

import httpx
import intercom  # python-intercom, a test dependency (setup.py [test]): missing, this file fails, never skips
import pytest
from intercom.types import StartingAfterPaging

from tests.emulator_fixtures import running_emulator

PER_PAGE = 3
SIZES = dict(seed=5, contacts=40, companies=12, conversations=15, tickets=10, articles=11)


class CallBudgetExceeded(Exception):
    pass


class CountingTransport(httpx.HTTPTransport):
    """Counts the SDK's requests and refuses any past `bound`."""

    def __init__(self):
        super().__init__()
        self.calls, self.bound = 0, math.inf

    def handle_request(self, request):
        self.calls += 1
        if self.calls > self.bound:
            raise CallBudgetExceeded(f"{request.method} {request.url}: call {self.calls}, over the bound {self.bound}")
        return super().handle_request(request)


@pytest.fixture(scope="module")
def workspace():
    with running_emulator(**SIZES) as server:
        yield server


@pytest.fixture(scope="module")
def raw(workspace):
    with httpx.Client(base_url=workspace.url, timeout=10, headers={
            "Authorization": f"Bearer {workspace.token}", "Intercom-Version": "2.14"}) as client:
        yield client


@pytest.fixture
def sdk(workspace):
    transport = CountingTransport()
    http = httpx.Client(transport=transport, timeout=10)
    client = intercom.Intercom(token=workspace.token, base_url=workspace.url, httpx_client=http,
                               headers={"Intercom-Version": "2.14"})
    yield client, transport
    http.close()


@pytest.fixture(scope="module")
def parents(raw):
    """A contact with companies and notes, so that its sub-lists have pages to walk."""
    contacts = raw.get("/contacts", params={"per_page": 150}).json()["data"]

    def count(contact, sub):
        return len(_items(raw.get(f"/contacts/{contact['id']}/{sub}", params={"per_page": 50}).json()))

    with_companies = max(contacts, key=lambda c: count(c, "companies"))
    with_notes = max(contacts, key=lambda c: count(c, "notes"))
    return {"companies_of": with_companies["id"], "notes_of": with_notes["id"]}


def _items(body):
    return next(value for key, value in body.items() if isinstance(value, list) and key != "errors")


def _search(field="id", value="0"):
    return {"field": field, "operator": ">", "value": value}


# Each SDK list iterator: (arguments, the raw request whose single large page holds every object).
def _calls(parents):
    paging = {"per_page": PER_PAGE}
    return {
        "articles.list": (paging, ("GET", "/articles", {"per_page": 50})),
        "companies.list": (paging, ("POST", "/companies/list", {"per_page": 50})),
        "companies.scroll": ({}, ("GET", "/companies", {"per_page": 50})),
        "contacts.list": (paging, ("GET", "/contacts", {"per_page": 150})),
        "contacts.list_attached_companies": ({"contact_id": parents["companies_of"], **paging},
                                             ("GET", f"/contacts/{parents['companies_of']}/companies",
                                              {"per_page": 50})),
        "contacts.search": ({"query": _search("created_at", "0"), "pagination": StartingAfterPaging(per_page=PER_PAGE)},
                            ("GET", "/contacts", {"per_page": 150})),
        "conversations.list": (paging, ("GET", "/conversations", {"per_page": 150})),
        "conversations.search": ({"query": _search("created_at", "0"),
                                  "pagination": StartingAfterPaging(per_page=PER_PAGE)},
                                 ("GET", "/conversations", {"per_page": 150})),
        "help_centers.collections.list": ({"per_page": 1}, ("GET", "/help_center/collections", {"per_page": 50})),
        "help_centers.list": ({"per_page": 1}, ("GET", "/help_center/help_centers", {"per_page": 50})),
        "notes.list": ({"contact_id": parents["notes_of"], **paging},
                       ("GET", f"/contacts/{parents['notes_of']}/notes", {"per_page": 50})),
        "tickets.search": ({"query": _search("created_at", "0"), "pagination": StartingAfterPaging(per_page=PER_PAGE)},
                           ("POST", "/tickets/search", {"query": _search("created_at", "0"),
                                                        "pagination": {"per_page": 150}})),
    }


def sdk_list_iterators(client) -> list:
    """Dotted names of the SDK client's methods that return a pager (its list iterators)."""
    found = []

    def walk(obj, prefix, depth):
        for name in dir(obj):
            if name.startswith("_") or name in ("with_raw_response", "unstable"):  # unstable: another API version
                continue
            member = getattr(obj, name)
            if inspect.ismethod(member):
                if "Pager" in str(inspect.signature(member).return_annotation):
                    found.append(prefix + name)
            elif depth < 2 and type(member).__module__.startswith("intercom.") and hasattr(member, "__dict__"):
                walk(member, prefix + name + ".", depth + 1)

    walk(client, "", 0)
    return sorted(found)


def _every_object(raw, method, path, params):
    answer = raw.post(path, json=params) if method == "POST" else raw.get(path, params=params)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    items = _items(body)
    pages = body.get("pages") or {}
    assert not (pages.get("next") and items), f"{path}: the oracle's page is not the whole list"
    return [item["id"] for item in items]


SEARCHES = ("contacts.search", "conversations.search", "tickets.search")
NO_PARENTS = {"companies_of": "", "notes_of": ""}


def _method(client, name):
    target = client
    for part in name.split("."):
        target = getattr(target, part)
    return target


def _walk_bound(expected, arguments):
    per_page = getattr(arguments.get("pagination"), "per_page", None) or arguments.get("per_page") or 50
    return math.ceil(len(expected) / per_page) + 1  # its pages, and one that may come back empty


def test_every_list_iterator_of_the_sdk_has_a_call_here(sdk, parents):
    client, _ = sdk
    assert sdk_list_iterators(client) == sorted(_calls(parents))


@pytest.mark.parametrize("name", sorted(set(_calls(NO_PARENTS)) - set(SEARCHES)))
def test_the_sdk_list_iterator_ends_with_every_object_once(name, sdk, raw, parents):
    client, transport = sdk
    arguments, (method, path, params) = _calls(parents)[name]
    expected = _every_object(raw, method, path, params)
    assert len(expected) >= 2, f"{name}: the seeded workspace should give it more than one object"
    transport.bound = _walk_bound(expected, arguments)
    try:
        ids = [item.id for item in _method(client, name)(**arguments)]
    finally:
        if name == "companies.scroll":  # one scroll per workspace: let the next one start
            raw.post("/__emulator/reset")
    assert len(ids) == len(set(ids)), f"{name}: an object came twice"
    assert sorted(ids) == sorted(expected)
    assert transport.calls <= transport.bound


@pytest.mark.parametrize("name", SEARCHES)
def test_the_sdk_search_iterator_asks_for_its_first_page_again(name, sdk, raw, parents):
    client, transport = sdk
    arguments, _oracle = _calls(parents)[name]
    sent = []
    transport.bound = 4
    original = transport.handle_request

    def recording(request):
        sent.append(request.read())
        return original(request)

    transport.handle_request = recording
    with pytest.raises(CallBudgetExceeded):
        list(_method(client, name)(**arguments))
    assert len(set(sent)) == 1, "the SDK's search pager sent a new request: move it to the ending iterators"


@pytest.mark.parametrize("name", SEARCHES)
def test_the_sdk_searches_paged_by_their_cursor_end_with_every_object_once(name, sdk, raw, parents):
    client, transport = sdk
    arguments, (method, path, params) = _calls(parents)[name]
    expected = _every_object(raw, method, path, params)
    transport.bound = _walk_bound(expected, arguments)
    ids, cursor = [], None
    while True:
        pager = _method(client, name)(query=arguments["query"],
                                      pagination=StartingAfterPaging(per_page=PER_PAGE, starting_after=cursor))
        ids += [item.id for item in pager.items]
        following = pager.response.pages.next if pager.response.pages else None
        cursor = following.starting_after if following else None
        if not cursor:
            break
    assert len(ids) == len(set(ids)) and sorted(ids) == sorted(expected)
