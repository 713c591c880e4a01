"""Companies and the lists hanging off a company (its contacts and segments)."""
from intercom_fdw.objects._columns import COMPANY_COLUMNS, CONTACT_COLUMNS, SEGMENT_COLUMNS
from intercom_fdw.spec import (
    Requirement, WriteField, WriteOperation, WriteRules,
    CustomFields, Endpoint, LimitedList, ListFilter, ListOmission, MemberFilter, ObjectSpec, Ordering, ParentKey,
    filter_column, parent_key,
)

# GET /companies filters by these parameters and pages by page number (at most 60 a page).
_FILTERED_LIST = Endpoint("GET", "/companies", "page", "data", per_page_cap=60, reach=10_000)

# The fields of POST /companies and PUT /companies/{id} (OpenAPI create_or_update_company_request).
_COMPANY_FIELDS = (
    WriteField("name"), WriteField("website"), WriteField("industry"), WriteField("size"),
    WriteField("monthly_spend"), WriteField("remote_created_at"), WriteField("plan_name", "plan"),
)

COMPANY_WRITES = WriteRules(
    # POST /companies creates or updates the company with this company_id: a resend is harmless,
    # and re-running an import updates instead of duplicating.
    insert=WriteOperation("POST", "/companies", (WriteField("company_id"),) + _COMPANY_FIELDS, custom_fields=True,
                          idempotent=True, required=(
                              Requirement(("company_id",), "Intercom creates or updates companies by company_id "
                                                           "(your own identifier): set it"),)),
    update=WriteOperation("PUT", "/companies/{id}", _COMPANY_FIELDS, custom_fields=True),
    delete=WriteOperation("DELETE", "/companies/{id}"),
)

COMPANIES = ObjectSpec(
    table="companies",
    # tag_id and segment_id are filter columns (spec.MemberFilter): a company has several of each,
    # so `WHERE tag_id = 'x'` gives the companies carrying tag x, with tag_id = 'x' on each, read
    # through GET /companies?tag_id=x or, without pushdown, from every company's embedded list.
    columns=COMPANY_COLUMNS + (filter_column("tag_id"), filter_column("segment_id")),
    # The plain list stops at 10,000 companies, so full scans scroll (one open scroll per
    # workspace: the client serialises scrolls across backends). Companies without contacts are
    # not returned by list or scroll but are found by id.
    list=Endpoint("GET", "/companies/scroll", "scroll", "data"),
    # A LIMIT reads the plain list instead, which reaches the first 10,000 companies: a scroll
    # abandoned after a few rows would block the workspace's next scroll for a minute.
    limited_list=LimitedList(_FILTERED_LIST, max_rows=10_000),
    get=Endpoint("GET", "/companies/{id}", items_key=None),
    list_filters=(
        ListFilter("company_id", "company_id", _FILTERED_LIST),
        ListFilter("name", "name", _FILTERED_LIST),
        ListFilter("tag_id", "tag_id", _FILTERED_LIST),
        ListFilter("segment_id", "segment_id", _FILTERED_LIST),
    ),
    member_filters=(MemberFilter("tag_id", "tags.tags"), MemberFilter("segment_id", "segments.segments")),
    # POST /companies/list is sorted by last_request_at; `order` picks the direction (OpenAPI file).
    # The file does not say where a company without last_request_at goes, while PostgreSQL trusts
    # the claimed order's NULL placement too (NULLS FIRST descending, NULLS LAST ascending). The
    # file types the field as an integer, not nullable, so NULLs should not come; and sorting
    # locally would scroll every company for a LIMIT 10. So the order is claimed, with the
    # caveat in EXPLAIN and the README.
    orderings=tuple(
        Ordering("last_request_at", descending,
                 Endpoint("POST", "/companies/list", "page", "data", 60, {"order": "desc" if descending else "asc"},
                          reach=10_000),
                 caveat="Intercom does not document where companies without last_request_at come in this order; "
                        "WHERE last_request_at IS NOT NULL makes the order exact either way")
        for descending in (True, False)),
    custom_fields=CustomFields("custom_attributes", "custom_attribute", "data_attributes", model="company",
                               text_type="varchar(255)", dates_are_days=True),
    row_estimate=5000,
    writes=COMPANY_WRITES,
    # GET /companies?company_id= reads one company, as GET /companies/{id} does: it finds them.
    list_omits=ListOmission("companies without contacts are not returned by Intercom's list or scroll; "
                            "WHERE id = ... or company_id = ... finds them", found_by=("id", "company_id")),
)

COMPANY_CONTACTS = ObjectSpec(
    table="company_contacts",
    columns=(parent_key("company_id"),) + CONTACT_COLUMNS,
    parent=ParentKey("company_id", parent="companies", path_param="company_id"),
    list=Endpoint("GET", "/companies/{company_id}/contacts", "cursor", "data", per_page_cap=150),
    row_estimate=20,
)

COMPANY_SEGMENTS = ObjectSpec(
    table="company_segments",
    columns=(parent_key("company_id"),) + SEGMENT_COLUMNS,
    parent=ParentKey("company_id", parent="companies", path_param="company_id"),
    list=Endpoint("GET", "/companies/{company_id}/segments", "unpaged", "data"),
    row_estimate=5,
)

SPECS = (COMPANIES, COMPANY_CONTACTS, COMPANY_SEGMENTS)
