"""Column sets shared by an object's own table and the child tables that list it (contact_companies...),
and the search kinds of custom field columns, shared by the searchable objects."""
from intercom_fdw.spec import bigint, boolean, integer, jsonb, text, timestamp

# Custom field columns in the search, by column converter (spec.CustomFields.search_kinds).
# Contact search: integers and decimals take every comparison; a Date attribute is a `date`
# column whose day the planner widens (OpenAPI contact search: custom_attributes.{name}).
CONTACT_CUSTOM_SEARCH_KINDS = {"text": "string", "integer": "integer", "float": "float", "boolean": "boolean",
                               "unix_date": "day"}
# Conversation and ticket search document > and < as "greater (or equal)" and take no >=/<=.
LOOSE_CUSTOM_SEARCH_KINDS = {"text": "string", "integer": "integer_loose", "float": "float_loose",
                             "boolean": "boolean", "unix_timestamp": "date"}

CONTACT_COLUMNS = (
    text("id"), text("external_id"), text("workspace_id"), text("role"), text("email"),
    text("email_domain"), text("phone"), text("name"), text("owner_id"),
    boolean("has_hard_bounced"), boolean("marked_email_as_spam"), boolean("unsubscribed_from_emails"),
    timestamp("created_at"), timestamp("updated_at"), timestamp("signed_up_at"), timestamp("last_seen_at"),
    timestamp("last_replied_at"), timestamp("last_contacted_at"), timestamp("last_email_opened_at"),
    timestamp("last_email_clicked_at"), text("language_override"), text("browser"), text("browser_version"),
    text("browser_language"), text("os"), text("android_app_name"), text("android_app_version"),
    text("android_device"), text("android_os_version"), text("android_sdk_version"),
    timestamp("android_last_seen_at"), text("ios_app_name"), text("ios_app_version"), text("ios_device"),
    text("ios_os_version"), text("ios_sdk_version"), timestamp("ios_last_seen_at"),
    text("avatar_image_url", "avatar.image_url"),
    text("location_country", "location.country"), text("location_region", "location.region"),
    text("location_city", "location.city"),
    integer("tags_total_count", "tags.total_count"), integer("notes_total_count", "notes.total_count"),
    integer("companies_total_count", "companies.total_count"),
    jsonb("social_profiles", "social_profiles.data"), jsonb("custom_attributes"),
)

COMPANY_COLUMNS = (
    text("id"), text("company_id"), text("name"), text("app_id"),
    text("plan_id", "plan.id"), text("plan_name", "plan.name"),
    timestamp("remote_created_at"), timestamp("created_at"), timestamp("updated_at"),
    timestamp("last_request_at"), integer("size"), text("website"), text("industry"),
    bigint("monthly_spend"), integer("session_count"), integer("user_count"),
    jsonb("tags", "tags.tags"), jsonb("segments", "segments.segments"), jsonb("custom_attributes"),
)

SEGMENT_COLUMNS = (
    text("id"), text("name"), timestamp("created_at"), timestamp("updated_at"), text("person_type"),
    integer("count"),
)

TAG_COLUMNS = (
    text("id"), text("name"), timestamp("applied_at"), text("applied_by_type", "applied_by.type"),
    text("applied_by_id", "applied_by.id"),
)

SUBSCRIPTION_TYPE_COLUMNS = (
    text("id"), text("state"), text("consent_type"),
    text("default_translation_name", "default_translation.name"),
    text("default_translation_description", "default_translation.description"),
    text("default_translation_locale", "default_translation.locale"),
    jsonb("content_types"), jsonb("translations"),
)
