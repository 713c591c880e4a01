"""The object specs, the custom field mapping and the options, checked as data."""
import pytest

from intercom_fdw.custom_fields import column_name, custom_column, custom_columns, text_type, ticket_type_table_name
from intercom_fdw.errors import ConfigurationError
from intercom_fdw.objects import SPECS, spec_for
from intercom_fdw.options import FdwOptions

ISSUE_TABLES = {
    "admins", "teams", "articles", "collections", "help_centers", "companies", "company_segments",
    "company_contacts", "contacts", "contact_companies", "contact_segments", "contact_subscriptions",
    "contact_tags", "conversations", "conversation_parts", "tickets", "ticket_types", "ticket_type_attributes",
    "ticket_states", "data_attributes", "notes", "events", "activity_logs", "segments", "tags",
    "subscription_types", "tag_contacts", "segment_contacts",
}


def test_every_object_of_the_issue_has_a_spec():
    assert set(SPECS) == ISSUE_TABLES


@pytest.mark.parametrize("table", sorted(ISSUE_TABLES))
def test_spec_is_readable(table):
    spec = SPECS[table]
    assert spec.column("attrs").pg_type == "jsonb"
    assert spec.list or spec.search or spec.get
    for column in spec.columns:
        assert column.name == column.name.lower() and " " not in column.name
        assert column.name == "attrs" or column.source or column.name == getattr(spec.parent, "column", None) \
            or any(m.column == column.name for m in spec.member_filters) \
            or (spec.required and spec.required.search and column.name in spec.required.params)
    for member in spec.member_filters:  # filled by the engine from the query, never written
        assert spec.column(member.column).read_only and not spec.column(member.column).source
    for field in spec.search_fields:
        assert spec.column(field.column), field
    if spec.parent:
        assert spec.column(spec.parent.column) and spec.list
        assert "{" not in spec.list.path or spec.parent.path_param
        assert spec.parent.values or spec.parent.parent in SPECS
    for ordering in spec.orderings:
        assert spec.column(ordering.column)
    if spec.extended:
        assert all(spec.column(c) for c in spec.extended.columns)
    for column in spec.table_filters.values():
        assert spec.search_field(column) and spec.column(column)


def test_unknown_object_lists_the_valid_ones():
    with pytest.raises(ConfigurationError) as error:
        spec_for("contact")
    assert "contacts" in error.value.hint


@pytest.mark.parametrize("name,table,expected", [
    ("plan", "contacts", "varchar(255)"),
    ("account memo", "companies", "varchar(255)"),
    ("plan", "conversations", "varchar(1000)"),
    ("internal_notes", "tickets", "varchar(4000)"),
    ("shipping address", "conversations", "varchar(4000)"),
    ("docs_url", "tickets", "varchar(4000)"),
    ("refund reason", "tickets", "varchar(4000)"),
    ("seo keywords", "tickets", "varchar(4000)"),
    ("email_html", "conversations", "text"),
    ("page content", "tickets", "text"),
])
def test_text_mapping(name, table, expected):
    assert text_type(name, SPECS[table].custom_fields) == expected


@pytest.mark.parametrize("data_type,table,pg_type,read_only", [
    ("integer", "contacts", "integer", False),
    ("float", "companies", "double precision", False),
    ("decimal", "tickets", "double precision", False),
    ("date", "contacts", "date", False),
    ("date", "conversations", "timestamptz", False),
    ("date", "tickets", "timestamptz", True),
    ("datetime", "tickets", "timestamptz", True),
    ("boolean", "tickets", "boolean", False),
    ("list", "tickets", "text", True),
    ("files", "tickets", "jsonb", True),
])
def test_type_mapping(data_type, table, pg_type, read_only):
    custom = SPECS[table].custom_fields
    column = custom_column("Some Field", data_type, custom, set())
    assert (column.pg_type, column.read_only) == (pg_type, read_only)
    assert column.options[custom.option] == "Some Field" and column.source == (custom.container, "Some Field")
    assert column.name == "some_field"


def test_names_are_snake_case_unique_and_short():
    assert column_name("Plan Name", {"plan_name"}) == "plan_name_2"
    assert column_name("1st touch") == "_1st_touch"
    assert len(column_name("x" * 100)) == 63
    # non-ASCII names are transliterated, not stripped to their ASCII letters (was n_c_d_ttr)
    assert column_name("Ünïcødé Ättr") == "unicode_attr" and column_name("Größe") == "grosse"
    assert ticket_type_table_name("Réclamation Client") == "reclamation_client_tickets"
    assert ticket_type_table_name("Bug Report") == "bug_report_tickets"


