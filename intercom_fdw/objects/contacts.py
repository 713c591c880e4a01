"""Contacts, the lists hanging off a contact (companies, segments, subscriptions, tags, notes) and events."""
from intercom_fdw.objects._columns import (
    COMPANY_COLUMNS, CONTACT_COLUMNS, CONTACT_CUSTOM_SEARCH_KINDS, SEGMENT_COLUMNS, SUBSCRIPTION_TYPE_COLUMNS,
    TAG_COLUMNS,
)
from intercom_fdw.spec import (
    CREATED_AFTER_EPOCH, Conflict, CustomFields, Endpoint, ObjectSpec, Partitioning, ParentKey, RequiredFilter, Requirement,
    SearchField, WriteField, WriteOperation, WriteRules, jsonb, parent_key, search_orderings, text, timestamp,
)

_STRING = ("role", "name", "email", "email_domain", "phone", "external_id", "language_override", "browser",
           "browser_language", "os", "ios_app_version", "ios_device", "ios_os_version", "ios_app_name",
           "ios_sdk_version", "android_app_version", "android_device", "android_app_name")
_DATE = ("created_at", "signed_up_at", "updated_at", "last_seen_at", "last_contacted_at", "last_replied_at",
         "last_email_opened_at", "last_email_clicked_at", "ios_last_seen_at", "android_last_seen_at")
_BOOLEAN = ("unsubscribed_from_emails", "marked_email_as_spam", "has_hard_bounced")

# The accepted fields and operators of POST /contacts/search (OpenAPI description).
CONTACT_SEARCH_FIELDS = (
    (SearchField("id", "id", "id"), SearchField("owner_id", "owner_id", "integer"),
     SearchField("avatar_image_url", "avatar", "string"))
    + tuple(SearchField(c, c, "string") for c in _STRING)
    + tuple(SearchField(c, c, "date") for c in _DATE)
    + tuple(SearchField(c, c, "boolean") for c in _BOOLEAN)
    + tuple(SearchField(f"location_{p}", f"location.{p}", "string") for p in ("country", "region", "city"))
)

# The fields of POST /contacts and PUT /contacts/{id} (OpenAPI create/update_contact_request).
_CONTACT_FIELDS = (
    WriteField("role"), WriteField("email"), WriteField("external_id"), WriteField("phone"), WriteField("name"),
    WriteField("avatar_image_url", "avatar"), WriteField("signed_up_at"), WriteField("last_seen_at"),
    WriteField("owner_id", kind="integer"), WriteField("unsubscribed_from_emails"),
)

# (checked on an update too when it changes one of them: Intercom's contact needs one left)
_IDENTIFIED = Requirement(("email", "external_id"), "Intercom identifies a contact by email or external_id: set one")
CONTACT_WRITES = WriteRules(
    insert=WriteOperation("POST", "/contacts", _CONTACT_FIELDS, custom_fields=True, required=(_IDENTIFIED,)),
    update=WriteOperation("PUT", "/contacts/{id}", _CONTACT_FIELDS, custom_fields=True, required=(_IDENTIFIED,)),
    delete=WriteOperation("DELETE", "/contacts/{id}"),
    # A duplicate email or external_id answers 409 "... already exists with id=<id>" (api notes).
    conflict=Conflict(409, r"id=([0-9A-Za-z_-]+)"),
)

CONTACTS = ObjectSpec(
    table="contacts",
    columns=CONTACT_COLUMNS,
    list=Endpoint("GET", "/contacts", "cursor", "data", per_page_cap=150),
    get=Endpoint("GET", "/contacts/{id}", items_key=None),
    search=Endpoint("POST", "/contacts/search", "search", "data", per_page_cap=150),
    search_fields=CONTACT_SEARCH_FIELDS,
    # created_at never changes; contact search compares it by calendar day in the workspace time zone.
    partitioning=Partitioning(calendar_days=True),
    match_all=CREATED_AFTER_EPOCH,
    orderings=search_orderings("created_at", "updated_at"),
    custom_fields=CustomFields("custom_attributes", "custom_attribute", "data_attributes", model="contact",
                               text_type="varchar(255)", dates_are_days=True, search_field="custom_attributes.{custom_attribute}",
                               search_kinds=CONTACT_CUSTOM_SEARCH_KINDS),
    row_estimate=10000,
    writes=CONTACT_WRITES,
    search_notes=("recently created contacts can take minutes to appear in search results",),
)


def _contact_child(table, columns, path, paging="unpaged", items_key="data", per_page_cap=None, estimate=10,
                   writes=None, scan_note=None):
    return ObjectSpec(
        table=table,
        columns=(parent_key("contact_id"),) + columns,
        parent=ParentKey("contact_id", parent="contacts", path_param="contact_id", scan_note=scan_note),
        list=Endpoint("GET", "/contacts/{contact_id}/" + path, paging, items_key, per_page_cap),
        row_estimate=estimate,
        writes=writes or WriteRules(),
    )


