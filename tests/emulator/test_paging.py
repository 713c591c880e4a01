"""Paging styles: cursor (contacts, conversations), page number (companies), the companies scroll."""

import pytest


def _walk_cursor(api, path, key, per_page):
    seen, cursor, pages = [], None, []
    while True:
        params = {"per_page": per_page}
        if cursor:
            params["starting_after"] = cursor
        page = api.get(path, params=params).json()
        seen += [item["id"] for item in page[key]]
        pages.append(page["pages"]["page"])
        cursor = (page["pages"].get("next") or {}).get("starting_after")
        if not cursor:
            return seen, pages, page


def test_contacts_cursor_walks_everything_once(api):
    seen, pages, last = _walk_cursor(api, "/contacts", "data", 150)
    assert len(seen) == len(set(seen)) == 300 == last["total_count"]
    assert pages == [1, 2] and last["pages"]["total_pages"] == 2


def test_conversations_cursor_walks_everything_once(api):
    seen, pages, _last = _walk_cursor(api, "/conversations", "conversations", 50)
    assert len(seen) == len(set(seen)) == 120 and pages == [1, 2, 3]


# Every cursor-paged list the emulator caps at 150 (search bodies: test_search.py; the companies
# list pages by number and caps at 60: test_companies_page_numbers).
CURSOR_LISTS = [
    ("/contacts", {}),
    ("/conversations", {}),
    ("/articles", {}),
    ("/help_center/collections", {}),
    ("/admins/activity_logs", {"created_at_after": "0"}),
    ("/events", {"type": "user", "intercom_user_id": "{contact}"}),
    ("/contacts/{contact}/notes", {}),
    ("/companies/{company}/contacts", {}),
]


@pytest.mark.parametrize("path,params", CURSOR_LISTS, ids=[path for path, _ in CURSOR_LISTS])
def test_per_page_cap_is_150(api, raw_api, path, params):
    ids = {"contact": api.get("/contacts", params={"per_page": 1}).json()["data"][0]["id"],
           "company": api.get("/companies", params={"per_page": 1}).json()["data"][0]["id"]}
    path = path.format(**ids)
    params = {k: v.format(**ids) for k, v in params.items()}
    assert api.get(path, params={**params, "per_page": 150}).status_code == 200
    refused = raw_api.get(path, params={**params, "per_page": 151})  # breaks the file on purpose
    assert refused.status_code == 400 and "150" in refused.json()["errors"][0]["message"]


def test_default_page_sizes(api):
    assert len(api.get("/contacts").json()["data"]) == 50
    assert len(api.get("/conversations").json()["conversations"]) == 20


def test_bad_cursor_is_refused(api):
    response = api.get("/contacts", params={"starting_after": "not-a-cursor"})
    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "parameter_invalid"


