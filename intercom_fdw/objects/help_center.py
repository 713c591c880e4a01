"""Articles, help center collections and help centers."""
from intercom_fdw.spec import (
    Requirement, WriteField, WriteOperation, WriteRules,
    Endpoint, ExtendedFields, ObjectSpec, Ordering, boolean, double, integer, jsonb, text, timestamp,
)

# The list leaves `statistics` out; GET /articles/{id} has it (api notes). The column names are
# the product's (statistics_views, ...); `statistics_conversations` reads Intercom's `statistics.conversions`.
STATISTICS = (
    text("statistics_type", "statistics.type"),
    integer("statistics_views", "statistics.views"),
    integer("statistics_conversations", "statistics.conversions"),
    integer("statistics_reactions", "statistics.reactions"),
    double("statistics_happy_reaction_percentage", "statistics.happy_reaction_percentage"),
    double("statistics_neutral_reaction_percentage", "statistics.neutral_reaction_percentage"),
    double("statistics_sad_reaction_percentage", "statistics.sad_reaction_percentage"),
)

_ARTICLE_FIELDS = (
    WriteField("title"), WriteField("description"), WriteField("body"), WriteField("author_id", kind="integer"),
    WriteField("state"), WriteField("parent_id", kind="integer"), WriteField("parent_type"),
)
_COLLECTION_FIELDS = (
    WriteField("name"), WriteField("description"), WriteField("parent_id"),
    WriteField("help_center_id", kind="integer"),
)

ARTICLES = ObjectSpec(
    table="articles",
    columns=(
        text("id"), text("workspace_id"), text("title"), text("description"), text("body"),
        text("author_id"), text("state"), timestamp("created_at"), timestamp("updated_at"), text("url"),
        text("parent_id"), jsonb("parent_ids"), text("parent_type"), text("default_locale"),
        jsonb("translated_content"), jsonb("tags", "tags.tags"),
    ) + STATISTICS,
    list=Endpoint("GET", "/articles", "cursor", "data", per_page_cap=150),
    get=Endpoint("GET", "/articles/{id}", items_key=None),
    orderings=(Ordering("updated_at", descending=True),),
    extended=ExtendedFields(tuple(c.name for c in STATISTICS), Endpoint("GET", "/articles/{id}", items_key=None)),
    row_estimate=500,
    writes=WriteRules(
        insert=WriteOperation("POST", "/articles", _ARTICLE_FIELDS, required=(
            Requirement(("title",), "set title"),
            Requirement(("author_id",), "set author_id, the id of the admin who writes the article"))),
        update=WriteOperation("PUT", "/articles/{id}", _ARTICLE_FIELDS),
        delete=WriteOperation("DELETE", "/articles/{id}"),
    ),
)

COLLECTIONS = ObjectSpec(
    table="collections",
    columns=(
        text("id"), text("workspace_id"), text("name"), text("description"), timestamp("created_at"),
        timestamp("updated_at"), text("url"), text("icon"), integer("order"), text("default_locale"),
        jsonb("translated_content"), text("parent_id"), text("help_center_id"),
    ),
    list=Endpoint("GET", "/help_center/collections", "cursor", "data", per_page_cap=150),
    get=Endpoint("GET", "/help_center/collections/{id}", items_key=None),
    # "Collections will be returned in descending order on the updated_at attribute" (OpenAPI file,
    # GET /help_center/collections); Intercom always fills updated_at.
    orderings=(Ordering("updated_at", descending=True),),
    row_estimate=50,
    writes=WriteRules(
        insert=WriteOperation("POST", "/help_center/collections", _COLLECTION_FIELDS,
                              required=(Requirement(("name",), "set name"),)),
        update=WriteOperation("PUT", "/help_center/collections/{id}", _COLLECTION_FIELDS),
        delete=WriteOperation("DELETE", "/help_center/collections/{id}"),
    ),
)

HELP_CENTERS = ObjectSpec(
    table="help_centers",
    columns=(
        text("id"), text("workspace_id"), timestamp("created_at"), timestamp("updated_at"),
        text("identifier"), boolean("website_turned_on"),
        text("display_name"), text("url"), text("custom_domain"),
    ),
    list=Endpoint("GET", "/help_center/help_centers", "unpaged", "data"),
    get=Endpoint("GET", "/help_center/help_centers/{id}", items_key=None),
    row_estimate=5,
)

SPECS = (ARTICLES, COLLECTIONS, HELP_CENTERS)
