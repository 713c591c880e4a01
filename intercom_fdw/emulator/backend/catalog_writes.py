"""Ticket types and their attributes, data attributes, data events, messages, articles, collections."""
from __future__ import annotations

from intercom_fdw.emulator.apierror import ApiError, invalid
from intercom_fdw.emulator.backend import Accepted, Req, Runtime, require, require_body
from intercom_fdw.emulator.backend.rules import admin_or_404, new_numeric_id, typed
from intercom_fdw.emulator.seed import data_attribute, ticket_type_attribute
from intercom_fdw.emulator import views
from intercom_fdw.emulator.workspace import Workspace

MAX_EVENT_METADATA_KEYS = 10  # Intercom refuses events with more metadata keys
TICKET_CATEGORIES = ("Customer", "Back-office", "Tracker")
TICKET_ATTRIBUTE_TYPES = ("string", "list", "integer", "decimal", "boolean", "datetime", "files")
DATA_ATTRIBUTE_TYPES = ("string", "integer", "float", "boolean", "date", "datetime", "options")


# --- ticket types -------------------------------------------------------------------------------

def create_ticket_type(ws: Workspace, rt: Runtime, req: Req) -> dict:
    body = require_body(req)
    name = typed(body, "name", (str,), required=True)
    category = body.get("category", "Customer")
    if category not in TICKET_CATEGORIES:
        raise invalid(f"category must be one of {', '.join(TICKET_CATEGORIES)}")
    if any(t["name"] == name for t in ws.ticket_types.values()):
        raise invalid(f"A ticket type named {name!r} already exists")
    now = rt.now()
    type_id = new_numeric_id(ws)
    defaults = [ticket_type_attribute(new_numeric_id(ws), ws.app["id_code"], type_id, attr, "string", None,
                                      default=True, order=i, now=now)
                for i, attr in enumerate(("_default_title_", "_default_description_"))]
    ttype = {"type": "ticket_type", "id": type_id, "category": category, "name": name,
             "description": typed(body, "description", (str,)) or "", "icon": body.get("icon") or "🎟️",
             "workspace_id": ws.app["id_code"],
             "ticket_type_attributes": {"type": "list", "ticket_type_attributes": defaults},
             "archived": False, "created_at": now, "updated_at": now}
    ws.ticket_types.add(type_id, ttype)
    return views.ticket_type(ttype, ws)


def update_ticket_type(ws: Workspace, rt: Runtime, req: Req) -> dict:
    ttype = require(ws.ticket_types.get(req.path["ticket_type_id"]), "Ticket type")
    body = require_body(req)
    for name, kinds in (("name", (str,)), ("description", (str,)), ("icon", (str,)), ("archived", (bool,))):
        if name in body:
            ttype[name] = typed(body, name, kinds)
    if "category" in body:
        if body["category"] not in TICKET_CATEGORIES:
            raise invalid(f"category must be one of {', '.join(TICKET_CATEGORIES)}")
        ttype["category"] = body["category"]
    ttype["updated_at"] = rt.now()
    return views.ticket_type(ttype, ws)


def create_ticket_type_attribute(ws: Workspace, rt: Runtime, req: Req) -> dict:
    ttype = require(ws.ticket_types.get(req.path["ticket_type_id"]), "Ticket type")
    body = require_body(req)
    name = typed(body, "name", (str,), required=True)
    typed(body, "description", (str,), required=True)
    data_type = body.get("data_type")
    if data_type not in TICKET_ATTRIBUTE_TYPES:
        raise invalid(f"data_type must be one of {', '.join(TICKET_ATTRIBUTE_TYPES)}")
    attributes = ttype["ticket_type_attributes"]["ticket_type_attributes"]
    if any(a["name"] == name for a in attributes):
        raise invalid(f"ticket type {ttype['name']!r} already has an attribute named {name!r}")
    options = _list_options(body, required=True) if data_type == "list" else None
    attr = ticket_type_attribute(new_numeric_id(ws), ws.app["id_code"], ttype["id"], name, data_type, options,
                                 default=False, order=len(attributes), now=rt.now())
    _apply_attribute_flags(attr, body)
    attr["description"] = body["description"]
    attributes.append(attr)
    return attr


