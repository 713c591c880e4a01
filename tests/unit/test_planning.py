"""plan_scan and the search translation: pure, no HTTP, no PostgreSQL."""
import pytest

from intercom_fdw.errors import ConfigurationError
from intercom_fdw.objects import SPECS
from intercom_fdw.planning import Condition, ScanOptions, SortKey, path_keys, plan_scan, supported_sortkeys
from intercom_fdw.planning.search import DATE_MARGIN, DAY, build_query, like_operator, search_filters
from intercom_fdw.spec import SearchField

NOW = 1_750_000_000


def plan(table, conditions=(), columns=("id",), sortkeys=(), limit=None, offset=None, **options):
    return plan_scan(SPECS[table], conditions, columns, sortkeys, limit, offset, ScanOptions(now=NOW, **options))


def only_call(scan_plan):
    assert len(scan_plan.calls) == 1, scan_plan.calls
    return scan_plan.calls[0]


def test_id_equality_is_one_get_by_id():
    call = only_call(plan("contacts", [Condition("id", "=", "abc")]))
    assert (call.method, call.path, call.allow_404) == ("GET", "/contacts/abc", True)


def test_id_in_list_is_one_get_per_distinct_id():
    scan_plan = plan("contacts", [Condition("id", "in", ("a", "b", "a"))])
    assert [c.path for c in scan_plan.calls] == ["/contacts/a", "/contacts/b"]
    assert scan_plan.expected_calls == "2"


def test_a_get_by_id_is_one_row_per_id_and_other_lookups_a_table_estimate_per_call():
    assert plan("contacts", [Condition("id", "in", ("a", "b", "c"))]).estimated_rows == 3
    tags = SPECS["contact_tags"]
    assert plan("contact_tags", [Condition("contact_id", "in", ("a", "b"))]).estimated_rows == 2 * tags.row_estimate
    # the estimate follows the route, not the words EXPLAIN shows for it
    assert plan("contacts", [Condition("id", "=", "a")], row_estimate=7).estimated_rows == 1


def test_ids_from_two_conditions_are_intersected():
    scan_plan = plan("contacts", [Condition("id", "in", ("a", "b")), Condition("id", "=", "b")])
    assert [c.path for c in scan_plan.calls] == ["/contacts/b"]


def test_id_cannot_escape_its_path_segment():
    assert only_call(plan("contacts", [Condition("id", "=", "../admins")])).path == "/contacts/..%2Fadmins"


def test_email_equality_is_one_search():
    call = only_call(plan("contacts", [Condition("email", "=", "a@example.com")]))
    assert (call.method, call.path, call.paging) == ("POST", "/contacts/search", "search")
    assert call.body == {"query": {"field": "email", "operator": "=", "value": "a@example.com"}}
    assert call.per_page == 150


SEARCH_LAG = "recently created contacts can take minutes to appear in search results"


def test_the_search_lag_is_noted_only_for_a_plan_that_searches_and_once():
    assert plan("contacts", [Condition("email", "=", "a@b.c")]).notes.count(SEARCH_LAG) == 1
    assert SEARCH_LAG not in plan("contacts").notes  # GET /contacts: a list
    assert SEARCH_LAG not in plan("contacts", [Condition("email", "=", "a@b.c")], pushdown=False).notes
    assert SEARCH_LAG not in plan("contacts", [Condition("id", "=", "c1")]).notes
    partitioned = plan("contacts", scan_mode="partitioned").notes
    assert SEARCH_LAG not in partitioned and sum("lags" in note for note in partitioned) == 1
    member = plan("tag_contacts", [Condition("tag_id", "=", "7")], columns=("id", "tag_id"))
    assert any("can take minutes to appear in search results" in note for note in member.notes)


def test_several_search_conditions_are_anded():
    call = only_call(plan("contacts", [Condition("email", "like", "ann%"), Condition("role", "=", "user")]))
    assert call.body["query"]["operator"] == "AND"
    assert {"field": "email", "operator": "^", "value": "ann"} in call.body["query"]["value"]
    assert {"field": "role", "operator": "=", "value": "user"} in call.body["query"]["value"]


