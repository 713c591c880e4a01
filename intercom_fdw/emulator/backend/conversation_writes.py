"""Conversations (create, update, reply, close/snooze/open/assign, tags, convert, delete) and tickets
(create, update, reply, tags, delete)."""
from __future__ import annotations

from intercom_fdw.emulator import views
from intercom_fdw.emulator.apierror import ApiError, invalid, not_found
from intercom_fdw.emulator.backend import Req, Runtime, remember_custom_attributes, require, require_body
from intercom_fdw.emulator.backend.conversations import conversation_by_id, ticket_by_id
from intercom_fdw.emulator.backend.rules import (
    admin_or_404, apply_custom_attributes, checked_custom_attributes, new_numeric_id, typed,
)
from intercom_fdw.emulator.seed import conversation_part, state_ref, ticket_type_ref
from intercom_fdw.emulator.workspace import Workspace


def _author_of_contact(contact: dict) -> dict:
    return {"type": "user" if contact["role"] == "user" else "lead", "id": contact["id"],
            "name": contact["name"], "email": contact["email"]}


def _author_of_admin(admin: dict) -> dict:
    return {"type": "admin", "id": admin["id"], "name": admin["name"], "email": admin["email"]}


def _contact_ref(contact: dict) -> dict:
    return {"type": "contact", "id": contact["id"], "external_id": contact["external_id"]}


def _find_contact(ws: Workspace, who: dict) -> dict:
    """A contact named by intercom_user_id/id, user_id/external_id or email."""
    contact = None
    if who.get("intercom_user_id") or who.get("id"):
        contact = ws.contacts.get(str(who.get("intercom_user_id") or who.get("id")))
    elif who.get("user_id") or who.get("external_id"):
        contact = ws.contacts.get(ws.contact_by_external_id.get(str(who.get("user_id") or who.get("external_id")), ""))
    elif who.get("email"):
        contact = ws.contacts.get(ws.contact_by_email.get(str(who["email"]).lower(), ""))
    if contact is None:
        raise ApiError(404, "not_found", "User Not Found")
    return contact


def _add_part(ws: Workspace, conversation: dict, part: dict, now: int) -> None:
    parts = ws.conversation_parts.setdefault(conversation["id"], [])
    parts.append(part)
    conversation["updated_at"] = now
    conversation["statistics"]["count_conversation_parts"] = len(parts)


def create_conversation(ws: Workspace, rt: Runtime, req: Req) -> dict:
    body = require_body(req)
    sender = body.get("from")
    if not isinstance(sender, dict) or sender.get("type") not in ("user", "lead", "contact"):
        raise invalid("from must be an object with type user, lead or contact and an id")
    contact = _find_contact(ws, {"id": sender.get("id")})
    text = typed(body, "body", (str,), required=True)
    now = rt.now()
    conv_id = new_numeric_id(ws)
    ws.conversations.add(conv_id, {
        "type": "conversation", "id": conv_id, "title": None, "created_at": now, "updated_at": now,
        "waiting_since": now, "snoozed_until": None, "open": True, "state": "open", "read": False,
        "priority": "not_priority", "admin_assignee_id": None, "team_assignee_id": None,
        "tags": {"type": "tag.list", "tags": []}, "conversation_rating": None,
        "source": {"type": "conversation", "id": new_numeric_id(ws), "delivered_as": "customer_initiated",
                   "subject": body.get("subject") or "", "body": f"<p>{text}</p>",
                   "author": _author_of_contact(contact), "attachments": [], "url": None, "redacted": False},
        "contacts": {"type": "contact.list", "contacts": [_contact_ref(contact)]},
        "teammates": {"type": "admin.list", "teammates": []}, "custom_attributes": {},
        "first_contact_reply": {"created_at": now, "type": "conversation", "url": None}, "sla_applied": None,
        "statistics": {"type": "conversation_statistics", "count_reopens": 0, "count_assignments": 0,
                       "count_conversation_parts": 0, "first_contact_reply_at": now},
        "linked_objects": {"type": "list", "data": [], "total_count": 0, "has_more": False},
        "ai_agent_participated": False,
    })
    ws.conversation_parts[conv_id] = []
    return {"type": "user_message", "id": new_numeric_id(ws), "created_at": now, "body": f"<p>{text}</p>",
            "message_type": "inapp", "conversation_id": conv_id}


def update_conversation(ws: Workspace, rt: Runtime, req: Req) -> dict:
    conversation = conversation_by_id(ws, req.path["conversation_id"])
    body = require_body(req)
    if "read" in body:
        conversation["read"] = typed(body, "read", (bool,))
    if "title" in body:
        conversation["title"] = typed(body, "title", (str,))
    custom = checked_custom_attributes(ws, "conversation", body.get("custom_attributes"))
    if custom:
        remember_custom_attributes(ws, rt, "conversation", conversation)
        apply_custom_attributes(conversation, custom)
    conversation["updated_at"] = rt.now()
    return views.conversation(ws, conversation, with_parts=True)


