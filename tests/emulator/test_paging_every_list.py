"""Every list the emulator serves, paged to its end the ways a client may page it.

The routes come from the emulator's route table, the paging parameters from the OpenAPI file: a list
that declares `page` pages by number; a list whose answer carries `pages` with a `next` URL (contact
companies) pages by number; a list whose answer carries `pages` (the file's `cursor_pages`:
`page`, `per_page`, `total_pages`, `next.starting_after`) pages by cursor and by page number (Intercom's
official SDKs ask for `page` + `per_page` on such lists, articles among them); the others are one page.
Each walk must end within as many calls as its pages, and never show an object twice.
"""
from __future__ import annotations

import pytest

from intercom_fdw.emulator.http.routes import API_ROUTES
import yaml

from tests.harness.openapi_file import OPENAPI_FILE

PER_PAGE = 5
# The lists that are not read with GET and no body (search: test_search.py) or that need a parent
# or a filter, with what each needs (seeded objects, filled in by the test).
NOT_LISTS = {"/me"}
SCROLL = "/companies/scroll"  # one open scroll per workspace: test_paging.py walks it
NEEDS = {
    "/events": {"type": "user", "intercom_user_id": "{contact}"},
    "/admins/activity_logs": {"created_at_after": "0"},
}


def _list_routes():
    return [r.template for r in API_ROUTES
            if r.method == "GET" and not r.template.endswith("}") and r.template not in NOT_LISTS | {SCROLL}]


def _query_names(document, template):
    operation = document["paths"][template]["get"]
    names = set()
    for parameter in operation.get("parameters", []):
        if "$ref" in parameter:
            parameter = document["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
        if parameter["in"] == "query":
            names.add(parameter["name"])
    return names


def _items(body):
    lists = [value for key, value in body.items()
             if isinstance(value, list) and key not in ("errors",) and all(isinstance(v, dict) for v in value)]
    assert len(lists) <= 1, f"several lists in one answer: {sorted(body)}"
    return lists[0] if lists else []


def _key(item):
    return item.get("id") or item.get("name") or repr(sorted(item.items()))


@pytest.fixture(scope="module")
def document():
    with open(OPENAPI_FILE) as file:
        return yaml.safe_load(file)


@pytest.fixture(scope="module")
def parents(api):
    # A contact with notes and a company with contacts, so that their sub-lists have pages to walk.
    contacts = api.get("/contacts", params={"per_page": 150}).json()["data"]
    contact = max(contacts, key=lambda c: len(api.get(f"/contacts/{c['id']}/notes").json()["data"]))
    company = api.get("/companies", params={"per_page": 60}).json()["data"]
    company = max(company, key=lambda c: c.get("user_count") or 0)
    return {"contact_id": contact["id"], "company_id": company["id"], "contact": contact["id"]}


def _path_and_params(template, parents):
    params = {k: v.format(**parents) for k, v in NEEDS.get(template, {}).items()}
    return template.format(**parents), params


def _first(api, path, params):
    answer = api.get(path, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.parametrize("template", _list_routes())
def test_every_list_ends_and_repeats_nothing(api, document, parents, template):
    path, params = _path_and_params(template, parents)
    declared = _query_names(document, template)
    whole = _first(api, path, params)
    walks = {}
    linked = False  # page-number lists link their next page by URL (`pages.next` a string): no cursor

    if "page" in declared or isinstance(whole.get("pages"), dict) and "page" in whole["pages"]:
        seen, page, calls = [], 1, 0
        counted = whole.get("total_count")
        limit = counted // PER_PAGE + 3 if counted is not None else 200
        while True:
            calls += 1
            assert calls <= limit, f"{path}?page=... did not end after {limit} calls"
            body = _first(api, path, {**params, "per_page": PER_PAGE, "page": page})
            items = _items(body)
            seen += [_key(i) for i in items]
            linked = linked or isinstance((body.get("pages") or {}).get("next"), str)
            total_pages = (body.get("pages") or {}).get("total_pages")
            if not items or (total_pages is not None and page >= total_pages):
                break
            page += 1
        walks["page"] = seen

    if isinstance(whole.get("pages"), dict) and "page" not in declared and not linked:
        seen, cursor, calls = [], None, 0
        while True:
            calls += 1
            assert calls <= 1000
            body = _first(api, path, {**params, "per_page": PER_PAGE, **({"starting_after": cursor} if cursor else {})})
            seen += [_key(i) for i in _items(body)]
            cursor = ((body.get("pages") or {}).get("next") or {}).get("starting_after")
            if not cursor:
                break
        walks["cursor"] = seen

    if not walks:  # an unpaged list: one answer, every object once
        walks["unpaged"] = [_key(i) for i in _items(whole)]

    for style, seen in walks.items():
        assert len(seen) == len(set(seen)), f"{path} ({style} paging) showed an object twice"
        if "total_count" in whole and whole["total_count"] is not None:
            assert len(seen) == whole["total_count"], f"{path} ({style} paging) missed objects"
    if len(walks) == 2:
        assert walks["page"] == walks["cursor"]
