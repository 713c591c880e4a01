"""The runtime's fast paths (exact int, float, bool, str, datetime, date values computed directly)
give what the text path gives: str(value) or value.isoformat() through the column's input
function, as multicorn2 converts every value. Each value is returned once as itself and once in
its text form (a str subclass for str, so that it too takes the text path), side by side."""
import psycopg
import pytest

ZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe")

NAIVE = [
    "datetime.datetime(2024, 1, 2, 3, 4, 5)",
    "datetime.datetime(2024, 1, 2, 3, 4, 5, 123456)",
    "datetime.datetime(2024, 1, 2, 3, 4, 5, 1)",
    "datetime.datetime(2024, 3, 31, 2, 30)",  # Paris: skipped by the spring change
    "datetime.datetime(2024, 10, 27, 2, 30)",  # Paris: happens twice
    "datetime.datetime(2024, 3, 10, 2, 30)",  # New York: skipped
    "datetime.datetime(2024, 11, 3, 1, 30, fold=1)",  # New York: twice (fold is ignored by both)
    "datetime.datetime(2024, 4, 7, 1, 45)",  # Lord Howe: half-hour DST
    "datetime.datetime(1900, 1, 1, 0, 0)",  # local mean time offsets with seconds
    "datetime.datetime(1970, 1, 1)",
    "datetime.datetime(1, 1, 1)",
    "datetime.datetime(9999, 12, 31, 23, 59, 59, 999999)",
]

AWARE = [
    "datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)",
    "datetime.datetime(2024, 1, 2, 3, 4, 5, 999999, tzinfo=datetime.timezone.utc)",
    "datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=5, minutes=30)))",
    "datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(-datetime.timedelta(hours=3, minutes=30)))",
    "datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(seconds=3725)))",
    "datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone(datetime.timedelta(hours=15, minutes=59, seconds=59)))",
    "datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone(-datetime.timedelta(hours=15, minutes=59, seconds=59)))",
    "datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone(datetime.timedelta(hours=16)))",  # beyond PostgreSQL's
    "datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone(-datetime.timedelta(hours=23, minutes=59)))",
    "datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone(datetime.timedelta(microseconds=500)))",
    "datetime.datetime(2024, 10, 27, 2, 30, tzinfo=ZoneInfo('Europe/Paris'))",
    "datetime.datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=ZoneInfo('Europe/Paris'))",
    "datetime.datetime(2024, 3, 31, 2, 30, tzinfo=ZoneInfo('Europe/Paris'))",
    "datetime.datetime(1900, 1, 1, tzinfo=ZoneInfo('Europe/Paris'))",  # LMT +00:09:21
    "datetime.datetime(1, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))",  # 1 BC in UTC
    "datetime.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=datetime.timezone(-datetime.timedelta(hours=15)))",
    "datetime.datetime(2024, 1, 2, tzinfo=NoOffset())",  # aware in name only: utcoffset() None
    "datetime.datetime(2024, 1, 2, tzinfo=BrokenOffset())",  # utcoffset() raises
]

# defined inside the expression: the test FDW evaluates rows with datetime, decimal, json, uuid
PRELUDE = (
    "(lambda ZoneInfo, NoOffset, BrokenOffset: [{'fast': %s, 'slow': %s}])("
    "__import__('zoneinfo').ZoneInfo, "
    "type('NoOffset', (datetime.tzinfo,), {'utcoffset': lambda self, dt: None}), "
    "type('BrokenOffset', (datetime.tzinfo,), {'utcoffset': lambda self, dt: 1 / 0}))"
)


def side_by_side(fdw, column_type, value, text_form):
    """(fast, slow): each ('ok', PostgreSQL's text of the value) or ('error', message)."""
    fdw.table("fp", f"fast {column_type}, slow {column_type}", rows=PRELUDE % (value, text_form))
    results = []
    for column in ("fast", "slow"):
        try:
            [(text,)] = fdw.sql(f"SELECT {column}::text FROM fp")
            results.append(("ok", text))
        except psycopg.Error as exc:
            results.append(("error", exc.diag.message_primary))
    return tuple(results)


def iso(value):
    return f"({value}).isoformat()"


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("column_type", ["timestamptz", "timestamp", "timestamptz(0)", "timestamp(3)"])
def test_datetimes(fdw, zone, column_type):
    fdw.sql(f"SET TimeZone = '{zone}'")
    for value in NAIVE + AWARE:
        if "BrokenOffset" in value:
            continue  # below: both fail, with the same message
        fast, slow = side_by_side(fdw, column_type, value, iso(value))
        assert fast == slow, (value, fast, slow)


def test_an_offset_that_fails_is_reported_by_the_text_path(fdw):
    fast, _ = side_by_side(fdw, "timestamptz", "datetime.datetime(2024, 1, 2, tzinfo=BrokenOffset())", "None")
    assert fast == ("error", "Error in python: ZeroDivisionError")


