"""The searchable fields of contacts, conversations and tickets (tables in the OpenAPI file).

A reader gets (stored object, context); the context (backend.SearchContext) gives the relations that
are not inside the object (a contact's tags and segments) and the custom attributes as list/search
currently see them (eventual consistency).
"""
from __future__ import annotations

import html
import re
from typing import Any, Optional

from intercom_fdw.emulator.search import (
    BOOLEAN, CONTACT_OPERATORS, CONVERSATION_OPERATORS, DATE, FLOAT, INTEGER, MEMBERSHIP, STRING, WORDS,
    Field, SearchSchema, path_reader,
)

# Data attribute types (GET /data_attributes) -> search field types.
_DATA_TYPE_TO_FIELD = {"string": STRING, "integer": INTEGER, "float": FLOAT, "boolean": BOOLEAN,
                       "date": DATE, "datetime": DATE, "options": STRING}
# Ticket type attribute types -> search field types.
_TICKET_ATTRIBUTE_TO_FIELD = {"string": STRING, "list": STRING, "integer": INTEGER, "decimal": FLOAT,
                              "boolean": BOOLEAN, "datetime": DATE}


def _fields(**spec) -> dict:
    return {name.replace("__", "."): Field(kind, path_reader(name.replace("__", ".")))
            for name, kind in spec.items()}


def _custom_attribute_field(model: str):
    def resolve(name: str, context: Any) -> Optional[Field]:
        data_type = context.custom_types(model).get(name)
        if data_type is None:
            return None
        return Field(_DATA_TYPE_TO_FIELD[data_type],
                     lambda obj, ctx: ctx.custom_attributes(model, obj).get(name))
    return resolve


CONTACT_SEARCH = SearchSchema(
    name="contact",
    fields={
        **_fields(id=STRING, role=STRING, name=STRING, owner_id=INTEGER, email=STRING, email_domain=STRING,
                  phone=STRING, external_id=STRING, created_at=DATE, signed_up_at=DATE, updated_at=DATE,
                  last_seen_at=DATE, last_contacted_at=DATE, last_replied_at=DATE, last_email_opened_at=DATE,
                  last_email_clicked_at=DATE, language_override=STRING, browser=STRING, browser_language=STRING,
                  os=STRING, location__country=STRING, location__region=STRING, location__city=STRING,
                  unsubscribed_from_emails=BOOLEAN, marked_email_as_spam=BOOLEAN, has_hard_bounced=BOOLEAN,
                  ios_last_seen_at=DATE, ios_app_version=STRING, ios_device=STRING, ios_os_version=STRING,
                  ios_app_name=STRING, ios_sdk_version=STRING, android_last_seen_at=DATE,
                  android_app_version=STRING, android_device=STRING, android_app_name=STRING,
                  android_sdk_version=STRING),
        # Spelled so in Intercom's own field table (OpenAPI file); accepted as written there.
        "ios_app_device": Field(STRING, path_reader("ios_device")),
        "andoid_sdk_version": Field(STRING, path_reader("android_sdk_version")),
        "avatar": Field(STRING, lambda obj, _c: (obj.get("avatar") or {}).get("image_url")),
        "tag_id": Field(MEMBERSHIP, lambda obj, ctx: ctx.contact_tag_ids(obj["id"])),
        # segment_id is a String in Intercom's table; membership with the equality operators.
        "segment_id": Field(MEMBERSHIP, lambda obj, ctx: ctx.ws.contact_segments.get(obj["id"], ()),
                            extra_operators=frozenset(["IN", "NIN"])),
    },
    operators=CONTACT_OPERATORS,
    dynamic={"custom_attributes": _custom_attribute_field("contact")},
    default_per_page=50,
)


def _words(obj, _ctx):
    # "the search will not be performed against the entire value, but instead against every element
    # of the value separately" (OpenAPI, conversation search): the elements are taken to be the
    # words of the text, markup and entities removed (Intercom does not say how it splits).
    body = ((obj.get("source") or {}).get("body") or "")
    return [word for word in _WORD_SPLIT.split(html.unescape(_TAG.sub(" ", body))) if word]


_TAG = re.compile(r"<[^>]*>")
_WORD_SPLIT = re.compile(r"\W+")