def reply_conversation(ws: Workspace, rt: Runtime, req: Req) -> dict:
    conversation = conversation_by_id(ws, req.path["conversation_id"])
    body = require_body(req)
    now = rt.now()
    message_type = body.get("message_type")
    if body.get("type") == "admin":
        if message_type not in ("comment", "note", "quick_reply"):
            raise invalid("message_type must be comment, note or quick_reply for an admin reply")
        admin = admin_or_404(ws, body.get("admin_id"))
        author = _author_of_admin(admin)
        if message_type != "note":
            conversation["waiting_since"] = None
    elif body.get("type") == "user":
        if message_type != "comment":
            raise invalid("message_type must be comment for a contact reply")
        author = _author_of_contact(_find_contact(ws, body))
        if conversation["state"] != "open":  # a contact's reply reopens the conversation
            conversation.update(state="open", open=True, snoozed_until=None)
        conversation["waiting_since"] = now
    else:
        raise invalid("type must be 'admin' or 'user'")
    text = typed(body, "body", (str,), required=True)
    _add_part(ws, conversation, conversation_part(new_numeric_id(ws), message_type, text, now, author), now)
    return views.conversation(ws, conversation, with_parts=True)


def manage_conversation(ws: Workspace, rt: Runtime, req: Req) -> dict:
    """POST /conversations/{id}/parts: close, snoozed, open, assignment."""
    conversation = conversation_by_id(ws, req.path["conversation_id"])
    body = require_body(req)
    admin = admin_or_404(ws, body.get("admin_id"))
    now = rt.now()
    kind = body.get("message_type")
    assigned_to = None
    if kind == "close":
        conversation.update(state="closed", open=False, snoozed_until=None, waiting_since=None)
    elif kind == "snoozed":
        until = typed(body, "snoozed_until", (int,), required=True)
        if until <= now:
            raise invalid("snoozed_until must be in the future")
        conversation.update(state="snoozed", open=True, snoozed_until=until)
    elif kind == "open":
        conversation.update(state="open", open=True, snoozed_until=None)
    elif kind == "assignment":
        assignee_id = str(typed(body, "assignee_id", (str, int), required=True))
        if body.get("type") == "team":
            if assignee_id != "0" and assignee_id not in ws.teams:
                raise ApiError(404, "team_not_found", "Team not found")
            conversation["team_assignee_id"] = None if assignee_id == "0" else int(assignee_id)
            assigned_to = {"type": "team", "id": assignee_id}
        elif body.get("type") == "admin":
            if assignee_id != "0" and assignee_id not in ws.admins:
                raise ApiError(404, "assignee_not_found", "Assignee not found")
            conversation["admin_assignee_id"] = None if assignee_id == "0" else int(assignee_id)
            conversation["teammates"]["teammates"] = [] if assignee_id == "0" else [
                {"type": "admin", "id": assignee_id}]
            assigned_to = {"type": "admin", "id": assignee_id}
        else:
            raise invalid("type must be 'admin' or 'team' for an assignment")
        conversation["statistics"]["count_assignments"] = conversation["statistics"].get("count_assignments", 0) + 1
    else:
        raise invalid("message_type must be one of close, snoozed, open, assignment")
    part_type = {"snoozed": "snoozed", "assignment": "assignment"}.get(kind, kind)
    _add_part(ws, conversation, conversation_part(new_numeric_id(ws), part_type, body.get("body"), now,
                                                  _author_of_admin(admin), conversation["state"], assigned_to), now)
    return views.conversation(ws, conversation, with_parts=True)


def _add_tag(ws: Workspace, rt: Runtime, req: Req, tag_list: dict) -> dict:
    body = require_body(req)
    admin = admin_or_404(ws, body.get("admin_id"))
    tag = require(ws.tags.get(str(typed(body, "id", (str,), required=True))), "Tag", "tag_not_found")
    tags = tag_list["tags"]
    if not any(t["id"] == tag["id"] for t in tags):
        tags.append({**tag, "applied_at": rt.now(), "applied_by": {"type": "admin", "id": admin["id"]}})
    return next(t for t in tags if t["id"] == tag["id"])


def _remove_tag(ws: Workspace, req: Req, tag_list: dict) -> dict:
    """A DELETE that still needs a JSON body with admin_id (intercom-api-notes.md)."""
    if not isinstance(req.body, dict) or not req.body.get("admin_id"):
        raise ApiError(400, "parameter_not_found", "admin_id is required in the request body")
    admin_or_404(ws, req.body["admin_id"])
    tag = require(ws.tags.get(req.path["tag_id"]), "Tag", "tag_not_found")
    if not any(t["id"] == tag["id"] for t in tag_list["tags"]):
        raise not_found("Tag", "tag_not_found")
    tag_list["tags"] = [t for t in tag_list["tags"] if t["id"] != tag["id"]]
    return dict(tag)


