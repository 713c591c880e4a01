"""Workspace-wide lists: data attributes, segments, tags, subscription types."""
from intercom_fdw.objects._columns import SEGMENT_COLUMNS, SUBSCRIPTION_TYPE_COLUMNS
from intercom_fdw.spec import (
    Endpoint, ObjectSpec, ParentKey, Requirement, WriteField, WriteOperation, WriteRules, boolean, jsonb, text,
    timestamp,
)

# One call per model: GET /data_attributes?model=contact|company|conversation.
DATA_ATTRIBUTES = ObjectSpec(
    table="data_attributes",
    columns=(
        text("id"), text("model"), text("name"), text("full_name"), text("label"), text("description"),
        text("data_type"), jsonb("options"), boolean("api_writable"), boolean("messenger_writable"),
        boolean("ui_writable"), boolean("custom"), boolean("archived"), timestamp("created_at"),
        timestamp("updated_at"), text("admin_id"),
    ),
    parent=ParentKey("model", query_param="model", values=("contact", "company", "conversation")),
    list=Endpoint("GET", "/data_attributes", "unpaged", "data"),
    row_estimate=200,
    writes=WriteRules(insert=WriteOperation(
        "POST", "/data_attributes",
        (WriteField("name"), WriteField("model"), WriteField("data_type"), WriteField("description"),
         WriteField("options"), WriteField("messenger_writable")),
        required=(Requirement(("name",), "set name, the new attribute's name"),
                  Requirement(("model",), "Intercom creates custom attributes of contacts and companies only",
                              ("contact", "company")),
                  Requirement(("data_type",), "data_type is one of Intercom's attribute types",
                              ("string", "integer", "float", "boolean", "date", "datetime", "options"))))),
)

SEGMENTS = ObjectSpec(
    table="segments",
    columns=SEGMENT_COLUMNS,
    # count only with include_count=true (OpenAPI GET /segments); the by-id read has it always
    list=Endpoint("GET", "/segments", "unpaged", "segments", params={"include_count": "true"}),
    get=Endpoint("GET", "/segments/{id}", items_key=None),
    row_estimate=50,
)

TAGS = ObjectSpec(
    table="tags",
    columns=(text("id"), text("name")),
    list=Endpoint("GET", "/tags", "unpaged", "data"),
    get=Endpoint("GET", "/tags/{id}", items_key=None),
    row_estimate=100,
    # POST /tags creates the tag of that name or returns the existing one (a re-run never
    # duplicates); with an id it renames that tag.
    writes=WriteRules(
        insert=WriteOperation("POST", "/tags", (WriteField("name"),), idempotent=True,
                              required=(Requirement(("name",), "set name, the tag's name"),)),
        update=WriteOperation("POST", "/tags", (WriteField("name"),), keys=(WriteField("id"),), idempotent=True),
        delete=WriteOperation("DELETE", "/tags/{id}"),
    ),
)

SUBSCRIPTION_TYPES = ObjectSpec(
    table="subscription_types",
    columns=SUBSCRIPTION_TYPE_COLUMNS,
    list=Endpoint("GET", "/subscription_types", "unpaged", "data"),
    row_estimate=10,
)

SPECS = (DATA_ATTRIBUTES, SEGMENTS, TAGS, SUBSCRIPTION_TYPES)