def test_custom_attributes_without_a_name_are_skipped_and_said():
    custom = SPECS["contacts"].custom_fields
    attributes = [{"id": 1, "name": "", "data_type": "string"}, {"id": 2, "name": None, "data_type": "integer"},
                  {"id": 3, "name": "plan", "data_type": "string"}, {"id": 4, "name": "", "archived": True}]
    columns, skipped = custom_columns(attributes, custom, SPECS["contacts"].column_names)
    assert [(c.name, c.options[custom.option]) for c in columns] == [("plan", "plan")]
    assert skipped == ["custom attribute '' (id 1) not imported: its name is empty",
                       "custom attribute '' (id 2) not imported: its name is empty",
                       "1 archived custom attribute not imported: ''"]


def test_attributes_of_unknown_types_and_archived_ones_are_said():
    custom = SPECS["contacts"].custom_fields
    attributes = [{"id": 1, "name": "hologram", "data_type": "hologram"}, {"id": 2, "name": "old", "archived": True},
                  {"id": 3, "name": "plan", "data_type": "string"}, {"id": 4, "name": "", "archived": True}]
    columns, skipped = custom_columns(attributes, custom, SPECS["contacts"].column_names)
    assert [c.name for c in columns] == ["plan"]
    assert skipped == ["custom attribute 'hologram' (id 1) not imported: its data type 'hologram' is not one "
                       "intercom_fdw knows (its value is in attrs)",
                       "2 archived custom attributes not imported: 'old', ''"]


def test_the_registry_hands_custom_fields_their_definitions():
    assert {t: s.custom_fields.definitions_spec.table for t, s in SPECS.items() if s.custom_fields} == {
        "contacts": "data_attributes", "companies": "data_attributes", "conversations": "data_attributes",
        "tickets": "ticket_types"}


def test_options_parse_and_validate():
    options = FdwOptions.parse({"api_url": "http://127.0.0.1:9/", "access_token": "tok-secret-1",
                                "object": "contacts", "pushdown": "false", "wrapper": "x"})
    assert options.base_url == "http://127.0.0.1:9" and options.pushdown is False
    assert "tok-secret-1" not in repr(options)
    with pytest.raises(ConfigurationError) as error:
        FdwOptions.parse({"access_token": "tok-secret-1", "regoin": "eu"})
    assert "regoin" in error.value.message and "region" in error.value.hint
    with pytest.raises(ConfigurationError) as error:
        FdwOptions.parse({"access_token": "tok-secret-1", "pushdown": "maybe"})
    assert "pushdown" in error.value.message
    with pytest.raises(ConfigurationError) as error:
        FdwOptions.parse({"region": "mars", "access_token": "tok-secret-1"})
    assert "tok-secret-1" not in str(error.value) + (error.value.hint or "")
    with pytest.raises(ConfigurationError):
        FdwOptions.parse({"region": "eu"})


def test_options_of_one_catalog_object():
    from intercom_fdw.options import validate_options

    validate_options("server", {"wrapper": "intercom_fdw.IntercomFdw", "region": "eu", "pushdown": "false"})
    validate_options("column", {"custom_attribute": "plan", "data_type": "string"})
    with pytest.raises(ConfigurationError) as error:
        validate_options("table", {"object": "contacts", "region": "eu"})
    assert "region" in error.value.message and "object" in error.value.hint
    with pytest.raises(ConfigurationError):
        validate_options("server", {"concurrency": "1000"})


@pytest.mark.parametrize("declared,expected,ok", [
    ("text", "timestamptz", True),
    ("character varying(255)", "text", True),
    ("timestamp with time zone", "timestamptz", True),
    ("bigint", "integer", True),
    ("numeric", "integer", True),
    ("bigint", "timestamptz", False),
    ("integer", "jsonb", False),
    ("boolean", "integer", False),
])
def test_declared_column_types(declared, expected, ok):
    from intercom_fdw.custom_fields import compatible_type

    assert compatible_type(declared, expected) is ok


def test_table_columns_from_declarations():
    from intercom_fdw.custom_fields import table_columns

    spec = SPECS["contacts"]
    columns = table_columns(spec, [("id", "text", {}), ("plan", "character varying(255)",
                                                        {"custom_attribute": "Plan", "data_type": "string"})])
    assert [c.name for c in columns] == ["id", "plan"] and columns[1].source == ("custom_attributes", "Plan")
    with pytest.raises(ConfigurationError) as error:
        table_columns(spec, [("shoe_size", "integer", {})])
    assert "shoe_size" in error.value.message and "custom_attribute" in error.value.hint
    with pytest.raises(ConfigurationError):
        table_columns(spec, [("created_at", "bigint", {})])
