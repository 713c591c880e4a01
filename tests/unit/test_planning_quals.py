"""Normalising Multicorn's qual forms into Conditions."""
import datetime as dt

import pytest

from intercom_fdw.planning import Condition, condition_from_qual
from intercom_fdw.planning.quals import epoch_seconds


@pytest.mark.parametrize("value,expected", [
    ("2024-01-01 00:00:00+00", 1704067200),
    ("2024-01-01 02:00:00+02", 1704067200),
    ("2024-01-01 00:00:00.75+00", 1704067200),
    (dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc), 1704067200),
    (dt.date(2024, 1, 1), 1704067200),
    ("infinity", None),
])
def test_timestamps_become_epoch_seconds(value, expected):
    assert epoch_seconds(value) == expected


def test_timestamp_qual():
    assert condition_from_qual("created_at", ">=", "2024-01-01 00:00:00+00", "timestamp with time zone") == \
        Condition("created_at", ">=", 1704067200)


def test_boolean_false_passed_as_not_true():
    assert condition_from_qual("open", "<>", "t", "boolean") == Condition("open", "=", False)
    assert condition_from_qual("open", "=", True, "boolean") == Condition("open", "=", True)


def test_in_and_not_in_lists():
    assert condition_from_qual("id", ("=", True), ["a", "b"], "text") == Condition("id", "in", ("a", "b"))
    assert condition_from_qual("id", ("<>", False), ["a"], "text") == Condition("id", "not in", ("a",))
    assert condition_from_qual("id", ("=", False), ["a"], "text") is None
    assert condition_from_qual("n", ("=", True), ["1", "x"], "integer") is None


def test_null_tests_and_like():
    assert condition_from_qual("email", "=", None, "text") == Condition("email", "is null")
    assert condition_from_qual("email", "<>", None, "text") == Condition("email", "is not null")
    assert condition_from_qual("email", "~~", "a%", "text") == Condition("email", "like", "a%")
    assert condition_from_qual("email", "~~*", "a%", "text") is None


def test_unrepresentable_values_are_left_to_postgres():
    assert condition_from_qual("n", "=", "not a number", "integer") is None
    assert condition_from_qual("attrs", "=", "{}", "jsonb") is None
    assert condition_from_qual("x", "@>", "a", "text") is None
