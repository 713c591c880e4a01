"""Workspace-level objects: me, admins and their activity logs, teams, tags, segments, subscription
types, data attributes, ticket types and states, help centers, collections, articles, notes, events."""
from __future__ import annotations

import datetime as _dt
from urllib.parse import urlencode

from intercom_fdw.emulator import views
from intercom_fdw.emulator.apierror import ApiError, invalid, missing, not_found
from intercom_fdw.emulator.backend import Req, Runtime, int_param, require
from intercom_fdw.emulator.paging.cursor import CursorLimits, per_page_value, sequence_page
from intercom_fdw.emulator.workspace import Workspace

ARTICLE_LIST = CursorLimits(default=25, maximum=150)
COLLECTION_LIST = CursorLimits(default=25, maximum=150)
ACTIVITY_LOG_LIST = CursorLimits(default=20, maximum=150)
EVENT_LIST = CursorLimits(default=50, maximum=150)
EVENT_LIST_WINDOW_S = 90 * 86400  # GET /events lists only the last 90 days


def _all(table) -> list:
    return list(table.values())


def me(ws: Workspace, rt: Runtime, req: Req) -> dict:
    admin_id = ws.token_admins.get(req.token) or next(iter(ws.admins.by_id))
    return views.admin_with_app(ws, ws.admins.get(admin_id))


def list_admins(ws, rt, req) -> dict:
    return {"type": "admin.list", "admins": _all(ws.admins)}


def get_admin(ws, rt, req) -> dict:
    return require(ws.admins.get(req.path["admin_id"]), "Admin", "admin_not_found")


def activity_logs(ws, rt, req) -> dict:
    after = int_param(req.query.get("created_at_after"), "created_at_after")
    if after is None:
        raise missing("created_at_after")
    before = int_param(req.query.get("created_at_before"), "created_at_before", default=rt.now())
    per_page = per_page_value(req.query.get("per_page"), ACTIVITY_LOG_LIST)
    window = [log for log in ws.activity_logs if after <= log["created_at"] <= before]
    chunk, pages = sequence_page(window, per_page, req.query.get("starting_after"),
                                 req.query.get("page"))
    return {"type": "activity_log.list", "pages": pages, "activity_logs": chunk}


def list_teams(ws, rt, req) -> dict:
    return {"type": "team.list", "teams": _all(ws.teams)}


def get_team(ws, rt, req) -> dict:
    return require(ws.teams.get(req.path["team_id"]), "Team", "team_not_found")


def list_tags(ws, rt, req) -> dict:
    return {"type": "list", "data": _all(ws.tags)}


def get_tag(ws, rt, req) -> dict:
    return require(ws.tags.get(req.path["tag_id"]), "Resource", "tag_not_found")


def list_segments(ws, rt, req) -> dict:
    include_count = req.query.get("include_count") == "true"
    segments = _all(ws.segments) if include_count else [
        {k: v for k, v in s.items() if k != "count"} for s in ws.segments.values()]
    return {"type": "segment.list", "segments": segments, "pages": {}}


def get_segment(ws, rt, req) -> dict:
    return require(ws.segments.get(req.path["segment_id"]), "Segment")


def list_subscription_types(ws, rt, req) -> dict:
    return {"type": "list", "data": _all(ws.subscription_types)}


def list_data_attributes(ws, rt, req) -> dict:
    model = req.query.get("model")
    if model not in (None, "", "contact", "company", "conversation"):
        raise invalid("model must be one of contact, company, conversation")
    include_archived = req.query.get("include_archived") == "true"
    return {"type": "list", "data": [a for a in ws.data_attributes.values()
                                     if (not model or a["model"] == model)
                                     and (include_archived or not a["archived"])]}


def list_ticket_types(ws, rt, req) -> dict:
    return {"type": "list", "data": [views.ticket_type(t, ws) for t in ws.ticket_types.values()]}


def get_ticket_type(ws, rt, req) -> dict:
    return views.ticket_type(require(ws.ticket_types.get(req.path["ticket_type_id"]), "Ticket type"), ws)


def list_ticket_states(ws, rt, req) -> dict:
    return {"type": "list", "data": [views.ticket_state(s, ws) for s in ws.ticket_states.values()]}