def test_companies_page_numbers(api):
    first = api.get("/companies", params={"per_page": 10, "page": 1}).json()
    second = api.get("/companies", params={"per_page": 10, "page": 2}).json()
    assert first["pages"]["page"] == 1 and second["pages"]["page"] == 2
    assert first["pages"]["total_pages"] == -(-first["total_count"] // 10)
    assert not {c["id"] for c in first["data"]} & {c["id"] for c in second["data"]}
    assert len(api.get("/companies").json()["data"]) == 15  # Intercom's default page size
    assert api.get("/companies", params={"per_page": 61}).status_code == 400
    asc = api.post("/companies/list", params={"order": "asc", "per_page": 60}).json()["data"]
    desc = api.post("/companies/list", params={"per_page": 60}).json()["data"]
    assert [c["last_request_at"] for c in desc] == sorted((c["last_request_at"] for c in desc), reverse=True)
    assert [c["last_request_at"] for c in asc] == sorted(c["last_request_at"] for c in asc)
    assert {c["id"] for c in asc} == {c["id"] for c in desc}


def test_articles_and_collections_come_most_recently_updated_first(api):
    for path in ("/articles", "/help_center/collections"):
        stamps = [a["updated_at"] for a in api.get(path, params={"per_page": 150}).json()["data"]]
        assert stamps == sorted(stamps, reverse=True) and len(stamps) > 1


def test_companies_without_contacts_are_left_out_of_list_and_scroll_but_found_by_id(papi, private_emulator):
    ws = private_emulator.state.workspaces[0]
    lonely = [cid for cid in ws.companies.by_id if not ws.company_contacts.get(cid)]
    assert lonely, "the seed keeps some companies without contacts"
    listed = {c["id"] for c in papi.post("/companies/list", params={"per_page": 60}).json()["data"]}
    scrolled, param = set(), None
    while True:
        page = papi.get("/companies/scroll", params={"scroll_param": param} if param else {}).json()
        if not page["data"]:
            break
        scrolled |= {c["id"] for c in page["data"]}
        param = page["scroll_param"]
    assert listed == scrolled == set(ws.companies.by_id) - set(lonely)
    for company_id in lonely:
        assert papi.get(f"/companies/{company_id}").json()["user_count"] == 0


def test_company_filters(api):
    company = api.get("/companies").json()["data"][0]
    by_company_id = api.get("/companies", params={"company_id": company["company_id"]}).json()
    assert [c["id"] for c in by_company_id["data"]] == [company["id"]]
    by_name = api.get("/companies", params={"name": company["name"]}).json()["data"]
    assert company["id"] in [c["id"] for c in by_name]
    if company["tags"]["tags"]:
        tag_id = company["tags"]["tags"][0]["id"]
        assert all(tag_id in [t["id"] for t in c["tags"]["tags"]]
                   for c in api.get("/companies", params={"tag_id": tag_id}).json()["data"])
    missing = api.get("/companies", params={"company_id": "no-such-company"})
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "company_not_found"


def test_segment_filter_on_companies(api, emulator):
    ws = emulator.state.workspaces[0]
    segment_id, members = next((s, [c for c, segs in ws.company_segments.items() if s in segs and ws.company_contacts.get(c)])
                               for s in ws.segments.by_id)
    found = api.get("/companies", params={"segment_id": segment_id, "per_page": 60})
    if members:
        assert {c["id"] for c in found.json()["data"]} == set(members)
    else:
        assert found.status_code == 404


def test_scroll_one_at_a_time_and_expiry(papi, private_emulator):
    first = papi.get("/companies/scroll")
    assert first.status_code == 200 and first.json()["data"]
    param = first.json()["scroll_param"]
    second = papi.get("/companies/scroll")
    assert second.status_code == 400 and second.json()["errors"][0]["code"] == "scroll_exists"
    assert papi.get("/companies/scroll", params={"scroll_param": param}).status_code == 200
    # A minute unused: the scroll expires, its param fails and a new scroll may start.
    runtime = private_emulator.state.runtime
    real_clock = runtime.clock
    runtime.clock = lambda: real_clock() + 61
    try:
        expired = papi.get("/companies/scroll", params={"scroll_param": param})
        assert expired.status_code == 404 and expired.json()["errors"][0]["code"] == "scroll_not_found"
        assert papi.get("/companies/scroll").status_code == 200
    finally:
        runtime.clock = real_clock


def test_scroll_ends_with_an_empty_page_and_closes(papi):
    param, pages = None, 0
    while True:
        page = papi.get("/companies/scroll", params={"scroll_param": param} if param else {}).json()
        pages += 1
        if not page["data"]:
            break
        param = page["scroll_param"]
    assert pages >= 2
    assert papi.get("/companies/scroll", params={"scroll_param": param}).status_code == 404  # closed
    assert papi.get("/companies/scroll").status_code == 200  # a new one may start at once


def test_company_contacts_and_contact_notes_paging(api):
    company = max(api.get("/companies", params={"per_page": 60}).json()["data"], key=lambda c: c["user_count"])
    contacts = api.get(f"/companies/{company['id']}/contacts").json()
    assert contacts["total_count"] == company["user_count"]
    assert all(company["id"] in [c["id"] for c in contact["companies"]["data"]] or contact["companies"]["has_more"]
               for contact in contacts["data"])
