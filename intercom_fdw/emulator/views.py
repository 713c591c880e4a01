"""Stored objects -> the JSON Intercom returns, per endpoint flavour (list/search vs get-by-id).

Where Intercom returns less in lists than by id, the difference lives here: article statistics,
conversation and ticket parts. Contacts embed at most 10 tags, notes and companies with `has_more`.
`custom` is the custom-attribute view to use (list/search may still see old values; see backend).
"""
from __future__ import annotations

from typing import Callable, Dict, Optional, Tuple

import orjson

from intercom_fdw.emulator.workspace import Workspace

EMBED_CAP = 10  # tags/notes/companies embedded in a contact (intercom-api-notes.md)
MAX_CONVERSATION_PARTS = 500

CustomView = Optional[Callable[[str, dict], dict]]


def _embedded(ids: list, kind: str, path: str, list_url: str) -> dict:
    return {
        "type": "list",
        "data": [{"type": kind, "id": i, "url": f"/{path}/{i}"} for i in ids[:EMBED_CAP]],
        "url": list_url, "total_count": len(ids), "has_more": len(ids) > EMBED_CAP,
    }


def contact(ws: Workspace, stored: dict, custom: CustomView = None, by_id: bool = False) -> dict:
    out = dict(stored)
    cid = stored["id"]
    out.pop("archived", None)  # the store's own flag (archived contacts are left out of lists), not API data
    if custom is not None:
        out["custom_attributes"] = custom("contact", stored)
    out["tags"] = _embedded([t[0] for t in ws.contact_tags.get(cid, ())], "tag", "tags", f"/contacts/{cid}/tags")
    out["notes"] = _embedded(ws.contact_notes.get(cid, []), "note", "notes", f"/contacts/{cid}/notes")
    out["companies"] = _embedded(ws.contact_companies.get(cid, []), "company", "companies",
                                 f"/contacts/{cid}/companies")
    if by_id:
        out["enabled_push_messaging"] = None
    return out


# Listed contacts, serialised once per workspace version: workspace uid -> (version, {id: JSON}).
# Every write bumps the version (http/app.py), which drops them all; while custom attributes are
# stale the view depends on the clock, and nothing is cached. A few workspaces at most.
_LISTED: Dict[int, Tuple[int, dict]] = {}
_LISTED_WORKSPACES = 8


def listed_contact(ws: Workspace, stored: dict, custom: CustomView = None):
    """contact() as a list or search page shows it: the same JSON, serialised at most once per
    workspace version (an orjson.Fragment the page's serialisation copies as it is)."""
    if ws.stale_custom_attributes:
        return contact(ws, stored, custom)
    entry = _LISTED.get(ws.uid)
    if entry is None or entry[0] != ws.version:
        entry = _LISTED[ws.uid] = (ws.version, {})
        while len(_LISTED) > _LISTED_WORKSPACES:
            del _LISTED[next(iter(_LISTED))]
    cached = entry[1]
    fragment = cached.get(stored["id"])
    if fragment is None:
        fragment = cached[stored["id"]] = orjson.Fragment(orjson.dumps(contact(ws, stored, custom)))
    return fragment


def tag(ws: Workspace, tag_id: str) -> dict:
    return dict(ws.tags.get(tag_id))


def applied_tag(ws: Workspace, tag_id: str, applied_at: int, admin_id: str) -> dict:
    return {**ws.tags.get(tag_id), "applied_at": applied_at, "applied_by": {"type": "admin", "id": admin_id}}


def company(ws: Workspace, stored: dict, custom: CustomView = None) -> dict:
    out = dict(stored)
    cid = stored["id"]
    if custom is not None:
        out["custom_attributes"] = custom("company", stored)
    out["user_count"] = len(ws.company_contacts.get(cid, ()))
    out["tags"] = {"type": "tag.list", "tags": [ws.tags.get(t) for t in ws.company_tags.get(cid, ())
                                                if t in ws.tags]}
    out["segments"] = {"type": "segment.list", "segments": [ws.segments.get(s) for s in
                                                            ws.company_segments.get(cid, ()) if s in ws.segments]}
    return out


def conversation(ws: Workspace, stored: dict, custom: CustomView = None, with_parts: bool = False) -> dict:
    out = dict(stored)
    if custom is not None:
        out["custom_attributes"] = custom("conversation", stored)
    if with_parts:
        parts = ws.conversation_parts.get(stored["id"], [])
        out["conversation_parts"] = {"type": "conversation_part.list",
                                     "conversation_parts": parts[:MAX_CONVERSATION_PARTS],
                                     "total_count": len(parts)}
    return out


def ticket(ws: Workspace, stored: dict, with_parts: bool = False) -> dict:
    out = dict(stored)
    if with_parts:
        parts = ws.ticket_parts.get(stored["id"], [])
        out["ticket_parts"] = {"type": "ticket_part.list", "ticket_parts": parts, "total_count": len(parts)}
    return out


def article(stored: dict, with_statistics: bool) -> dict:
    if with_statistics:
        return stored
    return {k: v for k, v in stored.items() if k != "statistics"}


def admin_with_app(ws: Workspace, admin: dict) -> dict:
    keys = ("type", "id", "name", "email", "job_title", "away_mode_enabled", "away_mode_reassign",
            "has_inbox_seat", "team_ids")
    out = {k: admin[k] for k in keys}
    out["avatar"] = {"type": "avatar", "image_url": f"https://static.intercomassets.com/avatars/{admin['id']}.png"}
    out["email_verified"] = True
    out["app"] = ws.app
    return out


def ticket_type(stored: dict, ws: Workspace) -> dict:
    out = dict(stored)
    out["ticket_states"] = {"type": "list", "data": [
        {k: s[k] for k in ("type", "id", "category", "internal_label", "external_label")}
        for s in ws.ticket_states.values()]}
    return out


def ticket_state(stored: dict, ws: Workspace) -> dict:
    out = dict(stored)
    out["ticket_types"] = {"type": "list", "data": [
        {k: v for k, v in t.items() if k != "ticket_type_attributes"} for t in ws.ticket_types.values()]}
    return out