@pytest.mark.parametrize("op,value,expected", [
    (">=", 1_000_000, (">", 1_000_000 - DATE_MARGIN)),
    (">", 1_000_000, (">", 1_000_000 - DATE_MARGIN)),
    ("<=", 1_000_000, ("<", 1_000_000 + DATE_MARGIN)),
    ("<", 1_000_000, ("<", 1_000_000 + DATE_MARGIN)),
    ("=", 1_000_000, ("=", 1_000_000)),
])
def test_date_bounds_are_widened(op, value, expected):
    filters = search_filters(Condition("created_at", op, value), SearchField("created_at", "created_at", "date"))
    assert [(f["operator"], f["value"]) for f in filters] == [expected]


def _intercom_date_match(leaf, t, zone):
    """Intercom's documented date comparison in the workspace's time zone: "> d" matches from the
    start of the day after d's day, "< d" before the start of d's day, "= d" within d's day."""
    import datetime as dt

    def day_start(seconds, days_later=0):
        day = dt.datetime.fromtimestamp(seconds, zone).date() + dt.timedelta(days=days_later)
        return dt.datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()

    value = leaf["value"]
    return {">": t >= day_start(value, 1), "<": t < day_start(value),
            "=": day_start(value) <= t < day_start(value, 1)}[leaf["operator"]]


@pytest.mark.parametrize("zone_name", ["UTC", "America/New_York", "Australia/Lord_Howe", "Pacific/Kiritimati"])
def test_widened_date_bounds_keep_every_row_sql_keeps_in_any_time_zone(zone_name):
    # Hours around the days daylight saving time ends (25-hour days) and starts, in both hemispheres.
    import zoneinfo

    zone = zoneinfo.ZoneInfo(zone_name)
    field = SearchField("created_at", "created_at", "date")
    sql = {">": lambda t, v: t > v, ">=": lambda t, v: t >= v, "<": lambda t, v: t < v,
           "<=": lambda t, v: t <= v, "=": lambda t, v: t == v}
    for start in (1_730_592_000, 1_712_404_800, 1_743_868_800, 1_741_478_400):  # Nov/Apr 2024, Apr/Mar 2025
        for t in range(start - 2 * DAY, start + 2 * DAY, 1800):
            for op in sql:
                leaf, = search_filters(Condition("created_at", op, t), field)
                assert _intercom_date_match(leaf, t, zone), (zone_name, op, t, leaf)


FIRST, LAST = -62135596800, 253402300799  # 0001-01-01 00:00:00 and 9999-12-31 23:59:59 UTC


NEAR_THE_ENDS = [("<", LAST), ("<=", LAST), ("<", LAST - DAY), ("=", LAST), ("=", LAST - DAY), (">", FIRST),
                 (">=", FIRST), (">", FIRST + DAY), ("=", FIRST), ("in", (1_000_000, LAST)), ("in", (FIRST, 1_000_000))]


@pytest.mark.parametrize("op,value", NEAR_THE_ENDS)
def test_a_date_bound_widened_past_years_1_to_9999_is_not_pushed(op, value):
    # Widened by DATE_MARGIN, these would be year 10000 or year 0: no date the search can read, and a
    # bound that holds every row a column can hold; PostgreSQL checks it.
    assert search_filters(Condition("created_at", op, value), SearchField("created_at", "created_at", "date")) == []


def _leaf_values(filters):
    for f in filters:
        yield from (_leaf_values(f["value"]) if "field" not in f else [f["value"]])


@pytest.mark.parametrize("op,value", NEAR_THE_ENDS + [("<", LAST - 3 * DAY), (">", FIRST + 3 * DAY)])
def test_a_day_bound_near_the_ends_sends_only_dates_inside_years_1_to_9999(op, value):
    # `d = D` is two bounds (D's first instant and the next day's): the one that stays inside is pushed.
    filters = search_filters(Condition("created_at", op, value), SearchField("created_at", "created_at", "day"))
    assert all(FIRST + 2 * DAY <= v <= LAST - 2 * DAY for v in _leaf_values(filters)), filters