CONVERSATION_SEARCH = SearchSchema(
    name="conversation",
    fields={
        **_fields(id=STRING, created_at=DATE, updated_at=DATE, source__type=STRING, source__id=STRING,
                  source__delivered_as=STRING, source__subject=STRING, source__author__id=STRING,
                  source__author__type=STRING, source__author__name=STRING, source__author__email=STRING,
                  source__url=STRING, admin_assignee_id=INTEGER, team_assignee_id=INTEGER, open=BOOLEAN,
                  read=BOOLEAN, state=STRING, waiting_since=DATE, snoozed_until=DATE, priority=STRING,
                  statistics__time_to_assignment=INTEGER, statistics__time_to_admin_reply=INTEGER,
                  statistics__time_to_first_close=INTEGER, statistics__time_to_last_close=INTEGER,
                  statistics__median_time_to_reply=INTEGER, statistics__first_contact_reply_at=DATE,
                  statistics__first_assignment_at=DATE, statistics__first_admin_reply_at=DATE,
                  statistics__first_close_at=DATE, statistics__last_assignment_at=DATE,
                  statistics__last_assignment_admin_reply_at=DATE, statistics__last_contact_reply_at=DATE,
                  statistics__last_admin_reply_at=DATE, statistics__last_close_at=DATE,
                  statistics__last_closed_by_id=STRING, statistics__count_reopens=INTEGER,
                  statistics__count_assignments=INTEGER, statistics__count_conversation_parts=INTEGER,
                  ai_agent_participated=BOOLEAN, conversation_rating__requested_at=DATE,
                  conversation_rating__replied_at=DATE, conversation_rating__score=INTEGER,
                  conversation_rating__remark=STRING, conversation_rating__contact_id=STRING,
                  conversation_rating__admin_d=STRING, ai_agent__resolution_state=STRING,
                  ai_agent__last_answer_type=STRING, ai_agent__rating=INTEGER, ai_agent__rating_remark=STRING,
                  ai_agent__source_type=STRING, ai_agent__source_title=STRING),
        "source.body": Field(WORDS, _words),
        "contact_ids": Field(MEMBERSHIP, lambda obj, _c: [c["id"] for c in obj["contacts"]["contacts"]]),
        "teammate_ids": Field(MEMBERSHIP, lambda obj, _c: [t["id"] for t in obj["teammates"]["teammates"]]),
        "tag_ids": Field(MEMBERSHIP, lambda obj, _c: [t["id"] for t in obj["tags"]["tags"]]),
        "channel_initiated": Field(STRING, lambda obj, _c: (obj.get("source") or {}).get("delivered_as")),
    },
    operators=CONVERSATION_OPERATORS,
    dynamic={"custom_attributes": _custom_attribute_field("conversation")},
    default_per_page=20,
)


def _ticket_attribute_field(attribute_id: str, context: Any) -> Optional[Field]:
    found = context.ticket_attribute(attribute_id)
    if found is None:
        return None
    name, data_type = found
    return Field(_TICKET_ATTRIBUTE_TO_FIELD.get(data_type, STRING),
                 lambda obj, _c: obj["ticket_attributes"].get(name))


# Ticket search takes these terms for `category` (OpenAPI file, "Searching by Category").
_TICKET_CATEGORY_TERMS = {"request": "Customer", "task": "Back-office", "tracker": "Tracker"}

TICKET_SEARCH = SearchSchema(
    name="ticket",
    fields={
        **_fields(id=STRING, updated_at=DATE, admin_assignee_id=STRING, team_assignee_id=STRING, open=BOOLEAN,
                  snoozed_until=DATE),
        "created_at": Field(DATE, path_reader("created_at"), extra_operators=frozenset([">=", "<="])),
        "title": Field(STRING, lambda obj, _c: obj["ticket_attributes"].get("_default_title_")),
        "description": Field(STRING, lambda obj, _c: obj["ticket_attributes"].get("_default_description_")),
        "category": Field(STRING, path_reader("category"), value_map=_TICKET_CATEGORY_TERMS),
        "ticket_type_id": Field(STRING, lambda obj, _c: obj["ticket_type"]["id"]),
        "state": Field(STRING, lambda obj, _c: obj["ticket_state"]["category"]),
        "contact_ids": Field(MEMBERSHIP, lambda obj, _c: [c["id"] for c in obj["contacts"]["contacts"]]),
        "teammate_ids": Field(MEMBERSHIP, lambda obj, _c: [obj["admin_assignee_id"]]
                              if obj["admin_assignee_id"] != "0" else []),
    },
    operators=CONVERSATION_OPERATORS,
    dynamic={"ticket_attribute": _ticket_attribute_field},
    default_per_page=20,
)
