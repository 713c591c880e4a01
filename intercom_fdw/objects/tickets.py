"""Tickets (no list endpoint: every scan is a search), ticket types, their attributes and ticket states."""
from intercom_fdw.objects._columns import LOOSE_CUSTOM_SEARCH_KINDS
from intercom_fdw.spec import (
    CREATED_AFTER_EPOCH, CustomFields, Endpoint, MemberFilter, ObjectSpec, Partitioning, ParentKey, Requirement, SearchField,
    WriteField, WriteOperation, WriteRules, boolean, filter_column, integer, jsonb, parent_key, search_orderings,
    text, timestamp,
)

# Ticket-type tables fill ticket_attributes from their own columns (custom fields) and take
# ticket_type_id from their table option (spec.table_filters).
_TICKET_TEXT = (WriteField("title"), WriteField("description"))
TICKET_WRITES = WriteRules(
    insert=WriteOperation(
        "POST", "/tickets",
        _TICKET_TEXT + (WriteField("ticket_type_id", "ticket_type_id"), WriteField("contacts", "contacts"),
                        WriteField("admin_assignee_id", "assignment.admin_assignee_id")),
        custom_fields=True,
        required=(Requirement(("ticket_type_id",), "set ticket_type_id (or insert into a ticket-type table)"),
                  Requirement(("contacts",), "set contacts, e.g. '[{\"id\": \"<contact id>\"}]'::jsonb")),
    ),
    update=WriteOperation(
        "PUT", "/tickets/{id}",
        _TICKET_TEXT + (WriteField("ticket_state_id", "ticket_state_id"), WriteField("open"), WriteField("is_shared"),
                        WriteField("snoozed_until"), WriteField("admin_assignee_id", "assignee_id")),
        custom_fields=True,
    ),
)

TICKETS = ObjectSpec(
    table="tickets",
    columns=(
        text("id"), text("ticket_id"), text("category"),
        text("title", "ticket_attributes._default_title_"),
        text("description", "ticket_attributes._default_description_"),
        text("ticket_state_id", "ticket_state.id"), text("ticket_state_category", "ticket_state.category"),
        text("ticket_state_internal_label", "ticket_state.internal_label"),
        text("ticket_state_external_label", "ticket_state.external_label"),
        text("ticket_type_id", "ticket_type.id"), text("ticket_type_name", "ticket_type.name"),
        jsonb("contacts", "contacts.contacts"), text("admin_assignee_id"), text("team_assignee_id"),
        timestamp("created_at"), timestamp("updated_at"), boolean("open"), timestamp("snoozed_until"),
        boolean("is_shared"), jsonb("linked_objects", "linked_objects.data"), jsonb("ticket_attributes"),
        # a filter column (spec.MemberFilter) for the search's contact_ids: the tickets of contact x
        filter_column("contact_id"),
    ),
    get=Endpoint("GET", "/tickets/{id}", items_key=None),
    search=Endpoint("POST", "/tickets/search", "search", "tickets", per_page_cap=150),
    # The search that stands in for the missing list.
    partitioning=Partitioning(),  # created_at never changes; compared to the second
    match_all=CREATED_AFTER_EPOCH,
    search_fields=(
        SearchField("id", "id", "id"), SearchField("created_at", "created_at", "date"),
        SearchField("updated_at", "updated_at", "date"), SearchField("snoozed_until", "snoozed_until", "date"),
        SearchField("title", "title", "string"), SearchField("description", "description", "string"),
        # The search spells categories differently from the objects (OpenAPI: "Searching by Category").
        SearchField("category", "category", "id",
                    values={"Customer": "request", "Back-office": "task", "Tracker": "tracker"}), SearchField("ticket_type_id", "ticket_type_id", "id"),
        SearchField("admin_assignee_id", "admin_assignee_id", "id"),
        SearchField("team_assignee_id", "team_assignee_id", "id"), SearchField("open", "open", "boolean"),
        SearchField("contact_id", "contact_ids", "member"),
    ),
    member_filters=(MemberFilter("contact_id", "contacts.contacts"),),
    # A ticket-type table (IMPORT FOREIGN SCHEMA makes one per type) carries ticket_type_id as a
    # table option; it is pushed into every search.
    table_filters={"ticket_type_id": "ticket_type_id"},
    orderings=search_orderings("created_at", "updated_at"),
    # The ticket search names an attribute by id (OpenAPI: ticket_attribute.{id}); IMPORT FOREIGN
    # SCHEMA records it as the column option attribute_id.
    custom_fields=CustomFields("ticket_attributes", "ticket_attribute", "ticket_types",
                               per_row=("ticket_type_attributes", "ticket_type_attributes"), dates_read_only=True,
                               search_field="ticket_attribute.{attribute_id}", search_kinds=LOOSE_CUSTOM_SEARCH_KINDS),
    row_estimate=5000,
    writes=TICKET_WRITES,
)

_TICKET_TYPE_FIELDS = (WriteField("name"), WriteField("description"), WriteField("category"), WriteField("icon"))

TICKET_TYPES = ObjectSpec(
    table="ticket_types",
    columns=(
        text("id"), text("category"), text("name"), text("description"), text("icon"), text("workspace_id"),
        jsonb("ticket_type_attributes", "ticket_type_attributes.ticket_type_attributes"),
        jsonb("ticket_states", "ticket_states.data"), boolean("archived"),
        timestamp("created_at"), timestamp("updated_at"),
    ),
    list=Endpoint("GET", "/ticket_types", "unpaged", "data"),
    get=Endpoint("GET", "/ticket_types/{id}", items_key=None),
    row_estimate=10,
    writes=WriteRules(
        insert=WriteOperation("POST", "/ticket_types", _TICKET_TYPE_FIELDS,
                              required=(Requirement(("name",), "set name, the ticket type's name"),)),
        update=WriteOperation("PUT", "/ticket_types/{id}", _TICKET_TYPE_FIELDS + (WriteField("archived"),)),
    ),
)

TICKET_TYPE_ATTRIBUTES = ObjectSpec(
    table="ticket_type_attributes",
    columns=(
        parent_key("ticket_type_id"), text("id"), text("workspace_id"), text("name"), text("description"),
        text("data_type"), jsonb("input_options"), integer("order"), boolean("required_to_create"),
        boolean("required_to_create_for_contacts"), boolean("visible_on_create"), boolean("visible_to_contacts"),
        boolean("default"), boolean("archived"), timestamp("created_at"), timestamp("updated_at"),
    ),
    # GET /ticket_types embeds every type's attributes: a full scan is that one call.
    parent=ParentKey("ticket_type_id", parent="ticket_types", path_param="ticket_type_id",
                     embedded="ticket_type_attributes.ticket_type_attributes"),
    list=Endpoint("GET", "/ticket_types/{ticket_type_id}", "none", "ticket_type_attributes.ticket_type_attributes"),
    row_estimate=10,
)

TICKET_STATES = ObjectSpec(
    table="ticket_states",
    columns=(
        text("id"), text("category"), text("internal_label"), text("external_label"), boolean("archived"),
        jsonb("ticket_types", "ticket_types.data"),
    ),
    list=Endpoint("GET", "/ticket_states", "unpaged", "data"),
    row_estimate=10,
)

SPECS = (TICKETS, TICKET_TYPES, TICKET_TYPE_ATTRIBUTES, TICKET_STATES)
