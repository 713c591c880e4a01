"""Companies (create-or-update by company_id, update, delete) and tags (create/update by name,
tag and untag companies and contacts in bulk, delete)."""
from __future__ import annotations

from intercom_fdw.emulator import views
from intercom_fdw.emulator.apierror import ApiError, invalid
from intercom_fdw.emulator.backend import Req, Runtime, remember_custom_attributes, require, require_body
from intercom_fdw.emulator.backend.companies import company_by_id
from intercom_fdw.emulator.backend.rules import (
    apply_custom_attributes, checked_custom_attributes, new_hex_id, new_numeric_id, typed,
)
from intercom_fdw.emulator.workspace import Workspace

_COMPANY_FIELDS = {"name": (str,), "website": (str,), "industry": (str,), "size": (int,),
                   "monthly_spend": (int, float), "remote_created_at": (int,), "plan": (str,)}


def _apply_company_fields(ws: Workspace, rt: Runtime, company: dict, body: dict) -> None:
    fields = {name: typed(body, name, kinds) for name, kinds in _COMPANY_FIELDS.items() if name in body}
    custom = checked_custom_attributes(ws, "company", body.get("custom_attributes"))
    for name, value in fields.items():
        if value is None:
            continue  # null leaves the stored value as it is
        if name == "plan":
            company["plan"] = {"type": "plan", "id": str(abs(hash(value)) % 10_000), "name": value}
        elif name == "monthly_spend":
            company[name] = int(value)  # Intercom truncates monthly_spend to an integer
        else:
            company[name] = value
    if custom:
        remember_custom_attributes(ws, rt, "company", company)
        apply_custom_attributes(company, custom)
    company["updated_at"] = rt.now()


def create_or_update_company(ws: Workspace, rt: Runtime, req: Req) -> dict:
    body = require_body(req)
    company_id = typed(body, "company_id", (str,))
    existing = ws.companies.get(ws.company_by_company_id.get(company_id, "")) if company_id else None
    if existing is not None:
        _apply_company_fields(ws, rt, existing, body)
        return views.company(ws, existing)
    if not company_id:
        raise ApiError(400, "parameter_not_found", "company_id is required to create a company")
    now = rt.now()
    company = {"type": "company", "id": new_hex_id(ws, 0xC0), "name": "", "app_id": ws.app["id_code"],
               "plan": {}, "company_id": company_id, "remote_created_at": now, "created_at": now,
               "updated_at": now, "last_request_at": now, "size": 0, "website": "", "industry": "",
               "monthly_spend": 0, "session_count": 0, "custom_attributes": {}}
    _apply_company_fields(ws, rt, company, body)
    ws.add_company(company)
    return views.company(ws, company)


def update_company(ws: Workspace, rt: Runtime, req: Req) -> dict:
    company = company_by_id(ws, req.path["company_id"])
    body = require_body(req)
    if "company_id" in body and body["company_id"] != company["company_id"]:
        raise invalid("company_id cannot be changed")
    _apply_company_fields(ws, rt, company, body)
    return views.company(ws, company)


def delete_company(ws: Workspace, rt: Runtime, req: Req) -> dict:
    company = company_by_id(ws, req.path["company_id"])
    for contact_id in list(ws.company_contacts.get(company["id"], ())):
        ws.unlink_contact_company(contact_id, company["id"])
    ws.companies.remove(company["id"])
    ws.company_by_company_id.pop(company["company_id"], None)
    return {"id": company["id"], "object": "company", "deleted": True}


def _tag_named(ws: Workspace, name: str) -> dict:
    tag_id = ws.tag_by_name.get(name)
    if tag_id is None:
        tag_id = new_numeric_id(ws)
        ws.add_tag({"type": "tag", "id": tag_id, "name": name})
    return ws.tags.get(tag_id)


def tag_objects(ws: Workspace, rt: Runtime, req: Req) -> dict:
    """POST /tags: create or rename a tag, or tag/untag companies or users by the tag's name."""
    body = require_body(req)
    name = typed(body, "name", (str,), required=True)
    if "companies" in body:
        return _tag_companies(ws, rt, name, body["companies"])
    if "users" in body:
        return _tag_users(ws, rt, req, name, body["users"])
    if body.get("id"):
        tag = require(ws.tags.get(str(body["id"])), "Tag", "tag_not_found")
        ws.tag_by_name.pop(tag["name"], None)
        tag["name"] = name
        ws.tag_by_name[name] = tag["id"]
        return dict(tag)
    return dict(_tag_named(ws, name))


def _tag_companies(ws: Workspace, rt: Runtime, name: str, targets) -> dict:
    if not isinstance(targets, list):
        raise invalid("companies must be an array")
    found = []
    for target in targets:
        if not isinstance(target, dict):
            raise invalid("each company must be an object with id or company_id")
        company = ws.companies.get(str(target.get("id", ""))) or ws.companies.get(
            ws.company_by_company_id.get(str(target.get("company_id", "")), ""))
        if company is None:
            raise ApiError(404, "company_not_found", "Company Not Found")
        found.append((company, bool(target.get("untag"))))
    tag = _tag_named(ws, name)
    for company, untag in found:
        tags = ws.company_tags[company["id"]]
        if untag and tag["id"] in tags:
            tags.remove(tag["id"])
        elif not untag and tag["id"] not in tags:
            tags.append(tag["id"])
    return dict(tag)


def _tag_users(ws: Workspace, rt: Runtime, req: Req, name: str, targets) -> dict:
    if not isinstance(targets, list):
        raise invalid("users must be an array")
    contacts = []
    for target in targets:
        contact = ws.contacts.get(str((target or {}).get("id", ""))) if isinstance(target, dict) else None
        if contact is None:
            raise ApiError(404, "not_found", "User Not Found")
        contacts.append(contact)
    tag = _tag_named(ws, name)
    admin_id = ws.token_admins.get(req.token) or next(iter(ws.admins.by_id))
    for contact in contacts:
        entries = ws.contact_tags[contact["id"]]
        if not any(t[0] == tag["id"] for t in entries):
            entries.append((tag["id"], rt.now(), admin_id))
    return dict(tag)


def delete_tag(ws: Workspace, rt: Runtime, req: Req):
    tag = require(ws.tags.get(req.path["tag_id"]), "Resource", "tag_not_found")
    in_use = any(any(t[0] == tag["id"] for t in entries) for entries in ws.contact_tags.values()) or any(
        tag["id"] in tags for tags in ws.company_tags.values())
    if in_use:
        raise ApiError(400, "tag_has_dependent_objects", "Unable to delete Tag with dependent objects")
    ws.tags.remove(tag["id"])
    ws.tag_by_name.pop(tag["name"], None)
    return None  # 200 with an empty body
