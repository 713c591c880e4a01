"""The search engine as pure logic: no HTTP, no store (a two-field schema and plain dicts)."""
import pytest

from zoneinfo import ZoneInfo

from intercom_fdw.emulator.apierror import ApiError
from intercom_fdw.emulator.search import (
    CONTACT_OPERATORS, CONVERSATION_OPERATORS, DATE, INTEGER, STRING, Field, SearchSchema, compile_query,
    day_bounds, path_reader,
)


def _schema(operators):
    return SearchSchema("thing", {"name": Field(STRING, path_reader("name")),
                                  "size": Field(INTEGER, path_reader("size")),
                                  "at": Field(DATE, path_reader("at"))}, operators)


THINGS = [{"name": "Alpha", "size": 1, "at": 1_700_000_000}, {"name": "beta", "size": 5, "at": 1_700_050_000},
          {"name": None, "size": None, "at": None}]


def _match(query, operators=CONTACT_OPERATORS, tz="UTC"):
    predicate = compile_query(query, _schema(operators), None, tz)
    return [t["name"] for t in THINGS if predicate(t)]


def test_string_operators_are_case_insensitive():
    assert _match({"field": "name", "operator": "=", "value": "ALPHA"}) == ["Alpha"]
    assert _match({"field": "name", "operator": "^", "value": "b"}) == ["beta"]
    assert _match({"field": "name", "operator": "$", "value": "HA"}) == ["Alpha"]
    assert _match({"field": "name", "operator": "!~", "value": "alp"}) == ["beta", None]


def test_integer_bounds_are_strict_for_contacts_inclusive_for_conversations():
    assert _match({"field": "size", "operator": ">", "value": 1}) == ["beta"]
    assert _match({"field": "size", "operator": ">", "value": 1}, CONVERSATION_OPERATORS) == ["Alpha", "beta"]


def test_day_bounds_follow_the_time_zone():
    utc_start, utc_end = day_bounds(1_700_000_000, ZoneInfo("UTC"))  # 2023-11-14 22:13 UTC
    assert (utc_start, utc_end) == (1_699_920_000, 1_700_006_400)
    paris_start, paris_end = day_bounds(1_700_000_000, ZoneInfo("Europe/Paris"))  # 23:13 in Paris
    assert (paris_start, paris_end) == (1_699_916_400, 1_700_002_800)  # Paris midnight is 23:00 UTC
    assert _match({"field": "at", "operator": "=", "value": 1_699_999_999}) == ["Alpha"]
    assert _match({"field": "at", "operator": ">", "value": 1_699_930_000}) == ["beta"]


@pytest.mark.parametrize("query", [
    {"operator": "AND", "value": []},
    {"operator": "XOR", "value": [{"field": "name", "operator": "=", "value": "a"}]},
    {"field": "size", "operator": "~", "value": "1"},
    {"field": "at", "operator": ">=", "value": 1},
    {"field": "size", "operator": "IN", "value": 3},
    {"field": "size", "operator": "=", "value": [1]},
    {"field": "size", "operator": "=", "value": True},
    "not an object",
])
def test_invalid_queries_raise_intercom_errors(query):
    with pytest.raises(ApiError) as raised:
        compile_query(query, _schema(CONTACT_OPERATORS), None, "UTC")
    assert raised.value.status == 400 and raised.value.message


@pytest.mark.parametrize("value,tz", [
    (253402300799, "UTC"), (253402300799, "Pacific/Kiritimati"), (253402300799, "Pacific/Pago_Pago"),
    (253402300799 - 86400 + 1, "Pacific/Kiritimati"), (-62135596800 - 1, "UTC"), (-62135596800, "America/Los_Angeles"),
    (10 ** 15, "UTC"), (-10 ** 15, "UTC"),
])
def test_a_contact_date_outside_years_1_to_9999_is_a_400_not_a_crash(value, tz):
    # Compared by calendar day in the zone: the day of 9999-12-31 ends in year 10000; year 1 starts after year 0.
    for operator in ("=", "<", ">"):
        with pytest.raises(ApiError) as raised:
            compile_query({"field": "at", "operator": operator, "value": value}, _schema(CONTACT_OPERATORS), None, tz)
        assert (raised.value.status, raised.value.code) == (400, "parameter_invalid"), raised.value.message
        assert "'at'" in raised.value.message


def test_dates_two_days_inside_years_1_to_9999_compare_by_day_in_any_zone():
    for tz in ("UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"):
        for value in (253402300799 - 2 * 86400, -62135596800 + 2 * 86400):
            for operator in ("=", "<", ">"):
                compile_query({"field": "at", "operator": operator, "value": value}, _schema(CONTACT_OPERATORS),
                              None, tz)