def test_datetimes_out_of_range_offsets_fail_as_on_the_text_path(fdw):
    value = "datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone(datetime.timedelta(hours=16)))"
    fast, slow = side_by_side(fdw, "timestamptz", value, iso(value))
    assert fast == slow and fast[0] == "error" and "out of range" in fast[1]


@pytest.mark.parametrize("value", [
    "datetime.date(2024, 2, 29)", "datetime.date(1, 1, 1)", "datetime.date(9999, 12, 31)",
    "datetime.date(1582, 10, 10)", "datetime.date(1970, 1, 1)", "datetime.date(2000, 1, 1)",
])
def test_dates(fdw, value):
    fast, slow = side_by_side(fdw, "date", value, iso(value))
    assert fast == slow and fast[0] == "ok", (fast, slow)


@pytest.mark.parametrize("value", [
    "0.1", "-0.0", "1e308", "5e-324", "1 / 3", "float('inf')", "float('-inf')", "float('nan')", "2.0 ** 53 + 2",
])
def test_floats(fdw, value):
    fast, slow = side_by_side(fdw, "float8", value, f"str({value})")
    assert fast == slow and fast[0] == "ok", (fast, slow)


@pytest.mark.parametrize("column_type, value", [
    (t, v) for t, bits in (("int2", 16), ("int4", 32), ("int8", 64))
    for v in (f"2 ** {bits - 1} - 1", f"-2 ** {bits - 1}", f"2 ** {bits - 1}", f"-2 ** {bits - 1} - 1", "0", "-1",
              "2 ** 70")
])
def test_integers_and_their_ranges(fdw, column_type, value):
    fast, slow = side_by_side(fdw, column_type, value, f"str({value})")
    assert fast == slow, (fast, slow)


@pytest.mark.parametrize("value", ["True", "False"])
def test_booleans(fdw, value):
    assert side_by_side(fdw, "bool", value, f"str({value})") == (("ok", value.lower()),) * 2


STR = "type('S', (str,), {})"  # a str subclass takes the text path


@pytest.mark.parametrize("column_type, value", [
    ("varchar(3)", "'abc'"), ("varchar(3)", "''"), ("varchar(3)", "'abcd'"),
    ("varchar(3)", "'abc   '"),  # too long only by blanks: varchar(n) cuts them
    ("varchar(3)", "'éé'"), ("varchar(3)", "'ééé'"), ("varchar(3)", "'éééé'"),
    ("varchar", "'any length at all'"), ("text", "'naïve \\\\ \"quoted\"'"),
])
def test_strings(fdw, column_type, value):
    fast, slow = side_by_side(fdw, column_type, value, f"{STR}({value})")
    assert fast == slow, (fast, slow)


# UNIX seconds at timestamptz's edges (4714-11-24 BC and 294276-12-31 AD, UTC), either side, and in between
UNIX_SECONDS = ["0", "1", "-1", "1700000000", "253402300799", "253402300800", "-62135596800", "-62135596801",
                "-210866803200", "-210866803201", "9224318015999", "9224318016000", "2 ** 63 - 1", "-2 ** 63", "2 ** 70"]


def test_the_runtime_says_it_takes_unix_seconds_for_timestamptz():
    import multicorn

    assert multicorn.TIMESTAMPTZ_FROM_UNIX_SECONDS is True


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata"])
@pytest.mark.parametrize("column_type", ["timestamptz", "timestamptz(0)"])
def test_unix_seconds_for_timestamptz_are_the_instants_they_count(fdw, zone, column_type):
    fdw.sql(f"SET TimeZone = '{zone}'")
    beyond = 0
    for value in UNIX_SECONDS:
        fast, slow = side_by_side(fdw, column_type, value, "None")[0], side_by_side(fdw, column_type, f"str({value})", "None")[0]
        try:
            # to_timestamp(v) exactly (its float8 loses microseconds at the far end): days and seconds apart
            # (in UTC: a day of the session's zone is not always 86,400 s)
            [(expected,)] = fdw.sql(f"SELECT ((timestamp 'epoch' + div(({value})::numeric, 86400) * interval '1 day'"
                                    f" + mod(({value})::numeric, 86400) * interval '1 second') AT TIME ZONE 'UTC')"
                                    f"::{column_type}::text")
        except psycopg.Error:
            # beyond timestamptz: the digits go to timestamptz_in, which refuses them, as before
            assert fast == slow and fast[0] == "error", (value, fast, slow)
            beyond += 1
            continue
        assert fast == ("ok", expected), (value, fast, expected)
    assert beyond == 5


@pytest.mark.parametrize("column_type, value", [
    ("timestamp", "1700000000"), ("timestamptz", "type('I', (int,), {})(1700000000)"), ("timestamptz", "True"),
])
def test_other_ints_take_the_text_path(fdw, column_type, value):
    """A timestamp without time zone, an int subclass and a bool: timestamptz_in's error, as before."""
    fast, slow = side_by_side(fdw, column_type, value, "None")[0], side_by_side(fdw, column_type, f"str({value})", "None")[0]
    assert fast == slow and fast[0] == "error", (fast, slow)