def _list_options(body: dict, required: bool) -> dict:
    # The OpenAPI file: "A comma delimited list of items for the attribute value".
    items = typed(body, "list_items", (str,), required=required)
    return {"list_options": [{"label": item.strip()} for item in items.split(",") if item.strip()]}


def _apply_attribute_flags(attr: dict, body: dict) -> None:
    for flag in ("required_to_create", "required_to_create_for_contacts", "visible_on_create",
                 "visible_to_contacts", "archived"):
        if flag in body:
            attr[flag] = typed(body, flag, (bool,))


def update_ticket_type_attribute(ws: Workspace, rt: Runtime, req: Req) -> dict:
    ttype = require(ws.ticket_types.get(req.path["ticket_type_id"]), "Ticket type")
    attributes = ttype["ticket_type_attributes"]["ticket_type_attributes"]
    attr = require(next((a for a in attributes if a["id"] == req.path["attribute_id"]), None), "Ticket type attribute")
    body = require_body(req)
    if attr["default"] and ("name" in body or body.get("archived")):
        raise invalid("default ticket type attributes cannot be renamed or archived")
    for name in ("name", "description"):
        if name in body:
            attr[name] = typed(body, name, (str,))
    if body.get("list_items") is not None:
        if attr["data_type"] != "list":
            raise invalid("list_items applies only to list attributes")
        attr["input_options"] = _list_options(body, required=True)
    _apply_attribute_flags(attr, body)
    attr["updated_at"] = rt.now()
    return attr


# --- data attributes ----------------------------------------------------------------------------

def _options(body: dict):
    options = body.get("options")
    if options is None:
        return None
    if not isinstance(options, list) or len(options) < 2:
        raise invalid("options must be an array of at least two {\"value\": ...} objects")
    return [o["value"] if isinstance(o, dict) else str(o) for o in options]


def create_data_attribute(ws: Workspace, rt: Runtime, req: Req) -> dict:
    body = require_body(req)
    name = typed(body, "name", (str,), required=True)
    if not name.strip():
        # The OpenAPI file's "Invalid name" 400: Intercom validates the name's characters; none names nothing.
        raise invalid("Your name for this attribute must only contain alphanumeric characters, currency symbols, "
                      "and hyphens")
    model = body.get("model")
    if model not in ("contact", "company"):
        raise invalid("model must be 'contact' or 'company'")
    data_type = body.get("data_type")
    if data_type not in DATA_ATTRIBUTE_TYPES:
        raise invalid(f"data_type must be one of {', '.join(DATA_ATTRIBUTE_TYPES)}")
    if any(a["model"] == model and a["name"] == name for a in ws.data_attributes.values()):
        raise invalid(f"You already have a '{name}' in your {model} data. To save this as new people data, "
                      f"use a different name.")
    options = _options(body)
    if data_type == "options" and not options:
        raise invalid("data_type options needs at least two options")
    stored_type = "date" if data_type == "datetime" else data_type
    number = max((a["id"] for a in ws.data_attributes.values()), default=0) + 1
    attr = data_attribute(number, model, name, stored_type, options, True, rt.now(),
                          ws.token_admins.get(req.token) or next(iter(ws.admins.by_id)))
    attr["created_at"] = attr["updated_at"] = rt.now()
    if body.get("description"):
        attr["description"] = typed(body, "description", (str,))
    if "messenger_writable" in body:
        attr["messenger_writable"] = typed(body, "messenger_writable", (bool,))
    ws.data_attributes.add(str(number), attr)
    return attr


def update_data_attribute(ws: Workspace, rt: Runtime, req: Req) -> dict:
    attr = require(ws.data_attributes.get(req.path["data_attribute_id"]), "Data attribute", "field_not_found")
    if not attr["custom"]:
        raise ApiError(422, "data_invalid", "standard attributes cannot be changed")
    body = require_body(req)
    for name, kinds in (("archived", (bool,)), ("description", (str,)), ("messenger_writable", (bool,))):
        if name in body:
            attr[name] = typed(body, name, kinds)
    options = _options(body)
    if options is not None:
        attr["options"] = options
    attr["updated_at"] = rt.now()
    return attr


# --- data events --------------------------------------------------------------------------------

