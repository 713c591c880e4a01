"""Timestamps: the fast path for whole seconds gives exactly what the general path gives."""
import datetime as dt

from intercom_fdw.shaping import CONVERT

timestamp = CONVERT["unix_timestamp"]


def general(seconds):
    return dt.datetime.fromtimestamp(float(seconds), dt.timezone.utc).isoformat()


def test_whole_seconds_match_the_general_path():
    for seconds in (0, 1, 59, 86399, 951782400, 1704067200, 1791060916, 4102444800, 253402300799):
        assert timestamp(seconds) == general(seconds), seconds


def test_values_outside_the_fast_range_and_other_forms_still_convert():
    assert timestamp(-1) == "1969-12-31T23:59:59+00:00"
    assert timestamp(1704067200.5) == "2024-01-01T00:00:00.500000+00:00"
    assert timestamp("1704067200") == "2024-01-01T00:00:00+00:00"
    assert timestamp("2024-01-01T00:00:00Z") == "2024-01-01T00:00:00+00:00"
    assert timestamp(253402300800) is None  # year 10000: no ISO form PostgreSQL would take from datetime
    assert timestamp(True) is None
