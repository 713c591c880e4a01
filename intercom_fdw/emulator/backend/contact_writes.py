"""Contacts: create (409 on a duplicate email or external_id), update, delete, archive, unarchive,
merge, company attach/detach, tag/untag, subscriptions, notes."""
from __future__ import annotations

from intercom_fdw.emulator import views
from intercom_fdw.emulator.apierror import ApiError, invalid, not_found
from intercom_fdw.emulator.backend import (
    Req, Runtime, note_unindexed_contact, remember_custom_attributes, require, require_body,
)
from intercom_fdw.emulator.backend.contacts import contact_by_id
from intercom_fdw.emulator.backend.rules import (
    admin_or_404, apply_custom_attributes, checked_custom_attributes, new_hex_id, new_numeric_id, typed,
)
from intercom_fdw.emulator.workspace import Workspace

_STRING_FIELDS = ("email", "external_id", "phone", "name", "avatar")
_INT_FIELDS = ("signed_up_at", "last_seen_at", "owner_id")


def _check_unique(ws: Workspace, email, external_id, own_id=None) -> None:
    for index, value, label in ((ws.contact_by_email, (email or "").lower(), "email"),
                                (ws.contact_by_external_id, external_id, "external_id")):
        existing = index.get(value) if value else None
        if existing is not None and existing != own_id:
            raise ApiError(409, "conflict", f"A contact matching those details already exists with id={existing}")


def _checked_fields(ws: Workspace, body: dict) -> dict:
    fields = {}
    for name in _STRING_FIELDS:
        if name in body:
            fields[name] = typed(body, name, (str,))
    for name in _INT_FIELDS:
        if name in body:
            fields[name] = typed(body, name, (int,))
    if "unsubscribed_from_emails" in body:
        fields["unsubscribed_from_emails"] = typed(body, "unsubscribed_from_emails", (bool,))
    if "role" in body:
        if body["role"] not in ("user", "lead"):
            raise invalid("role must be 'user' or 'lead'")
        fields["role"] = body["role"]
    if fields.get("owner_id") is not None and str(fields["owner_id"]) not in ws.admins:
        raise ApiError(400, "parameter_invalid", f"owner_id {fields['owner_id']} is not an admin of this workspace")
    return fields


def _set_fields(contact: dict, fields: dict) -> None:
    for name, value in fields.items():
        if name == "avatar":
            contact["avatar"] = {"type": "avatar", "image_url": value} if value else None
        else:
            contact[name] = value
    if "email" in fields:
        contact["email"] = fields["email"] or ""
        contact["email_domain"] = contact["email"].rsplit("@", 1)[-1] if "@" in contact["email"] else ""


def create_contact(ws: Workspace, rt: Runtime, req: Req) -> dict:
    body = require_body(req)
    if not any(body.get(k) for k in ("email", "external_id", "role")):
        raise ApiError(400, "parameter_invalid", "one of email, external_id or role is required")
    fields = _checked_fields(ws, body)
    custom = checked_custom_attributes(ws, "contact", body.get("custom_attributes"))
    _check_unique(ws, fields.get("email"), fields.get("external_id"))
    now = rt.now()
    contact = {
        "type": "contact", "id": new_hex_id(ws, 0xA0), "workspace_id": ws.app["id_code"], "external_id": None,
        "role": "user", "email": "", "email_domain": "", "phone": None, "name": None, "owner_id": None,
        "has_hard_bounced": False, "marked_email_as_spam": False, "unsubscribed_from_emails": False,
        "created_at": now, "updated_at": now, "signed_up_at": None, "last_seen_at": None,
        "last_replied_at": None, "last_contacted_at": None, "last_email_opened_at": None,
        "last_email_clicked_at": None, "language_override": None, "browser": None, "browser_version": None,
        "browser_language": None, "os": None, "android_app_name": None, "android_app_version": None,
        "android_device": None, "android_os_version": None, "android_sdk_version": None,
        "android_last_seen_at": None, "ios_app_name": None, "ios_app_version": None, "ios_device": None,
        "ios_os_version": None, "ios_sdk_version": None, "ios_last_seen_at": None, "custom_attributes": {},
        "avatar": None, "location": {"type": "location", "country": None, "region": None, "city": None,
                                     "country_code": None, "continent_code": None},
        "social_profiles": {"type": "list", "data": []},
    }
    _set_fields(contact, fields)
    apply_custom_attributes(contact, custom)
    ws.add_contact(contact)
    note_unindexed_contact(ws, rt, contact["id"])
    return views.contact(ws, contact, by_id=True)


def update_contact(ws: Workspace, rt: Runtime, req: Req) -> dict:
    contact = contact_by_id(ws, req.path["contact_id"])
    body = require_body(req)
    fields = _checked_fields(ws, body)
    custom = checked_custom_attributes(ws, "contact", body.get("custom_attributes"))
    _check_unique(ws, fields.get("email"), fields.get("external_id"), own_id=contact["id"])
    old_email, old_external_id = contact.get("email"), contact.get("external_id")
    _set_fields(contact, fields)
    ws.reindex_contact(contact, old_email, old_external_id)
    if custom:
        remember_custom_attributes(ws, rt, "contact", contact)
        apply_custom_attributes(contact, custom)
    contact["updated_at"] = rt.now()
    return views.contact(ws, contact, by_id=True)


def _reference(contact: dict, **flag) -> dict:
    return {"type": "contact", "id": contact["id"], "external_id": contact["external_id"], **flag}