@pytest.mark.parametrize("op,value,expected", [
    ("<", LAST - 5 * DAY, ("<", LAST - 3 * DAY)), (">", FIRST + 5 * DAY, (">", FIRST + 3 * DAY)),
    ("=", LAST - 3 * DAY, ("=", LAST - 3 * DAY)),
])
def test_date_bounds_a_few_days_inside_years_1_to_9999_are_still_pushed(op, value, expected):
    filters = search_filters(Condition("created_at", op, value), SearchField("created_at", "created_at", "date"))
    assert [(f["operator"], f["value"]) for f in filters] == [expected]


def test_contacts_near_the_end_of_the_range_are_listed_not_searched():
    scan_plan = plan("contacts", [Condition("created_at", "<", LAST), Condition("created_at", ">", FIRST)])
    assert (only_call(scan_plan).method, only_call(scan_plan).path) == ("GET", "/contacts")
    inside = only_call(plan("contacts", [Condition("created_at", "<", LAST - 5 * DAY)]))
    assert inside.body["query"] == {"field": "created_at", "operator": "<", "value": LAST - 3 * DAY}


def test_explain_of_a_date_bound_past_year_9999_shows_its_seconds():
    # (conditions_from_qual drops such bounds; plan_scan is given one here all the same)
    scan_plan = plan("conversations", [Condition("created_at", "<", LAST + 16 * 3600)])
    assert scan_plan.explain(True)


def test_date_inequality_is_not_pushed():
    assert search_filters(Condition("created_at", "<>", 5), SearchField("created_at", "created_at", "date")) == []


def test_loose_integer_bounds_never_under_fetch():
    field = SearchField("n", "n", "integer_loose")
    assert search_filters(Condition("n", ">=", 5), field) == [{"field": "n", "operator": ">", "value": 4}]
    assert search_filters(Condition("n", "<=", 5), field) == [{"field": "n", "operator": "<", "value": 6}]


@pytest.mark.parametrize("pattern,negated,expected", [
    ("ab%", False, ("prefix", "ab")),
    ("%ab", False, ("suffix", "ab")),
    ("%ab%", False, ("contains", "ab")),
    ("ab", False, ("=", "ab")),
    ("%ab%", True, ("not contains", "ab")),
    ("ab%", True, None),
    ("a_b%", False, None),
    ("a%b", False, None),
    ("%", False, None),
    ("a\\%b%", False, None),
])
def test_like_patterns(pattern, negated, expected):
    assert like_operator(pattern, negated) == expected


def test_negations_of_text_with_letters_are_not_pushed():
    # Intercom compares text case-insensitively, SQL does not: != 'Ann' would lose 'ann'.
    field = SearchField("email", "email", "string")
    assert search_filters(Condition("email", "<>", "Ann"), field) == []
    assert search_filters(Condition("email", "not like", "%ann%"), field) == []
    assert search_filters(Condition("email", "not in", ("1", "b")), field) == []
    assert search_filters(Condition("phone", "<>", "+1 555"), SearchField("phone", "phone", "string")) == [
        {"field": "phone", "operator": "!=", "value": "+1 555"}]


def test_search_terms_that_differ_from_the_values():
    field = SearchField("category", "category", "id", values={"Customer": "request", "Tracker": "tracker"})
    assert search_filters(Condition("category", "in", ("Customer", "Tracker")), field) == [
        {"field": "category", "operator": "IN", "value": ["request", "tracker"]}]
    assert search_filters(Condition("category", "=", "customer"), field) == []


def test_tag_ids_take_only_equality():
    field = SearchField("tag", "tag_id", "tag")
    assert search_filters(Condition("tag", "=", "1"), field) == [{"field": "tag_id", "operator": "=", "value": "1"}]
    assert search_filters(Condition("tag", "like", "1%"), field) == []


def test_text_columns_of_integer_fields_push_only_equality():
    field = SearchField("owner_id", "owner_id", "integer")
    assert search_filters(Condition("owner_id", "=", "12"), field) == [{"field": "owner_id", "operator": "=", "value": 12}]
    assert search_filters(Condition("owner_id", ">", "12"), field) == []
    assert search_filters(Condition("owner_id", ">", 12), field) == [{"field": "owner_id", "operator": ">", "value": 12}]


