"""Timestamps and dates leave as aware UTC datetimes and dates. multicorn2 hands PostgreSQL their
isoformat() text, so that text must be what shaping produced as text before: checked here."""
import datetime as dt

from intercom_fdw.shaping import CONVERT

timestamp = CONVERT["unix_timestamp"]
date = CONVERT["unix_date"]


def general(seconds):
    return dt.datetime.fromtimestamp(float(seconds), dt.timezone.utc).isoformat()


def test_whole_seconds_match_the_general_path():
    for seconds in (-86400 * 365 * 100, -1, 0, 1, 59, 86399, 951782400, 1704067200, 1791060916, 4102444800,
                    253402300799):
        moment = timestamp(seconds)
        assert type(moment) is dt.datetime and moment.tzinfo is dt.timezone.utc
        assert moment.isoformat() == general(seconds), seconds


def test_values_outside_the_whole_seconds_and_other_forms_still_convert():
    assert timestamp(-1).isoformat() == "1969-12-31T23:59:59+00:00"
    assert timestamp(1704067200.5).isoformat() == "2024-01-01T00:00:00.500000+00:00"
    assert timestamp("1704067200").isoformat() == "2024-01-01T00:00:00+00:00"
    assert timestamp("2024-01-01T00:00:00Z").isoformat() == "2024-01-01T00:00:00+00:00"
    assert timestamp("2024-01-01T02:00:00+02:00").isoformat() == "2024-01-01T00:00:00+00:00"
    assert timestamp(253402300800) is None  # year 10000: no ISO form PostgreSQL would take from datetime
    assert timestamp(2 ** 70) is None and timestamp(-2 ** 70) is None
    assert timestamp(True) is None and timestamp("soon") is None


def test_dates_are_the_utc_day():
    assert date(1704153600) == dt.date(2024, 1, 2) and type(date(1704153600)) is dt.date
    assert date(1704153599).isoformat() == "2024-01-01"
    assert date(-1).isoformat() == "1969-12-31"
    assert date(253402300800) is None and date("x") is None
