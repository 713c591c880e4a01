"""Writing a time Intercom cannot hold (infinity, BC, years past 9999) into a timestamptz column:
refused before any call, saying why. The HINT used to be "an ISO 8601 timestamp is expected (SET
DateStyle = ISO)", which a user in DateStyle ISO cannot act on. The last second of year 9999 is
written and read back."""
import pytest

from tests.integration.write_fixtures import wdb, write_emulator  # noqa: F401  (pytest fixtures)

pytestmark = pytest.mark.timeout(300)


@pytest.mark.parametrize("value", ["infinity", "-infinity", "20000-01-01 00:00:00+00", "0044-03-15 00:00:00+00 BC"])
@pytest.mark.parametrize("statement", [
    "UPDATE intercom.contacts SET signed_up_at = %s WHERE id = '{id}'",
    "INSERT INTO intercom.contacts (email, signed_up_at) VALUES ('extreme@example.com', %s)",
])
def test_a_time_intercom_cannot_hold_is_refused_saying_why(wdb, statement, value):
    contact = wdb.api.all("/contacts")[0]["id"]
    wdb.api.reset_counters()
    diag = wdb.fails(statement.format(id=contact), "invalid value", (value,))
    assert "column signed_up_at" in diag.message_primary
    assert "Intercom holds times of the years 1 to 9999" in diag.message_hint, diag.message_hint
    assert "DateStyle" not in diag.message_hint
    assert wdb.writes() == {}


def test_the_last_second_of_year_9999_is_written(wdb):
    contact = wdb.api.all("/contacts")[1]["id"]
    row = wdb.one("UPDATE intercom.contacts SET signed_up_at = '9999-12-31 23:59:59+00' WHERE id = %s "
                  "RETURNING signed_up_at::text AS t", (contact,))
    assert row["t"] == "9999-12-31 23:59:59+00"
