"""Companies: page-number list with filters, POST /companies/list, the scroll, get, sub-resources.

Companies without any contact are left out of the list and the scroll, but found by id
(intercom-api-notes.md).
"""
from __future__ import annotations

from intercom_fdw.emulator import views
from intercom_fdw.emulator.apierror import invalid, not_found
from intercom_fdw.emulator.backend import Req, Runtime, SearchContext, require
from intercom_fdw.emulator.paging.cursor import CursorLimits, per_page_value, sequence_page
from intercom_fdw.emulator.paging.page_number import PageLimits, numbered_page
from intercom_fdw.emulator.paging.scroll import scroll_page
from intercom_fdw.emulator.workspace import Workspace

COMPANY_PAGES = PageLimits(default=15, maximum=60, reach=10_000)
COMPANY_CONTACTS = CursorLimits(default=50, maximum=150)


def _has_contacts(ws: Workspace):
    company_contacts = ws.company_contacts
    return lambda company: bool(company_contacts.get(company["id"]))


def _listed_companies(ws: Workspace, req: Req) -> list:
    query = req.query
    has_contacts = _has_contacts(ws)
    if query.get("company_id"):
        found = ws.company_by_company_id.get(query["company_id"])
        candidates = [ws.companies.get(found)] if found else []
    else:
        candidates = [c for c in ws.companies.values() if has_contacts(c)]
    if query.get("name"):
        candidates = [c for c in candidates if c["name"] == query["name"]]
    if query.get("tag_id"):
        tag_id = query["tag_id"]
        candidates = [c for c in candidates if tag_id in ws.company_tags.get(c["id"], ())]
    if query.get("segment_id"):
        segment_id = query["segment_id"]
        candidates = [c for c in candidates if segment_id in ws.company_segments.get(c["id"], ())]
    return candidates


def list_companies(ws: Workspace, rt: Runtime, req: Req) -> dict:
    filtered = any(req.query.get(k) for k in ("company_id", "name", "tag_id", "segment_id"))
    candidates = _listed_companies(ws, req)
    if filtered and not candidates:
        raise not_found("Company", "company_not_found")
    return _company_page(ws, rt, candidates, req.query.get("page"), req.query.get("per_page"))


def list_companies_post(ws: Workspace, rt: Runtime, req: Req) -> dict:
    """Sorted by last_request_at, most recent first unless order=asc (OpenAPI file)."""
    body = req.body if isinstance(req.body, dict) else {}
    order = req.query.get("order") or body.get("order") or "desc"
    if order not in ("asc", "desc"):
        raise invalid("order must be 'asc' or 'desc'")
    candidates = sorted((c for c in ws.companies.values() if _has_contacts(ws)(c)),
                        key=lambda c: c["last_request_at"], reverse=order == "desc")
    return _company_page(ws, rt, candidates, req.query.get("page") or body.get("page"),
                         req.query.get("per_page") or body.get("per_page"))


def _company_page(ws: Workspace, rt: Runtime, candidates: list, page, per_page) -> dict:
    ctx = SearchContext(ws, rt)
    chunk, pages = numbered_page(candidates, page, per_page, COMPANY_PAGES)
    pages["next"] = None
    return {"type": "list", "data": [views.company(ws, c, ctx.custom_attributes) for c in chunk],
            "pages": pages, "total_count": len(candidates)}


def scroll_companies(ws: Workspace, rt: Runtime, req: Req) -> dict:
    items, param, ws.scroll = scroll_page(ws.scroll, req.query.get("scroll_param"), ws.companies,
                                          _has_contacts(ws), rt.clock())
    ctx = SearchContext(ws, rt)
    return {"type": "list", "data": [views.company(ws, c, ctx.custom_attributes) for c in items],
            "pages": None, "total_count": None, "scroll_param": param}


def company_by_id(ws: Workspace, company_id: str) -> dict:
    return require(ws.companies.get(company_id), "Company", "company_not_found")


def get_company(ws: Workspace, rt: Runtime, req: Req) -> dict:
    return views.company(ws, company_by_id(ws, req.path["company_id"]))


def company_contacts(ws: Workspace, rt: Runtime, req: Req) -> dict:
    company = company_by_id(ws, req.path["company_id"])
    per_page = per_page_value(req.query.get("per_page"), COMPANY_CONTACTS)
    ids = ws.company_contacts.get(company["id"], [])
    chunk, pages = sequence_page(ids, per_page, req.query.get("starting_after"),
                                 req.query.get("page"))
    ctx = SearchContext(ws, rt)
    return {"type": "list", "data": [views.contact(ws, ws.contacts.get(i), ctx.custom_attributes) for i in chunk],
            "total_count": len(ids), "pages": pages}


def company_segments(ws: Workspace, rt: Runtime, req: Req) -> dict:
    company = company_by_id(ws, req.path["company_id"])
    return {"type": "list", "data": [ws.segments.get(s) for s in ws.company_segments.get(company["id"], ())
                                     if s in ws.segments]}
