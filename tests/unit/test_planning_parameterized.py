"""EXPLAIN's lines for parameterized nested loops: what each scan requests per outer row. Pure."""
from intercom_fdw.objects import SPECS
from intercom_fdw.planning import Condition, ScanOptions
from intercom_fdw.planning.parameterized import parameterized_lines


def lines(table, conditions=(), **options):
    return parameterized_lines(SPECS[table], list(conditions), ScanOptions(**options))


def joined_on(line):
    """The columns a line is about ('When a join supplies a, b (parameterized ...' -> ['a', 'b'])."""
    return line.split(" (parameterized")[0].split("supplies ")[1].split(", ")


JOINED = "When a join supplies {} (parameterized nested loop): {}, instead of the above"


def test_a_child_table_names_the_request_per_parent_value():
    assert lines("contact_tags") == [
        JOINED.format("contact_id", "GET /contacts/{contact_id}/tags, 1 call per outer row")]


def test_columns_with_the_same_request_share_a_line():
    found = lines("contacts")
    assert found[0] == JOINED.format("id", "GET /contacts/{id}, 1 call per outer row")
    assert len(found) == 2 and {"external_id", "email", "location_city"} <= set(joined_on(found[1]))
    assert found[1].endswith("POST /contacts/search (search paging, per_page 150), about 1 call per outer row, "
                             "instead of the above")


def test_list_parameters_and_required_filters_are_shown_with_their_parameter():
    assert JOINED.format("company_id", "GET /companies?company_id={company_id} (page paging, per_page 60), "
                                       "about 1 call per outer row") in lines("companies")
    events = "GET /events?email={email}&type=user (next_url paging), about 2 calls per outer row"
    assert JOINED.format("email", events) in lines("events")


def test_nothing_for_a_path_key_a_constant_binds():
    assert lines("contact_tags", [Condition("contact_id", "=", "abc")]) == []
    found = lines("contacts", [Condition("email", "in", ("a@x", "b@x"))])
    assert found and not any("email" in joined_on(line) for line in found)


def test_other_constants_shape_the_per_row_request():
    found = lines("contacts", [Condition("role", "=", "lead"), Condition("created_at", ">", 0)])
    assert found[0].startswith("When a join supplies id (parameterized nested loop): GET /contacts/{id}")
    assert "role" not in joined_on(found[1]) and "external_id" in joined_on(found[1])


def test_without_pushdown_only_required_filters_remain():
    assert lines("contact_tags", pushdown=False) == []
    assert lines("events", pushdown=False)  # events cannot be read without a contact


def test_a_field_with_search_terms_is_shown_as_searched_by_its_term():
    # tickets' category is searched by a term ('Tracker' -> 'tracker'); the join's value is unknown
    category = next(line for line in lines("tickets") if "category" in joined_on(line))
    assert "POST /tickets/search" in category and "about 1 call per outer row" in category


def test_only_the_table_s_own_columns_are_offered():
    spec = SPECS["contacts"].with_columns([c for c in SPECS["contacts"].columns if c.name in ("id", "email")])
    found = parameterized_lines(spec, [], ScanOptions())
    assert [joined_on(line) for line in found] == [["id"], ["email"]]


def test_plain_explain_names_a_few_join_columns_and_verbose_names_all():
    brief = parameterized_lines(SPECS["contacts"], [], ScanOptions(), verbose=False)
    full = parameterized_lines(SPECS["contacts"], [], ScanOptions(), verbose=True)
    search_brief = next(line for line in brief if "/contacts/search" in line)
    search_full = next(line for line in full if "/contacts/search" in line)
    assert "other columns (EXPLAIN VERBOSE lists them)" in search_brief
    assert "external_id" in search_full and len(search_full) > len(search_brief)