def delete_contact(ws: Workspace, rt: Runtime, req: Req) -> dict:
    contact = contact_by_id(ws, req.path["contact_id"])
    ws.remove_contact(contact["id"])
    return _reference(contact, deleted=True)


def archive_contact(ws: Workspace, rt: Runtime, req: Req) -> dict:
    contact = contact_by_id(ws, req.path["contact_id"])
    contact["archived"] = True
    ws.archived_contacts.add(contact["id"])
    return _reference(contact, archived=True)


def unarchive_contact(ws: Workspace, rt: Runtime, req: Req) -> dict:
    contact = contact_by_id(ws, req.path["contact_id"])
    contact.pop("archived", None)
    ws.archived_contacts.discard(contact["id"])
    return _reference(contact, archived=False)


def merge_contacts(ws: Workspace, rt: Runtime, req: Req) -> dict:
    """A lead (`from`) merges into a user (`into`); the lead is gone afterwards."""
    body = require_body(req)
    source = contact_by_id(ws, typed(body, "from", (str,), required=True))
    target = contact_by_id(ws, typed(body, "into", (str,), required=True))
    if source["role"] != "lead":
        raise invalid("the contact to merge from must be a lead")
    if target["role"] != "user":
        raise invalid("the contact to merge into must be a user")
    for company_id in list(ws.contact_companies.get(source["id"], ())):
        ws.link_contact_company(target["id"], company_id)
    known_tags = {t[0] for t in ws.contact_tags.get(target["id"], ())}
    for entry in ws.contact_tags.get(source["id"], ()):
        if entry[0] not in known_tags:
            ws.contact_tags[target["id"]].append(entry)
    for note_id in ws.contact_notes.get(source["id"], ()):
        ws.contact_notes[target["id"]].append(note_id)
        ws.notes.get(note_id)["contact"] = {"type": "contact", "id": target["id"]}
    ws.remove_contact(source["id"])
    target["updated_at"] = rt.now()
    return views.contact(ws, target, by_id=True)


def attach_company(ws: Workspace, rt: Runtime, req: Req) -> dict:
    contact = contact_by_id(ws, req.path["contact_id"])
    company_id = typed(require_body(req), "id", (str,), required=True)
    company = require(ws.companies.get(company_id), "Company", "company_not_found")
    ws.link_contact_company(contact["id"], company["id"])
    return views.company(ws, company)


def detach_company(ws: Workspace, rt: Runtime, req: Req) -> dict:
    contact = contact_by_id(ws, req.path["contact_id"])
    company = require(ws.companies.get(req.path["company_id"]), "Company", "company_not_found")
    if not ws.unlink_contact_company(contact["id"], company["id"]):
        raise not_found("Company", "company_not_found")
    return views.company(ws, company)


def tag_contact(ws: Workspace, rt: Runtime, req: Req) -> dict:
    contact = contact_by_id(ws, req.path["contact_id"])
    tag_id = typed(require_body(req), "id", (str,), required=True)
    require(ws.tags.get(tag_id), "Tag", "tag_not_found")
    admin_id = ws.token_admins.get(req.token) or next(iter(ws.admins.by_id))
    entries = ws.contact_tags[contact["id"]]
    if not any(t[0] == tag_id for t in entries):
        entries.append((tag_id, rt.now(), admin_id))
    entry = next(t for t in entries if t[0] == tag_id)
    return views.applied_tag(ws, *entry)


def untag_contact(ws: Workspace, rt: Runtime, req: Req) -> dict:
    contact = contact_by_id(ws, req.path["contact_id"])
    tag_id = req.path["tag_id"]
    tag = require(ws.tags.get(tag_id), "Tag", "tag_not_found")
    entries = ws.contact_tags.get(contact["id"], [])
    if not any(t[0] == tag_id for t in entries):
        raise not_found("Tag", "tag_not_found")
    ws.contact_tags[contact["id"]] = [t for t in entries if t[0] != tag_id]
    return dict(tag)


def attach_subscription(ws: Workspace, rt: Runtime, req: Req) -> dict:
    contact = contact_by_id(ws, req.path["contact_id"])
    body = require_body(req)
    sub = require(ws.subscription_types.get(typed(body, "id", (str,), required=True)), "Subscription type")
    if body.get("consent_type") not in ("opt_in", "opt_out"):
        raise invalid("consent_type must be 'opt_in' or 'opt_out'")
    if sub["id"] not in ws.contact_subscriptions[contact["id"]]:
        ws.contact_subscriptions[contact["id"]].append(sub["id"])
    return sub


def detach_subscription(ws: Workspace, rt: Runtime, req: Req) -> dict:
    contact = contact_by_id(ws, req.path["contact_id"])
    sub = require(ws.subscription_types.get(req.path["subscription_id"]), "Subscription type")
    subs = ws.contact_subscriptions.get(contact["id"], [])
    if sub["id"] in subs:
        subs.remove(sub["id"])
    return sub


def create_note(ws: Workspace, rt: Runtime, req: Req) -> dict:
    contact = contact_by_id(ws, req.path["contact_id"])
    body = require_body(req)
    text = typed(body, "body", (str,), required=True)
    admin = admin_or_404(ws, body.get("admin_id") or ws.token_admins.get(req.token) or next(iter(ws.admins.by_id)))
    note_id = new_numeric_id(ws)
    note = {"type": "note", "id": note_id, "created_at": rt.now(),
            "contact": {"type": "contact", "id": contact["id"]}, "author": admin, "body": f"<p>{text}</p>"}
    ws.notes.add(note_id, note)
    ws.contact_notes[contact["id"]].append(note_id)
    return note