def create_event(ws: Workspace, rt: Runtime, req: Req):
    body = require_body(req)
    name = typed(body, "event_name", (str,), required=True)
    created = typed(body, "created_at", (int,), required=True)
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise invalid("metadata must be an object")
    if len(metadata) > MAX_EVENT_METADATA_KEYS:
        raise ApiError(400, "parameter_invalid", f"Maximum of {MAX_EVENT_METADATA_KEYS} metadata keys allowed, "
                       f"{len(metadata)} given")
    if body.get("id"):
        contact = ws.contacts.get(str(body["id"]))
    elif body.get("user_id"):
        contact = ws.contacts.get(ws.contact_by_external_id.get(str(body["user_id"]), ""))
    elif body.get("email"):
        contact = ws.contacts.get(ws.contact_by_email.get(str(body["email"]).lower(), ""))
    else:
        raise ApiError(400, "parameter_not_found", "one of id, user_id or email is required")
    if contact is None:
        raise ApiError(404, "not_found", "User Not Found")
    events = ws.events[contact["id"]]
    events.append({"type": "event", "event_name": name, "created_at": created, "user_id": contact["external_id"],
                   "intercom_user_id": contact["id"], "email": contact["email"], "metadata": metadata})
    events.sort(key=lambda e: e["created_at"])
    return Accepted


def create_event_summaries(ws: Workspace, rt: Runtime, req: Req):
    body = require_body(req)
    contact = ws.contacts.get(ws.contact_by_external_id.get(str(body.get("user_id", "")), ""))
    if contact is None:
        raise ApiError(404, "not_found", "User Not Found")
    summaries = body.get("event_summaries")
    if isinstance(summaries, dict):
        summaries = [summaries]
    if not isinstance(summaries, list):
        raise invalid("event_summaries must be an object or an array")
    for summary in summaries:
        if not isinstance(summary, dict):
            raise invalid("each event summary must be an object with event_name, count, first, last")
        name = typed(summary, "event_name", (str,), required=True)
        count = typed(summary, "count", (int,)) or 1
        first = typed(summary, "first", (int,)) or rt.now()
        last = typed(summary, "last", (int,)) or first
        entry = ws.event_summaries[contact["id"]].setdefault(name, {"count": 0, "first": first, "last": last})
        entry["count"] += count
        entry["first"], entry["last"] = min(entry["first"], first), max(entry["last"], last)
    return None  # 200, empty body


# --- messages -----------------------------------------------------------------------------------

def create_message(ws: Workspace, rt: Runtime, req: Req) -> dict:
    """Request message_type `in_app` or `email`; the answer spells it `inapp` (intercom-api-notes.md)."""
    body = require_body(req)
    message_type = body.get("message_type")
    if message_type not in ("in_app", "email"):
        raise ApiError(400, "parameter_invalid", "message_type must be 'in_app' or 'email'")
    sender, recipient = body.get("from"), body.get("to")
    if not isinstance(sender, dict) or sender.get("type") != "admin":
        raise ApiError(400, "parameter_invalid", "from must be {\"type\": \"admin\", \"id\": ...}")
    admin_or_404(ws, sender.get("id"))
    if not isinstance(recipient, dict) or recipient.get("type") not in ("user", "lead", "contact"):
        raise ApiError(400, "parameter_invalid", "to must be {\"type\": \"user\"|\"lead\", \"id\": ...}")
    contact = ws.contacts.get(str(recipient.get("id")))
    if contact is None:
        raise ApiError(404, "not_found", "User Not Found")
    text = typed(body, "body", (str,), required=True)
    if message_type == "email":
        typed(body, "subject", (str,), required=True)
        if body.get("template") not in ("plain", "personal"):
            raise ApiError(400, "parameter_invalid", "template must be 'plain' or 'personal' for an email")
    now = rt.now()
    conversation_id = new_numeric_id(ws)
    message = {"type": "admin_message", "id": new_numeric_id(ws), "created_at": now,
               "subject": body.get("subject") or "", "body": text,
               "message_type": "inapp" if message_type == "in_app" else "email",
               "conversation_id": conversation_id}
    ws.messages.add(message["id"], message)
    return message


# --- articles and collections -------------------------------------------------------------------