def test_at_most_fifteen_filters_and_the_most_selective_first():
    candidates = [(Condition(f"c{i}", "<>", str(i)), [{"field": f"c{i}", "operator": "!=", "value": str(i)}])
                  for i in range(20)]
    candidates.append((Condition("email", "=", "x"), [{"field": "email", "operator": "=", "value": "x"}]))
    query, pushed = build_query(candidates)
    assert len(query["value"]) == 15 and len(pushed) == 15
    assert query["value"][0] == {"field": "email", "operator": "=", "value": "x"}


def test_groups_never_mix_filters_and_groups():
    date = SearchField("created_at", "created_at", "date")
    candidates = [(c, search_filters(c, f)) for c, f in (
        (Condition("created_at", "in", (1, 2)), date),
        (Condition("email", "=", "x"), SearchField("email", "email", "string")),
        (Condition("role", "=", "user"), SearchField("role", "role", "string")),
    )]
    query, pushed = build_query(candidates)
    assert len(pushed) == 3 and query["operator"] == "AND"
    for group in query["value"]:
        kinds = {"field" in item for item in group["value"]}
        assert len(kinds) == 1
    assert {"operator": "AND", "value": [{"field": "email", "operator": "=", "value": "x"},
                                         {"field": "role", "operator": "=", "value": "user"}]} in query["value"]


def test_unpushable_conditions_stay_with_postgres():
    scan_plan = plan("contacts", [Condition("email", "is null")])
    assert only_call(scan_plan).path == "/contacts"
    assert scan_plan.pushed == ()


def test_full_contacts_scan_pages_by_150():
    call = only_call(plan("contacts"))
    assert (call.path, call.paging, call.per_page, call.max_items) == ("/contacts", "cursor", 150, None)


def test_limit_without_conditions_sizes_the_page_and_stops():
    scan_plan = plan("contacts", limit=5)
    call = only_call(scan_plan)
    assert (call.per_page, call.max_items) == (5, 5)
    assert scan_plan.expected_calls == "1"


def test_limit_with_offset_reads_both():
    assert only_call(plan("contacts", limit=5, offset=10)).max_items == 15


def test_limit_is_not_pushed_to_the_api_when_a_condition_is_widened():
    scan_plan = plan("contacts", [Condition("created_at", ">=", 1_000_000)], limit=5)
    assert scan_plan.row_limit is None and only_call(scan_plan).max_items is None


def test_articles_order_is_pushed_with_the_limit():
    keys = [SortKey("updated_at", True)]
    assert supported_sortkeys(SPECS["articles"], keys) == keys
    assert supported_sortkeys(SPECS["articles"], [SortKey("updated_at", False)]) == []
    scan_plan = plan("articles", sortkeys=keys, limit=10)
    assert scan_plan.sort_locally == () and only_call(scan_plan).max_items == 10


def test_an_order_with_nulls_placed_otherwise_than_by_default_is_left_to_postgres():
    # PostgreSQL trusts a claimed order, NULL placement included; the API's order and the
    # engine's local sort both follow the defaults (NULLS LAST ascending, NULLS FIRST descending).
    assert supported_sortkeys(SPECS["articles"], [SortKey("updated_at", True, nulls_first=False)]) == []
    assert supported_sortkeys(SPECS["companies"], [SortKey("last_request_at", False, nulls_first=True)]) == []
    for key in (SortKey("updated_at", True, nulls_first=True), SortKey("updated_at", True)):
        assert supported_sortkeys(SPECS["articles"], [key]) == [key]
    key = SortKey("last_request_at", False, nulls_first=False)
    assert supported_sortkeys(SPECS["companies"], [key]) == [key]


def test_companies_order_uses_the_ordered_list():
    call = only_call(plan("companies", sortkeys=[SortKey("last_request_at", False)], limit=3))
    assert (call.method, call.path, dict(call.params)) == ("POST", "/companies/list", {"order": "asc"})


def test_companies_order_carries_its_undocumented_null_placement_into_the_notes():
    for descending in (True, False):
        ordered = plan("companies", sortkeys=[SortKey("last_request_at", descending)], limit=3)
        assert any("without last_request_at" in note for note in ordered.notes), ordered.notes
    # only where the order is used: a scan sorted by PostgreSQL has no such caveat
    assert not any("without last_request_at" in note for note in plan("companies", limit=3).notes)
    assert not any("last_request_at" in note for note in plan("articles", sortkeys=[SortKey("updated_at", True)]).notes)


