"""Conversations and their parts."""
from intercom_fdw.objects._columns import LOOSE_CUSTOM_SEARCH_KINDS
from intercom_fdw.spec import (
    CREATED_AFTER_EPOCH, CustomFields, Endpoint, MemberFilter, ObjectSpec, Partitioning, ParentKey, Requirement, SearchField,
    WriteField, WriteOperation, WriteRules, boolean, filter_column, integer, jsonb, parent_key, search_orderings,
    text, timestamp,
)

_STAT_DURATIONS = ("time_to_assignment", "time_to_admin_reply", "time_to_first_close", "time_to_last_close",
                   "median_time_to_reply")
_STAT_TIMES = ("first_contact_reply_at", "first_assignment_at", "first_admin_reply_at", "first_close_at",
               "last_assignment_at", "last_assignment_admin_reply_at", "last_contact_reply_at",
               "last_admin_reply_at", "last_close_at")
_STAT_COUNTS = ("count_reopens", "count_assignments", "count_conversation_parts")
_SOURCE_TEXT = ("type", "id", "delivered_as", "subject", "body", "url")
_AUTHOR_TEXT = ("type", "id", "name", "email")

COLUMNS = (
    text("id"), text("title"), timestamp("created_at"), timestamp("updated_at"), timestamp("waiting_since"),
    timestamp("snoozed_until"), boolean("open"), text("state"), boolean("read"), text("priority"),
    text("admin_assignee_id"), text("team_assignee_id"),
    jsonb("tags", "tags.tags"),
    integer("conversation_rating_rating", "conversation_rating.rating"),
    text("conversation_rating_remark", "conversation_rating.remark"),
    timestamp("conversation_rating_created_at", "conversation_rating.created_at"),
    text("conversation_rating_contact_id", "conversation_rating.contact.id"),
    text("conversation_rating_teammate_id", "conversation_rating.teammate.id"),
) + tuple(text(f"source_{f}", f"source.{f}") for f in _SOURCE_TEXT) + tuple(
    text(f"source_author_{f}", f"source.author.{f}") for f in _AUTHOR_TEXT
) + (
    boolean("source_redacted", "source.redacted"), jsonb("source_attachments", "source.attachments"),
    jsonb("contacts", "contacts.contacts"), jsonb("teammates", "teammates.teammates"),
    jsonb("custom_attributes"),
    timestamp("first_contact_reply_created_at", "first_contact_reply.created_at"),
    text("first_contact_reply_type", "first_contact_reply.type"),
    text("first_contact_reply_url", "first_contact_reply.url"),
    text("sla_applied_sla_name", "sla_applied.sla_name"), text("sla_applied_sla_status", "sla_applied.sla_status"),
) + tuple(integer(f"statistics_{f}", f"statistics.{f}") for f in _STAT_DURATIONS) + tuple(
    timestamp(f"statistics_{f}", f"statistics.{f}") for f in _STAT_TIMES
) + (text("statistics_last_closed_by_id", "statistics.last_closed_by_id"),) + tuple(
    integer(f"statistics_{f}", f"statistics.{f}") for f in _STAT_COUNTS
) + (
    integer("statistics_handling_time", "statistics.handling_time"),
    jsonb("linked_objects", "linked_objects.data"),
    boolean("ai_agent_participated"),
    text("ai_agent_source_type", "ai_agent.source_type"), text("ai_agent_source_title", "ai_agent.source_title"),
    text("ai_agent_last_answer_type", "ai_agent.last_answer_type"),
    text("ai_agent_resolution_state", "ai_agent.resolution_state"),
    integer("ai_agent_rating", "ai_agent.rating"), text("ai_agent_rating_remark", "ai_agent.rating_remark"),
)

# The accepted fields of POST /conversations/search (OpenAPI description). Its > and < on integers
# are documented as "(or equal)", hence "integer_loose".
SEARCH_FIELDS = (
    (SearchField("id", "id", "id"), SearchField("created_at", "created_at", "date"),
     SearchField("updated_at", "updated_at", "date"), SearchField("waiting_since", "waiting_since", "date"),
     SearchField("snoozed_until", "snoozed_until", "date"),
     SearchField("admin_assignee_id", "admin_assignee_id", "integer_loose"),
     SearchField("team_assignee_id", "team_assignee_id", "integer_loose"),
     SearchField("open", "open", "boolean"), SearchField("read", "read", "boolean"),
     SearchField("state", "state", "string"), SearchField("priority", "priority", "string"),
     SearchField("ai_agent_participated", "ai_agent_participated", "boolean"),
     SearchField("conversation_rating_remark", "conversation_rating.remark", "string"),
     SearchField("conversation_rating_contact_id", "conversation_rating.contact_id", "id"))
    + tuple(SearchField(f"source_{f}", f"source.{f}", "words" if f == "body" else "string") for f in _SOURCE_TEXT)
    + tuple(SearchField(f"source_author_{f}", f"source.author.{f}", "string") for f in _AUTHOR_TEXT)
    + tuple(SearchField(f"statistics_{f}", f"statistics.{f}", "integer_loose") for f in _STAT_DURATIONS + _STAT_COUNTS)
    + tuple(SearchField(f"statistics_{f}", f"statistics.{f}", "date") for f in _STAT_TIMES)
    + (SearchField("statistics_last_closed_by_id", "statistics.last_closed_by_id", "id"),)
    + tuple(SearchField(f"ai_agent_{f}", f"ai_agent.{f}", "string")
            for f in ("resolution_state", "last_answer_type", "rating_remark", "source_type", "source_title"))
    + (SearchField("ai_agent_rating", "ai_agent.rating", "integer_loose"),)
)