def tag_conversation(ws: Workspace, rt: Runtime, req: Req) -> dict:
    return _add_tag(ws, rt, req, conversation_by_id(ws, req.path["conversation_id"])["tags"])


def untag_conversation(ws: Workspace, rt: Runtime, req: Req) -> dict:
    return _remove_tag(ws, req, conversation_by_id(ws, req.path["conversation_id"])["tags"])


def delete_conversation(ws: Workspace, rt: Runtime, req: Req) -> dict:
    conversation = conversation_by_id(ws, req.path["conversation_id"])
    ws.conversations.remove(conversation["id"])
    ws.conversation_parts.pop(conversation["id"], None)
    return {"id": conversation["id"], "object": "conversation", "deleted": True}


# --- tickets ------------------------------------------------------------------------------------

def _ticket_type(ws: Workspace, type_id) -> dict:
    ttype = ws.ticket_types.get(str(type_id)) if type_id is not None else None
    if ttype is None:
        raise ApiError(400, "parameter_invalid", f"ticket_type_id {type_id!r} is not a ticket type of this workspace")
    return ttype


def _checked_ticket_attributes(ttype: dict, values, creating: bool) -> dict:
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise invalid("ticket_attributes must be an object")
    known = {a["name"]: a for a in ttype["ticket_type_attributes"]["ticket_type_attributes"] if not a["archived"]}
    for name, value in values.items():
        attr = known.get(name)
        if attr is None:
            raise ApiError(400, "parameter_invalid", f"'{name}' is not an attribute of ticket type {ttype['name']!r}")
        kinds = {"string": (str,), "list": (str,), "integer": (int,), "decimal": (int, float), "boolean": (bool,),
                 "datetime": (int, str), "files": (list,)}.get(attr["data_type"], (str,))
        if value is not None and ((isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds)):
            raise ApiError(400, "parameter_invalid", f"ticket attribute '{name}' has data type {attr['data_type']}")
    if creating:
        for attr in known.values():
            if attr["required_to_create"] and values.get(attr["name"]) in (None, ""):
                raise ApiError(400, "parameter_invalid", f"ticket attribute '{attr['name']}' is required")
    return values


def _new_ticket(ws: Workspace, rt: Runtime, ttype: dict, contacts: list, attributes: dict) -> dict:
    now = rt.now()
    state = next(iter(ws.ticket_states.values()))
    ticket_id = new_numeric_id(ws)
    ticket = {
        "type": "ticket", "id": ticket_id, "ticket_id": str(len(ws.tickets) + 1), "category": ttype["category"],
        "ticket_attributes": dict(attributes), "ticket_state": state_ref(state), "ticket_type": ticket_type_ref(ttype),
        "contacts": {"type": "contact.list", "contacts": [_contact_ref(c) for c in contacts]},
        "admin_assignee_id": "0", "team_assignee_id": "0", "created_at": now, "updated_at": now, "open": True,
        "linked_objects": {"type": "list", "data": [], "total_count": 0, "has_more": False},
        "is_shared": ttype["category"] == "Customer",
    }
    ws.tickets.add(ticket_id, ticket)
    ws.ticket_parts[ticket_id] = []
    return ticket


def create_ticket(ws: Workspace, rt: Runtime, req: Req) -> dict:
    body = require_body(req)
    ttype = _ticket_type(ws, body.get("ticket_type_id"))
    who = body.get("contacts")
    if not isinstance(who, list) or not who or not all(isinstance(w, dict) for w in who):
        raise ApiError(400, "parameter_invalid", "contacts must be a non-empty array of {id|external_id|email}")
    contacts = [_find_contact(ws, w) for w in who]
    attributes = _checked_ticket_attributes(ttype, body.get("ticket_attributes"), creating=True)
    ticket = _new_ticket(ws, rt, ttype, contacts, attributes)
    assignment = body.get("assignment") or {}
    if isinstance(assignment, dict) and assignment.get("admin_assignee_id"):
        ticket["admin_assignee_id"] = str(admin_or_404(ws, assignment["admin_assignee_id"])["id"])
    return views.ticket(ws, ticket, with_parts=True)