def test_pushed_order_on_another_route_is_sorted_locally():
    scan_plan = plan("companies", [Condition("company_id", "=", "c1")], sortkeys=[SortKey("last_request_at", True)],
                     limit=3)
    assert scan_plan.sort_locally == (("last_request_at", True),)
    assert scan_plan.row_limit is None


def test_companies_full_scan_scrolls_and_filters_use_list_parameters():
    assert only_call(plan("companies")).paging == "scroll"
    call = only_call(plan("companies", [Condition("name", "=", "Acme")]))
    assert (call.path, dict(call.params)) == ("/companies", {"name": "Acme"})


def test_list_parameter_in_a_list_is_one_call_per_value():
    calls = plan("companies", [Condition("company_id", "in", ("a", "b"))]).calls
    assert [dict(c.params) for c in calls] == [{"company_id": "a"}, {"company_id": "b"}]
    assert all(c.allow_404 for c in calls)  # Intercom answers 404 for a company_id it does not know


def test_tickets_full_scan_is_a_match_everything_search():
    call = only_call(plan("tickets"))
    assert call.path == "/tickets/search" and call.body["query"]["field"] == "created_at"


def test_ticket_type_table_pushes_its_type_and_checks_it():
    scan_plan = plan("tickets", table_options={"ticket_type_id": "77"})
    assert only_call(scan_plan).body == {"query": {"field": "ticket_type_id", "operator": "=", "value": "77"}}
    assert scan_plan.required_values == ()  # the search applies it: nothing left to check
    limited = plan("tickets", limit=3, table_options={"ticket_type_id": "77"})
    assert limited.row_limit == 3 and only_call(limited).per_page == 3
    by_id = plan("tickets", [Condition("id", "=", "1")], table_options={"ticket_type_id": "77"})
    assert by_id.required_values == (("ticket_type_id", "77"),)


def test_child_table_with_parent_values_calls_once_per_parent():
    scan_plan = plan("contact_tags", [Condition("contact_id", "in", tuple(f"c{i}" for i in range(10)))])
    assert [c.path for c in scan_plan.calls] == [f"/contacts/c{i}/tags" for i in range(10)]
    assert scan_plan.calls[3].inject == {"contact_id": "c3"}


def test_child_table_without_parent_values_scans_the_parent():
    scan_plan = plan("contact_tags")
    assert scan_plan.calls == () and scan_plan.child_calls.parent_plan.calls[0].path == "/contacts"


def test_the_injected_columns_are_those_the_objects_come_with():
    from intercom_fdw.engine import injected_columns

    assert injected_columns(plan("contact_tags")) == {"contact_id"}  # a scan of the parent
    assert injected_columns(plan("contact_tags", [Condition("contact_id", "=", "c1")])) == {"contact_id"}
    assert injected_columns(plan("contacts")) == set()


def test_conversation_parts_come_from_the_conversation():
    call = only_call(plan("conversation_parts", [Condition("conversation_id", "=", "9")]))
    assert (call.path, call.items_key) == ("/conversations/9", "conversation_parts.conversation_parts")


def test_data_attributes_one_call_per_model():
    assert [dict(c.params) for c in plan("data_attributes").calls] == [
        {"model": "contact"}, {"model": "company"}, {"model": "conversation"}]
    assert [dict(c.params) for c in plan("data_attributes", [Condition("model", "=", "company")]).calls] == [
        {"model": "company"}]


def test_data_attributes_model_outside_the_enum_makes_no_call():
    # Intercom answers 400 to an unknown model; SQL expects no rows.
    scan_plan = plan("data_attributes", [Condition("model", "=", "ticket")])
    assert scan_plan.calls == () and scan_plan.expected_calls == "0"
    assert [dict(c.params) for c in plan("data_attributes", [Condition("model", "in", ("Company", "company"))]).calls] \
        == [{"model": "company"}]