# POST /conversations starts a conversation from a contact ("from": {type, id}) and answers with
# the first message, which names the conversation: the row returned is read back by id.
CONVERSATION_WRITES = WriteRules(
    insert=WriteOperation(
        "POST", "/conversations",
        (WriteField("source_author_type", "from.type"), WriteField("source_author_id", "from.id"),
         WriteField("source_body", "body"), WriteField("source_subject", "subject")),
        required=(
            Requirement(("source_author_type",), "source_author_type is Intercom's from.type: the kind of contact "
                        "who starts the conversation", ("user", "lead", "contact")),
            Requirement(("source_author_id",), "set source_author_id (Intercom's from.id), the contact's id"),
            Requirement(("source_body",), "set source_body (Intercom's body), the first message"),
        ),
        result_id="conversation_id",
    ),
    update=WriteOperation("PUT", "/conversations/{id}", (WriteField("title"), WriteField("read")),
                          custom_fields=True),
)

CONVERSATIONS = ObjectSpec(
    table="conversations",
    # tag_id, contact_id and teammate_id are filter columns (spec.MemberFilter) for the search's
    # list fields tag_ids, contact_ids and teammate_ids: `WHERE contact_id = 'x'` gives the
    # conversations x takes part in.
    columns=COLUMNS + (filter_column("tag_id"), filter_column("contact_id"), filter_column("teammate_id")),
    list=Endpoint("GET", "/conversations", "cursor", "conversations", per_page_cap=150),
    get=Endpoint("GET", "/conversations/{id}", items_key=None),
    search=Endpoint("POST", "/conversations/search", "search", "conversations", per_page_cap=150),
    search_fields=SEARCH_FIELDS + (SearchField("tag_id", "tag_ids", "member"),
                                   SearchField("contact_id", "contact_ids", "member"),
                                   SearchField("teammate_id", "teammate_ids", "member")),
    member_filters=(MemberFilter("tag_id", "tags.tags"), MemberFilter("contact_id", "contacts.contacts"),
                    MemberFilter("teammate_id", "teammates.teammates")),
    partitioning=Partitioning(),  # created_at never changes; compared to the second
    match_all=CREATED_AFTER_EPOCH,
    orderings=search_orderings("created_at", "updated_at"),
    # Searched as custom_attributes.<name> like contacts' (as the product's design says, and the emulator; the 2.14
    # file's conversation field table does not list custom attributes).
    custom_fields=CustomFields("custom_attributes", "custom_attribute", "data_attributes", model="conversation",
                               search_field="custom_attributes.{custom_attribute}",
                               search_kinds=LOOSE_CUSTOM_SEARCH_KINDS),
    row_estimate=10000,
    writes=CONVERSATION_WRITES,
)

# List and search leave the parts out; GET /conversations/{id} holds up to 500 of them.
CONVERSATION_PARTS = ObjectSpec(
    table="conversation_parts",
    columns=(
        parent_key("conversation_id"), text("id"), text("part_type"), text("body"), timestamp("created_at"),
        timestamp("updated_at"), timestamp("notified_at"), text("assigned_to_type", "assigned_to.type"),
        text("assigned_to_id", "assigned_to.id"), text("author_type", "author.type"), text("author_id", "author.id"),
        text("author_name", "author.name"), text("author_email", "author.email"),
        jsonb("attachments"), text("external_id"), boolean("redacted"), text("state"), jsonb("tags"),
    ),
    parent=ParentKey("conversation_id", parent="conversations", path_param="conversation_id"),
    list=Endpoint("GET", "/conversations/{conversation_id}", "none", "conversation_parts.conversation_parts"),
    row_estimate=20,
)

SPECS = (CONVERSATIONS, CONVERSATION_PARTS)