def _attach_detach(path, *extra_fields, required=()):
    """Child rows are links: INSERT attaches the object `id` to the contact, DELETE detaches it.
    The rowid is the child's `id`; the parent key `contact_id` comes from the row. Attaching what
    is already attached leaves one link, so a resent attach is harmless (idempotent)."""
    needs = (Requirement(("contact_id",), "set contact_id, the contact to attach to"),
             Requirement(("id",), "set id, the Intercom id of the object to attach")) + tuple(required)
    return WriteRules(
        insert=WriteOperation("POST", "/contacts/{contact_id}/" + path, (WriteField("id"),) + extra_fields,
                              required=needs, idempotent=True),
        delete=WriteOperation("DELETE", "/contacts/{contact_id}/" + path + "/{id}"),
    )


CONTACT_COMPANIES = _contact_child("contact_companies", COMPANY_COLUMNS, "companies", "page", "companies", 50,
                                   writes=_attach_detach("companies"))
def _instead(member, table):
    return (f"to find the contacts of a {member}, read {table} WHERE {member}_id = '...' instead: one contact "
            f"search per {member}, not one request per contact")


CONTACT_SEGMENTS = _contact_child("contact_segments", SEGMENT_COLUMNS, "segments",
                                  scan_note=_instead("segment", "segment_contacts"))
CONTACT_SUBSCRIPTIONS = _contact_child(
    "contact_subscriptions", SUBSCRIPTION_TYPE_COLUMNS, "subscriptions",
    writes=_attach_detach("subscriptions", WriteField("consent_type"), required=(
        Requirement(("consent_type",), "consent_type is opt_in or opt_out", ("opt_in", "opt_out")),)))
CONTACT_TAGS = _contact_child("contact_tags", TAG_COLUMNS, "tags", writes=_attach_detach("tags"),
                              scan_note=_instead("tag", "tag_contacts"))


def _member_contacts(member):
    """The contacts of one tag or segment: POST /contacts/search on `tag_id` / `segment_id` (the
    OpenAPI file's contact search fields, `=` and `!=`), one search per value instead of one request
    per contact through contact_tags / contact_segments."""
    column = f"{member}_id"
    return ObjectSpec(
        table=f"{member}_contacts",
        columns=(parent_key(column),) + CONTACT_COLUMNS,
        search=Endpoint("POST", "/contacts/search", "search", "data", per_page_cap=150),
        required=RequiredFilter(
            {column: column}, search=True,
            hint=f"Add WHERE {column} = '...' (or join on it): the table lists the contacts of the {member}s "
                 f"it is given."),
        row_estimate=100,
        search_notes=("recently tagged or created contacts can take minutes to appear in search results",),
    )


TAG_CONTACTS = _member_contacts("tag")
SEGMENT_CONTACTS = _member_contacts("segment")

NOTES = ObjectSpec(
    table="notes",
    columns=(
        text("id"), text("contact_id", "contact.id"), timestamp("created_at"), text("body"),
        text("author_id", "author.id"), text("author_name", "author.name"), text("author_email", "author.email"),
    ),
    parent=ParentKey("contact_id", parent="contacts", path_param="contact_id"),
    list=Endpoint("GET", "/contacts/{contact_id}/notes", "cursor", "data", per_page_cap=150),
    get=Endpoint("GET", "/notes/{id}", items_key=None),
    row_estimate=10,
    writes=WriteRules(insert=WriteOperation(
        "POST", "/contacts/{contact_id}/notes", (WriteField("body"), WriteField("author_id", "admin_id")),
        required=(Requirement(("contact_id",), "set contact_id, the contact the note is about"),
                  Requirement(("body",), "set body, the note's text")))),
)

# Events are listed per contact only (type=user and one of the identifiers), about the last 90 days.
EVENTS = ObjectSpec(
    table="events",
    columns=(
        text("id"), text("event_name"), timestamp("created_at"), text("contact_id", "intercom_user_id"),
        text("user_id"), text("email"), jsonb("metadata"),
    ),
    list=Endpoint("GET", "/events", "next_url", "events", params={"type": "user"}),
    required=RequiredFilter(
        {"contact_id": "intercom_user_id", "user_id": "user_id", "email": "email"},
        hint="Add WHERE contact_id = '...' (or user_id = '...' or email = '...'): "
             "Intercom lists events only per contact.",
    ),
    row_estimate=100,
)

SPECS = (CONTACTS, CONTACT_COMPANIES, CONTACT_SEGMENTS, CONTACT_SUBSCRIPTIONS, CONTACT_TAGS, TAG_CONTACTS,
         SEGMENT_CONTACTS, NOTES, EVENTS)