def test_events_need_a_contact():
    with pytest.raises(ConfigurationError) as error:
        plan("events")
    assert "contact_id" in error.value.hint
    call = only_call(plan("events", [Condition("email", "=", "a@b.c")]))
    assert dict(call.params) == {"type": "user", "email": "a@b.c"}
    assert plan("events", strict=False).calls == ()


def test_activity_logs_without_a_lower_bound_read_the_whole_log():
    scan_plan = plan("activity_logs")
    assert dict(only_call(scan_plan).params) == {"created_at_after": "0"}
    assert any("whole log" in line for line in scan_plan.explain())
    # an upper bound alone must not be paired with a recent default lower bound (it read nothing)
    old = plan("activity_logs", [Condition("created_at", "<", 1000)])
    assert dict(only_call(old).params) == {"created_at_after": "0", "created_at_before": "1001"}
    bounded = plan("activity_logs", [Condition("created_at", ">=", 1000), Condition("created_at", "<", 2000)])
    assert dict(only_call(bounded).params) == {"created_at_after": "999", "created_at_before": "2001"}


def test_pushdown_off_is_a_plain_full_scan():
    scan_plan = plan("contacts", [Condition("id", "=", "x"), Condition("email", "=", "y")], pushdown=False)
    assert only_call(scan_plan).path == "/contacts" and scan_plan.pushed == ()
    assert supported_sortkeys(SPECS["articles"], [SortKey("updated_at", True)], pushdown=False) == []


def test_extended_requests_only_when_selected_and_not_suppressed():
    assert plan("articles", columns=("id", "title")).extended is None
    assert plan("articles", columns=("id", "statistics_views")).extended is not None
    assert plan("articles", columns=("statistics_views",), suppress_extended_requests=True).extended is None
    # get by id already returns the statistics
    assert plan("articles", [Condition("id", "=", "1")], columns=("statistics_views",)).extended is None


def test_explain_shows_endpoint_filters_extended_and_calls():
    lines = plan("contacts", [Condition("email", "=", "a@b.c")]).explain(verbose=True)
    text = "\n".join(lines)
    assert "POST /contacts/search" in text and "email = 'a@b.c'" in text
    assert "Extended requests: no" in text and "Expected API calls: about 1" in text
    assert "Request body:" in text
    assert "Request body:" not in "\n".join(plan("contacts", [Condition("email", "=", "a@b.c")]).explain())


def test_path_keys_offer_parameterized_lookups():
    keys = dict(path_keys(SPECS["contacts"]))
    assert ("id",) in keys and ("external_id",) in keys and ("email",) in keys
    assert ("contact_id",) in dict(path_keys(SPECS["contact_tags"]))
    assert path_keys(SPECS["contacts"], pushdown=False) == []


def test_a_full_scan_of_companies_may_read_the_plain_list_when_no_scroll_can_be_opened():
    call = plan("companies").calls[0]
    assert (call.path, call.paging) == ("/companies/scroll", "scroll")
    listed, reach = call.stand_in
    assert (listed.path, listed.paging, listed.per_page, reach) == ("/companies", "page", 60, 10_000)
    assert plan("contacts").calls[0].stand_in is None


def parameter_of(pg_type):
    """The value a runtime's parameter (UNBOUND, or multicorn2's stand-in) becomes in EXPLAIN."""
    from intercom_fdw.planning.quals import Parameter, conditions_from_qual
    [condition] = conditions_from_qual("c", "=", Parameter(), pg_type)
    return condition.value