def convert_conversation(ws: Workspace, rt: Runtime, req: Req) -> dict:
    conversation = conversation_by_id(ws, req.path["conversation_id"])
    body = require_body(req)
    ttype = _ticket_type(ws, body.get("ticket_type_id"))
    if ttype["category"] == "Tracker":
        raise invalid("a conversation can only become a Customer or Back-office ticket")
    attributes = _checked_ticket_attributes(ttype, body.get("attributes"), creating=False)
    attributes.setdefault("_default_title_", conversation.get("title") or conversation["source"].get("subject") or "")
    contacts = [ws.contacts.get(c["id"]) for c in conversation["contacts"]["contacts"] if c["id"] in ws.contacts]
    ticket = _new_ticket(ws, rt, ttype, contacts, attributes)
    link = {"type": "conversation", "id": conversation["id"], "category": None}
    ticket["linked_objects"] = {"type": "list", "data": [link], "total_count": 1, "has_more": False}
    # Added to the conversation's links, not in their place: converted again (which the API file does not
    # forbid) it keeps the first ticket's link too.
    links = conversation["linked_objects"]["data"] + [
        {"type": "ticket", "id": ticket["id"], "category": ttype["category"]}]
    conversation["linked_objects"] = {"type": "list", "data": links, "total_count": len(links), "has_more": False}
    return views.ticket(ws, ticket, with_parts=True)


def update_ticket(ws: Workspace, rt: Runtime, req: Req) -> dict:
    ticket = ticket_by_id(ws, req.path["ticket_id"])
    body = require_body(req)
    ttype = ws.ticket_types.get(ticket["ticket_type"]["id"])
    attributes = _checked_ticket_attributes(ttype, body.get("ticket_attributes"), creating=False)
    ticket["ticket_attributes"] = {**ticket["ticket_attributes"], **attributes}
    if "ticket_state_id" in body:
        state = ws.ticket_states.get(str(body["ticket_state_id"]))
        if state is None:
            raise ApiError(400, "ticket_state_id_invalid", "ticket_state_id is not a ticket state of this workspace")
        previous = ticket["ticket_state"]["category"]
        ticket["ticket_state"] = state_ref(state)
        ticket["open"] = state["category"] != "resolved"
        ws.ticket_parts.setdefault(ticket["id"], []).append({
            "type": "ticket_part", "id": new_numeric_id(ws), "part_type": "ticket_state_updated_by_admin",
            "body": None, "previous_ticket_state": previous, "ticket_state": state["category"],
            "created_at": rt.now(), "updated_at": rt.now(), "attachments": [], "external_id": None,
            "redacted": False, "author": _author_of_admin(next(iter(ws.admins.values())))})
    for flag in ("open", "is_shared"):
        if flag in body:
            ticket[flag] = typed(body, flag, (bool,))
    if "snoozed_until" in body:
        ticket["snoozed_until"] = typed(body, "snoozed_until", (int,))
    if body.get("assignee_id") is not None:
        assignee = str(body["assignee_id"])
        if assignee != "0" and assignee not in ws.admins:
            raise ApiError(404, "assignee_not_found", "Assignee not found")
        ticket["admin_assignee_id"] = assignee
    ticket["updated_at"] = rt.now()
    return views.ticket(ws, ticket, with_parts=True)


def reply_ticket(ws: Workspace, rt: Runtime, req: Req) -> dict:
    ticket = ticket_by_id(ws, req.path["ticket_id"])
    body = require_body(req)
    message_type = body.get("message_type")
    if body.get("type") == "admin":
        if message_type not in ("comment", "note", "quick_reply"):
            raise invalid("message_type must be comment, note or quick_reply for an admin reply")
        author = _author_of_admin(admin_or_404(ws, body.get("admin_id")))
    elif body.get("type") == "user":
        if message_type != "comment":
            raise invalid("message_type must be comment for a contact reply")
        author = _author_of_contact(_find_contact(ws, body))
        author["type"] = "user"
    else:
        raise invalid("type must be 'admin' or 'user'")
    now = rt.now()
    part = {"type": "ticket_part", "id": new_numeric_id(ws), "part_type": message_type,
            "body": f"<p>{typed(body, 'body', (str,), required=True)}</p>", "created_at": now, "updated_at": now,
            "author": author, "attachments": [], "redacted": False}
    ws.ticket_parts.setdefault(ticket["id"], []).append(part)
    ticket["updated_at"] = now
    return part


def _ticket_tags(ws: Workspace, req: Req) -> dict:
    return ticket_by_id(ws, req.path["ticket_id"]).setdefault("tags", {"type": "tag.list", "tags": []})


def tag_ticket(ws: Workspace, rt: Runtime, req: Req) -> dict:
    return _add_tag(ws, rt, req, _ticket_tags(ws, req))


def untag_ticket(ws: Workspace, rt: Runtime, req: Req) -> dict:
    return _remove_tag(ws, req, _ticket_tags(ws, req))


def delete_ticket(ws: Workspace, rt: Runtime, req: Req) -> dict:
    ticket = ticket_by_id(ws, req.path["ticket_id"])
    ws.tickets.remove(ticket["id"])
    ws.ticket_parts.pop(ticket["id"], None)
    return {"id": ticket["id"], "object": "ticket", "deleted": True}