def list_help_centers(ws, rt, req) -> dict:
    # The file's answer has no `pages`, but Intercom's SDKs page it by `page` + `per_page` and stop at
    # an empty page: both are honoured, so that such an iterator ends; the answer keeps the file's shape.
    per_page = per_page_value(req.query.get("per_page"), COLLECTION_LIST)
    chunk, _pages = sequence_page(_all(ws.help_centers), per_page, None, req.query.get("page"))
    return {"type": "list", "data": list(chunk)}


def get_help_center(ws, rt, req) -> dict:
    return require(ws.help_centers.get(req.path["help_center_id"]), "Help Center")


def _recently_updated_first(table) -> list:
    """Articles and collections come "in descending order on the updated_at attribute" (OpenAPI file)."""
    return sorted(table.values(), key=lambda obj: obj["updated_at"], reverse=True)


def list_collections(ws, rt, req) -> dict:
    per_page = per_page_value(req.query.get("per_page"), COLLECTION_LIST)
    items, pages = sequence_page(_recently_updated_first(ws.collections), per_page, req.query.get("starting_after"),
                                 req.query.get("page"))
    return {"type": "list", "data": items, "total_count": len(ws.collections), "pages": pages}


def get_collection(ws, rt, req) -> dict:
    return require(ws.collections.get(req.path["collection_id"]), "Collection")


def list_articles(ws, rt, req) -> dict:
    per_page = per_page_value(req.query.get("per_page"), ARTICLE_LIST)
    items, pages = sequence_page(_recently_updated_first(ws.articles), per_page, req.query.get("starting_after"),
                                 req.query.get("page"))
    return {"type": "list", "data": [views.article(a, with_statistics=False) for a in items],
            "total_count": len(ws.articles), "pages": pages}


def get_article(ws, rt, req) -> dict:
    return views.article(require(ws.articles.get(req.path["article_id"]), "Article"), with_statistics=True)


def get_note(ws, rt, req) -> dict:
    return require(ws.notes.get(req.path["note_id"]), "Note")


def _event_contact(ws: Workspace, query: dict) -> dict:
    if query.get("type") != "user":
        raise ApiError(400, "parameter_invalid", "type must be 'user'")
    if query.get("intercom_user_id"):
        contact = ws.contacts.get(query["intercom_user_id"])
    elif query.get("user_id"):
        contact = ws.contacts.get(ws.contact_by_external_id.get(query["user_id"], ""))
    elif query.get("email"):
        contact = ws.contacts.get(ws.contact_by_email.get(query["email"].lower(), ""))
    else:
        raise ApiError(400, "parameter_not_found", "one of intercom_user_id, user_id or email is required")
    if contact is None:
        raise not_found("User")
    return contact


def _iso(ts: int) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def list_events(ws, rt, req) -> dict:
    contact = _event_contact(ws, req.query)
    identity = {"email": contact["email"], "intercom_user_id": contact["id"]}
    if contact["external_id"]:  # leads have none, and user_id is not nullable in the file
        identity["user_id"] = contact["external_id"]
    events = ws.events.get(contact["id"], [])
    if req.query.get("summary") == "true":
        summary = {}
        for event in events:
            entry = summary.setdefault(event["event_name"], {"name": event["event_name"], "first": event["created_at"],
                                                             "last": event["created_at"], "count": 0})
            entry["count"] += 1
            entry["last"] = event["created_at"]
        for name, extra in ws.event_summaries.get(contact["id"], {}).items():
            entry = summary.setdefault(name, {"name": name, "first": extra["first"], "last": extra["last"], "count": 0})
            entry["count"] += extra["count"]
            entry["first"], entry["last"] = min(entry["first"], extra["first"]), max(entry["last"], extra["last"])
        items = [{**e, "first": _iso(e["first"]), "last": _iso(e["last"])}
                 for e in summary.values()]
        return {"type": "event.summary", **identity, "events": items}
    since = rt.now() - EVENT_LIST_WINDOW_S
    recent = [e for e in reversed(events) if e["created_at"] >= since]  # newest first
    per_page = per_page_value(req.query.get("per_page"), EVENT_LIST)
    chunk, pages = sequence_page(recent, per_page, req.query.get("starting_after"),
                                 req.query.get("page"))
    next_url = None
    if "next" in pages:
        query = {k: v for k, v in req.query.items() if k not in ("starting_after", "per_page")}
        query.update(per_page=per_page, starting_after=pages["next"]["starting_after"])
        next_url = f"{req.base_url}/events?{urlencode(query)}"
    return {"type": "event.list", "events": chunk, "pages": {"next": next_url}, **identity}