def _article_fields(ws: Workspace, article: dict, body: dict) -> None:
    for name, kinds in (("title", (str,)), ("description", (str,)), ("body", (str,))):
        if name in body:
            article[name] = typed(body, name, kinds)
    if "author_id" in body:
        article["author_id"] = int(admin_or_404(ws, body["author_id"])["id"])
    if "state" in body:
        if body["state"] not in ("published", "draft"):
            raise invalid("state must be 'published' or 'draft'")
        article["state"] = body["state"]
    if body.get("parent_id") is not None:
        parent = str(body["parent_id"])
        require(ws.collections.get(parent), "Collection")
        article.update(parent_id=int(parent), parent_ids=[int(parent)], parent_type=body.get("parent_type", "collection"))


def create_article(ws: Workspace, rt: Runtime, req: Req) -> dict:
    body = require_body(req)
    typed(body, "title", (str,), required=True)
    if body.get("author_id") is None:
        raise ApiError(400, "parameter_not_found", "author_id is required")
    now = rt.now()
    art_id = new_numeric_id(ws)
    article = {"type": "article", "id": art_id, "workspace_id": ws.app["id_code"], "title": "", "description": None,
               "body": None, "author_id": 0, "state": "draft", "created_at": now, "updated_at": now,
               "url": None, "parent_id": None, "parent_ids": [], "parent_type": None, "default_locale": "en",
               "translated_content": None,
               "statistics": {"type": "article_statistics", "views": 0, "conversions": 0, "reactions": 0,
                              "happy_reaction_percentage": 0.0, "neutral_reaction_percentage": 0.0,
                              "sad_reaction_percentage": 0.0}}
    _article_fields(ws, article, body)
    if article["state"] == "published":
        article["url"] = f"https://intercom.help/{ws.app['id_code']}/en/articles/{art_id}"
    ws.articles.add(art_id, article)
    return article


def _updated(table, obj_id: str, kind: str, apply_fields, ws: Workspace, rt: Runtime, req: Req) -> dict:
    stored = require(table.get(obj_id), kind)
    apply_fields(ws, stored, require_body(req))
    stored["updated_at"] = rt.now()
    return stored


def _deleted(table, obj_id: str, kind: str) -> dict:
    stored = require(table.get(obj_id), kind)
    table.remove(stored["id"])
    return {"id": stored["id"], "object": kind.lower(), "deleted": True}


def update_article(ws: Workspace, rt: Runtime, req: Req) -> dict:
    return _updated(ws.articles, req.path["article_id"], "Article", _article_fields, ws, rt, req)


def delete_article(ws: Workspace, rt: Runtime, req: Req) -> dict:
    return _deleted(ws.articles, req.path["article_id"], "Article")


def _collection_fields(ws: Workspace, collection: dict, body: dict) -> None:
    for name in ("name", "description"):
        if name in body:
            collection[name] = typed(body, name, (str,))
    if body.get("parent_id") is not None:
        require(ws.collections.get(str(body["parent_id"])), "Collection")
        collection["parent_id"] = str(body["parent_id"])
    if body.get("help_center_id") is not None:
        require(ws.help_centers.get(str(body["help_center_id"])), "Help Center")
        collection["help_center_id"] = int(body["help_center_id"])


def create_collection(ws: Workspace, rt: Runtime, req: Req) -> dict:
    body = require_body(req)
    typed(body, "name", (str,), required=True)
    now = rt.now()
    coll_id = new_numeric_id(ws)
    collection = {"id": coll_id, "workspace_id": ws.app["id_code"], "name": "", "description": None,
                  "created_at": now, "updated_at": now,
                  "url": f"https://intercom.help/{ws.app['id_code']}/en/collections/{coll_id}", "icon": "book-bookmark",
                  "order": len(ws.collections) + 1, "default_locale": "en", "translated_content": None,
                  "parent_id": None, "help_center_id": int(next(iter(ws.help_centers.by_id)))}
    _collection_fields(ws, collection, body)
    ws.collections.add(coll_id, collection)
    return collection


def update_collection(ws: Workspace, rt: Runtime, req: Req) -> dict:
    return _updated(ws.collections, req.path["collection_id"], "Collection", _collection_fields, ws, rt, req)


def delete_collection(ws: Workspace, rt: Runtime, req: Req) -> dict:
    return _deleted(ws.collections, req.path["collection_id"], "Collection")
