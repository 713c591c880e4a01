"""Intercom's actions, one declarative description each (request bodies checked against the
OpenAPI file for API version 2.14, shared/intercom-openapi/api.intercom.io.2.14.yaml).

Adding an action means adding an entry here and regenerating the extension script
(`python -m intercom_fdw.actions.sqlgen > sql/intercom_fdw--0.1.0.sql`).
"""
from __future__ import annotations

from intercom_fdw.actions.vocabulary import (
    Action, Arg, Param, Unknown, at_most_keys, comma_delimited_items, in_future, integer_id, string_values,
)

# Intercom's event metadata limit (intercom-api-notes.md, "Events").
EVENT_METADATA_MAX_KEYS = 10


def _flag(name: str, default: str = "NULL") -> Param:
    return Param(name, "boolean", default)


# What Intercom answers when an id names nothing (404s of the OpenAPI file, "Admin not found" as
# Intercom and the emulator answer an admin_id that is no admin), told as the argument it is about.
_admin_id = Param("admin_id", unknown=Unknown(
    codes=("admin_not_found",), messages=("admin not found",), is_not="an admin of this workspace",
    hint="pass the id of an admin (SELECT id, name FROM intercom.admins); name the arguments "
         "(admin_id => ..., tag_id => ...) so that none takes another's place"))
_conversation_id = Param("conversation_id", unknown=Unknown(
    messages=("conversation not found", "resource not found"), is_not="a conversation of this workspace",
    hint="pass the id of a conversation (SELECT id FROM intercom.conversations)"))


def _tag_id(is_not: str) -> Param:
    return Param("tag_id", unknown=Unknown(
        codes=("tag_not_found",), messages=("tag not found",), is_not=is_not,
        hint="pass the id of a tag (SELECT id, name FROM intercom.tags); name the arguments "
             "(admin_id => ..., tag_id => ...) so that none takes another's place"))
_parts = "/conversations/{conversation_id}/parts"

# Every request that adds a conversation part (a reply, close, snooze, open, assignment) is not
# idempotent: a second send adds a second part.

def _message_params(subject_and_template_needed: bool) -> tuple:
    # Intercom needs a subject and a template for email only (create_message_request's anyOf).
    optional = not subject_and_template_needed
    return (
        Param("subject", nullable=optional),
        Param("body"),
        Param("template", nullable=optional, choices=("plain", "personal")),
        Param("from_id", to_api=integer_id, to_api_hint="pass the admin's numeric id, as in admins.id"),
        Param("to_type", choices=("user", "lead")),
        Param("to_id"),
    )


def _message_body(message_type: str) -> dict:
    # Requests spell in-app messages `in_app`; responses spell them `inapp` (intercom-api-notes.md).
    return {
        "message_type": message_type,
        "subject": Arg("subject"),
        "body": Arg("body"),
        "template": Arg("template"),
        "from": {"type": "admin", "id": Arg("from_id")},
        "to": {"type": Arg("to_type"), "id": Arg("to_id")},
    }


_ATTRIBUTE_FLAGS = (
    "required_to_create", "required_to_create_for_contacts", "visible_on_create", "visible_to_contacts",
    "multiline", "allow_multiple_values",
)

# Last in both signatures, so that calls written before it existed still mean what they meant.
_list_items = Param("list_items", default="NULL", rules=(comma_delimited_items,))


def _list_items_for_list_attributes(arguments):
    # Intercom answers 400 "list_items is required" for a list attribute without them; the OpenAPI
    # file says they apply only to list attributes.
    if arguments["data_type"] == "list" and arguments["list_items"] is None:
        return ("list_items", "is required when data_type is list",
                "pass the items separated by commas, like list_items => 'Low,Medium,High'")
    if arguments["data_type"] != "list" and arguments["list_items"] is not None:
        return ("list_items", f"applies only to data_type list, not {arguments['data_type']}",
                "leave list_items out, or use data_type 'list'")
    return None