@pytest.mark.parametrize("kind, pg_type, op, expected", [
    ("date", "timestamp with time zone", ">=", [{"field": "f", "operator": ">", "value": "$param"}]),
    ("date", "timestamp with time zone", "<=", [{"field": "f", "operator": "<", "value": "$param"}]),
    ("day", "date", "=", [{"field": "f", "operator": ">", "value": "$param"},
                          {"field": "f", "operator": "<", "value": "$param"}]),
    ("integer", "integer", ">", [{"field": "f", "operator": ">", "value": "$param"}]),
    ("integer_loose", "bigint", ">=", [{"field": "f", "operator": ">", "value": "$param"}]),
    ("float", "double precision", "<", [{"field": "f", "operator": "<", "value": "$param"}]),
    ("boolean", "boolean", "=", [{"field": "f", "operator": "=", "value": "$param"}]),
    ("integer_loose", "text", "=", [{"field": "f", "operator": "=", "value": "$param"}]),
    # a text column holding integers compares as text: no numeric range, whatever the value
    ("integer_loose", "text", ">", []),
    ("date", "text", ">", []),
])
def test_a_parameter_while_explain_runs_makes_the_filter_its_value_makes(kind, pg_type, op, expected):
    # EXPLAIN of a generic plan ($1) or a join's parameter: a date, number or boolean parameter made
    # no filter (its placeholder is text), so EXPLAIN showed a full scan where execution searched.
    assert search_filters(Condition("c", op, parameter_of(pg_type)), SearchField("c", "f", kind)) == expected


def test_a_date_parameter_plans_the_search_and_window_that_execution_sends():
    moment = parameter_of("timestamp with time zone")
    searched = plan("contacts", [Condition("created_at", ">=", moment)])
    assert only_call(searched).path == "/contacts/search" and searched.pushed == ("created_at >= '$param'",)
    windowed = plan("activity_logs", [Condition("created_at", ">=", moment), Condition("created_at", "<", 10 ** 9)])
    assert only_call(windowed).params == {"created_at_after": "$param", "created_at_before": str(10 ** 9 + 1)}


def test_a_lookup_per_outer_row_is_priced_as_a_page_of_rows_where_a_full_scan_can_run_twice():
    # multicorn prices a path at its rows * width: a lookup at 1 row cost one row of a full scan, and
    # PostgreSQL joined two foreign tables (conversations to contacts on id) with a call per outer row
    from intercom_fdw.planning.scan import ROWS_PER_CALL
    contacts = dict(path_keys(SPECS["contacts"]))
    assert contacts[("id",)] == contacts[("email",)] == ROWS_PER_CALL == 150
    # one companies scroll per workspace: a self-join of companies runs with one side looked up
    companies = dict(path_keys(SPECS["companies"]))
    assert companies[("id",)] == companies[("company_id",)] == 1
    # a child table read per parent value keeps its rows: its full scan is a call per parent anyway
    assert dict(path_keys(SPECS["contact_tags"]))[("contact_id",)] == SPECS["contact_tags"].row_estimate


@pytest.mark.parametrize("table, column", [("contact_tags", "contact_id"), ("contacts", "id"),
                                           ("tag_contacts", "tag_id"), ("conversation_parts", "conversation_id")])
def test_is_null_on_a_column_every_row_holds_makes_no_call(table, column):
    # how multicorn hands over a joined row's NULL key: contact_tags read every contact's tags for it
    found = plan(table, [Condition(column, "is null")], strict=True)
    assert found.calls == () and found.child_calls is None and found.expected_calls == "0"
    assert found.estimated_rows == 1 and found.strategy == f"no row can match ({column} is NULL)"


@pytest.mark.parametrize("table, column", [("contacts", "email"), ("companies", "company_id"), ("events", "email"),
                                           ("contact_tags", "contact_id"), ("activity_logs", "created_at")])
def test_a_comparison_with_null_makes_no_call(table, column):
    # a NULL join key or `$1` on a nullable column read the whole table; on events it refused the query
    found = plan(table, [Condition(column, "never", "= NULL"), Condition("id", "=", "abc")], strict=True)
    assert found.calls == () and found.child_calls is None and found.expected_calls == "0"
    assert found.estimated_rows == 1 and found.partitions is None
    assert found.strategy == f"no row can match ({column} = NULL: a comparison with NULL is never true)"
    assert "Request: none" in found.explain()
    assert plan(table, [Condition(column, "never", "= NULL")], scan_mode="partitioned").calls == ()


def test_is_null_on_a_column_rows_may_leave_null_is_no_such_shortcut():
    assert only_call(plan("contacts", [Condition("email", "is null")])).path == "/contacts"
    with pytest.raises(ConfigurationError, match="email is NULL here") as caught:
        plan("events", [Condition("email", "is null")], strict=True)
    assert caught.value.hint.startswith("Keep the NULLs out of the join")
