"""Contacts: list, get, search, find by external id, and their sub-resources."""
from __future__ import annotations

from intercom_fdw.emulator import views
from intercom_fdw.emulator.apierror import not_found
from intercom_fdw.emulator.backend import Req, Runtime, SearchContext, require
from intercom_fdw.emulator.backend.searching import run_search
from intercom_fdw.emulator.paging.cursor import CursorLimits, per_page_value, sequence_page, table_page
from intercom_fdw.emulator.paging.page_number import PageLimits, numbered_page
from intercom_fdw.emulator.search_schemas import CONTACT_SEARCH
from intercom_fdw.emulator.workspace import Workspace

CONTACT_LIST = CursorLimits(default=50, maximum=150)
SUB_LIST = CursorLimits(default=50, maximum=150)
CONTACT_COMPANY_PAGES = PageLimits(default=50, maximum=150)


def _listed(contact: dict) -> bool:
    return not contact.get("archived")  # archived contacts are hidden from lists until unarchived


def list_contacts(ws: Workspace, rt: Runtime, req: Req) -> dict:
    per_page = per_page_value(req.query.get("per_page"), CONTACT_LIST)
    ctx = SearchContext(ws, rt)
    listed = len(ws.contacts) - len(ws.archived_contacts)
    items, pages = table_page(ws.contacts, per_page, req.query.get("starting_after"), _listed, listed,
                              req.query.get("page"))
    return {"type": "list", "data": [views.listed_contact(ws, c, ctx.custom_attributes) for c in items],
            "total_count": listed, "pages": pages}


def contact_by_id(ws: Workspace, contact_id: str) -> dict:
    return require(ws.contacts.get(contact_id), "User")


def get_contact(ws: Workspace, rt: Runtime, req: Req) -> dict:
    return views.contact(ws, contact_by_id(ws, req.path["contact_id"]), by_id=True)


def find_by_external_id(ws: Workspace, rt: Runtime, req: Req) -> dict:
    contact_id = ws.contact_by_external_id.get(req.path["external_id"])
    if contact_id is None:
        raise not_found("User")
    return views.contact(ws, ws.contacts.get(contact_id), by_id=True)


def _searchable(ws: Workspace):
    unindexed = ws.unindexed_contacts  # still within the search index delay (SearchContext prunes it)
    return lambda contact: _listed(contact) and contact["id"] not in unindexed


def search_contacts(ws: Workspace, rt: Runtime, req: Req) -> dict:
    ctx = SearchContext(ws, rt)
    items, pages, total = run_search(ws, rt, req, CONTACT_SEARCH, ws.contacts, ctx, visible=_searchable(ws))
    return {"type": "list", "data": [views.listed_contact(ws, c, ctx.custom_attributes) for c in items],
            "total_count": total, "pages": pages}


def contact_companies(ws: Workspace, rt: Runtime, req: Req) -> dict:
    contact = contact_by_id(ws, req.path["contact_id"])
    ids = ws.contact_companies.get(contact["id"], [])
    # Paged by `page` + `per_page` (default 50), as Intercom's answer's `pages` shows and its SDKs ask;
    # a page past the end is empty, which is where the SDKs' page-number iterators stop.
    chunk, pages = numbered_page(ids, req.query.get("page"), req.query.get("per_page"), CONTACT_COMPANY_PAGES,
                                 next_url=f"{req.base_url}/contacts/{contact['id']}/companies")
    return {"type": "list", "companies": [views.company(ws, ws.companies.get(i)) for i in chunk],
            "total_count": len(ids), "pages": pages}


def contact_segments(ws: Workspace, rt: Runtime, req: Req) -> dict:
    contact = contact_by_id(ws, req.path["contact_id"])
    return {"type": "list", "data": [ws.segments.get(s) for s in ws.contact_segments.get(contact["id"], ())
                                     if s in ws.segments]}


def contact_subscriptions(ws: Workspace, rt: Runtime, req: Req) -> dict:
    contact = contact_by_id(ws, req.path["contact_id"])
    return {"type": "list", "data": [ws.subscription_types.get(s)
                                     for s in ws.contact_subscriptions.get(contact["id"], ())]}


def contact_tags(ws: Workspace, rt: Runtime, req: Req) -> dict:
    contact = contact_by_id(ws, req.path["contact_id"])
    return {"type": "list", "data": [views.applied_tag(ws, *t) for t in ws.contact_tags.get(contact["id"], ())
                                     if t[0] in ws.tags]}


def contact_notes(ws: Workspace, rt: Runtime, req: Req) -> dict:
    contact = contact_by_id(ws, req.path["contact_id"])
    per_page = per_page_value(req.query.get("per_page"), SUB_LIST)
    ids = ws.contact_notes.get(contact["id"], [])
    chunk, pages = sequence_page(ids, per_page, req.query.get("starting_after"),
                                 req.query.get("page"))
    return {"type": "list", "data": [ws.notes.get(i) for i in chunk], "total_count": len(ids), "pages": pages}