ACTIONS = (
    Action(
        name="archive_contact",
        summary="Archive a contact (POST /contacts/{id}/archive).",
        method="POST", path="/contacts/{id}/archive",
        params=(Param("id"),),
        idempotent=True,  # archiving an archived contact changes nothing and answers the same
    ),
    Action(
        name="unarchive_contact",
        summary="Unarchive a contact (POST /contacts/{id}/unarchive).",
        method="POST", path="/contacts/{id}/unarchive",
        params=(Param("id"),),
        idempotent=True,
    ),
    Action(
        name="contact_reply_to_conversation",
        summary="Reply to a conversation as a contact (POST /conversations/{id}/reply).",
        method="POST", path="/conversations/{conversation_id}/reply",
        params=(_conversation_id, Param("intercom_user_id"), Param("body")),
        body={"message_type": "comment", "type": "user",
              "intercom_user_id": Arg("intercom_user_id"), "body": Arg("body")},
    ),
    Action(
        name="admin_reply_to_conversation",
        summary="Reply to a conversation or add a note as an admin (POST /conversations/{id}/reply).",
        method="POST", path="/conversations/{conversation_id}/reply",
        params=(_conversation_id, Param("message_type", choices=("comment", "note")), _admin_id, Param("body")),
        body={"message_type": Arg("message_type"), "type": "admin",
              "admin_id": Arg("admin_id"), "body": Arg("body")},
    ),
    Action(
        name="add_tag_to_conversation",
        summary="Tag a conversation (POST /conversations/{id}/tags).",
        method="POST", path="/conversations/{conversation_id}/tags",
        params=(_conversation_id, _admin_id, _tag_id("a tag of this workspace")),
        body={"id": Arg("tag_id"), "admin_id": Arg("admin_id")},
        idempotent=True,  # a tag is applied at most once
    ),
    Action(
        name="remove_tag_from_conversation",
        summary="Remove a tag from a conversation (DELETE /conversations/{id}/tags/{tag_id}).",
        method="DELETE", path="/conversations/{conversation_id}/tags/{tag_id}",
        params=(_conversation_id, _tag_id("a tag of this conversation"), _admin_id),
        # Intercom's DELETE takes a JSON body (intercom-api-notes.md).
        body={"admin_id": Arg("admin_id")},
        # Not retried: after a first send that went through, a second answers 404 "tag not found"
        # and the caller would see an error for an action that succeeded.
        idempotent=False,
    ),
    Action(
        name="close_conversation",
        summary="Close a conversation (POST /conversations/{id}/parts, message_type close).",
        method="POST", path=_parts,
        params=(_conversation_id, _admin_id),
        body={"message_type": "close", "type": "admin", "admin_id": Arg("admin_id")},
    ),
    Action(
        name="snooze_conversation",
        summary="Snooze a conversation until snoozed_until, by default one day from now "
                "(POST /conversations/{id}/parts, message_type snoozed).",
        method="POST", path=_parts,
        params=(_conversation_id, _admin_id,
                Param("snoozed_until", "timestamptz", "now() + interval '1 day'", rules=(in_future,))),
        body={"message_type": "snoozed", "admin_id": Arg("admin_id"), "snoozed_until": Arg("snoozed_until")},
    ),
    Action(
        name="open_conversation",
        summary="Open a closed or snoozed conversation (POST /conversations/{id}/parts, message_type open).",
        method="POST", path=_parts,
        params=(_conversation_id, _admin_id),
        body={"message_type": "open", "admin_id": Arg("admin_id")},
    ),
    Action(
        name="assign_conversation",
        summary="Assign a conversation to an admin or a team; assignee_id '0' unassigns "
                "(POST /conversations/{id}/parts, message_type assignment).",
        method="POST", path=_parts,
        params=(_conversation_id, Param("type", choices=("admin", "team")), _admin_id, Param("assignee_id")),
        body={"message_type": "assignment", "type": Arg("type"),
              "admin_id": Arg("admin_id"), "assignee_id": Arg("assignee_id")},
    ),
    Action(
        name="convert_conversation_to_ticket",
        summary="Convert a conversation into a ticket of a ticket type (POST /conversations/{id}/convert).",
        method="POST", path="/conversations/{conversation_id}/convert",
        params=(_conversation_id, Param("ticket_type_id")),
        body={"ticket_type_id": Arg("ticket_type_id")},
    ),
    Action(
        name="submit_event",
        summary="Submit a data event for a contact (POST /events). Intercom answers 202 without a body.",
        method="POST", path="/events",
        params=(Param("event_name"), Param("created_at", "timestamptz"), Param("id"),
                Param("metadata", "jsonb", "NULL",
                      rules=(at_most_keys(EVENT_METADATA_MAX_KEYS, "metadata"),),
                      to_api=string_values,
                      to_api_hint="metadata values must be strings, numbers or booleans")),
        body={"event_name": Arg("event_name"), "created_at": Arg("created_at"),
              "id": Arg("id"), "metadata": Arg("metadata")},
        empty_response={"accepted": True},
        target="id",  # the contact's
    ),
    Action(
        name="create_email_message",
        summary="Send an email message from an admin to a user or lead (POST /messages, message_type email).",
        method="POST", path="/messages",
        params=_message_params(subject_and_template_needed=True),
        body=_message_body("email"),
        target="to_id",
    ),
    Action(
        name="create_in_app_message",
        summary="Send an in-app message from an admin to a user or lead; subject and template may be NULL "
                "(POST /messages, message_type in_app).",
        method="POST", path="/messages",
        params=_message_params(subject_and_template_needed=False),
        body=_message_body("in_app"),
        target="to_id",
    ),
    Action(
        name="create_ticket_type_attribute",
        summary="Add an attribute to a ticket type (POST /ticket_types/{id}/attributes).",
        method="POST", path="/ticket_types/{ticket_type_id}/attributes",
        params=(
            Param("ticket_type_id"), Param("name"), Param("description"),
            Param("data_type", choices=("string", "list", "integer", "decimal", "boolean", "datetime", "files")),
            _flag("required_to_create", "false"), _flag("required_to_create_for_contacts", "false"),
            _flag("visible_on_create", "true"), _flag("visible_to_contacts", "true"),
            _flag("multiline"), _flag("allow_multiple_values"), _list_items,
        ),
        body={"name": Arg("name"), "description": Arg("description"), "data_type": Arg("data_type"),
              **{flag: Arg(flag) for flag in _ATTRIBUTE_FLAGS}, "list_items": Arg("list_items")},
        checks=(_list_items_for_list_attributes,),
    ),
    Action(
        name="update_ticket_type_attribute",
        summary="Change or archive an attribute of a ticket type; NULL arguments are left unchanged "
                "(PUT /ticket_types/{id}/attributes/{attribute_id}).",
        method="PUT", path="/ticket_types/{ticket_type_id}/attributes/{attribute_id}",
        params=(
            Param("ticket_type_id"), Param("attribute_id"),
            Param("name", default="NULL"), Param("description", default="NULL"),
            *(_flag(flag) for flag in _ATTRIBUTE_FLAGS), _flag("archived"), _list_items,
        ),
        body={"name": Arg("name"), "description": Arg("description"),
              **{flag: Arg(flag) for flag in (*_ATTRIBUTE_FLAGS, "archived")}, "list_items": Arg("list_items")},
        idempotent=True,  # PUT of the same values
        target="attribute_id",
    ),
)

ACTIONS_BY_NAME = {action.name: action for action in ACTIONS}
