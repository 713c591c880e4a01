"""Errors, options, secrets and concurrency of the read path, through PostgreSQL."""

import psycopg
import pytest
from psycopg import sql

pytestmark = pytest.mark.timeout(300)


def sql_error(read_db, query, params=None) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as caught:
        read_db.rows(query, params)
    return caught.value


def test_events_without_a_contact_fail_with_a_hint(read_db):
    error = sql_error(read_db, "SELECT * FROM intercom.events")
    assert "events" in error.diag.message_primary and "contact_id" in error.diag.message_primary
    assert "WHERE contact_id" in error.diag.message_hint


def test_events_of_an_unknown_contact_are_no_rows(read_db):
    assert read_db.rows("SELECT * FROM intercom.events WHERE email = 'nobody@nowhere.invalid'") == []


def test_events_join_runs_per_contact(read_db, api):
    emails = [c["email"] for c in api.all("/contacts")[:5] if c.get("email")]
    read_db.conn.execute("CREATE TABLE my_emails (email text PRIMARY KEY)")
    with read_db.conn.cursor() as cursor:
        cursor.executemany("INSERT INTO my_emails VALUES (%s)", [(e,) for e in emails])
    read_db.conn.execute("ANALYZE my_emails")
    rows, routes = read_db.calls("SELECT e.event_name FROM my_emails m JOIN intercom.events e ON e.email = m.email")
    assert routes == {"GET /events": len(emails)}


def test_a_very_long_id_is_shortened_in_the_error(read_db):
    error = sql_error(read_db, "SELECT * FROM intercom.contacts WHERE id = repeat('z', 100000)")
    assert "GET /contacts/" + "z" * 40 + "…(100000 characters)" in error.diag.message_primary
    assert len(error.diag.message_primary) < 500, error.diag.message_primary[:1000]
    assert "Intercom's message" not in error.diag.message_hint and "too long" in error.diag.message_hint


def test_a_very_long_id_is_shortened_in_explain(read_db):
    plan = read_db.explain("SELECT * FROM intercom.contacts WHERE id = repeat('z', 100000)", verbose=True)
    assert "GET /contacts/" + "z" * 40 + "…(100000 characters)" in plan
    ours = [line for line in plan.splitlines() if "Multicorn:" in line]  # (PostgreSQL's Filter: shows it whole)
    assert ours and max(map(len, ours)) < 1000, max(map(len, ours))


def test_unknown_option_lists_the_valid_ones(read_db, emulator):
    read_db.conn.execute("CREATE FOREIGN TABLE public.typo (id text) SERVER intercom "
                         "OPTIONS (object 'contacts', pushdwon 'false')")
    error = sql_error(read_db, "SELECT * FROM public.typo")
    assert "pushdwon" in error.diag.message_primary and "pushdown" in error.diag.message_hint


def test_unknown_object_and_column(read_db):
    read_db.conn.execute("CREATE FOREIGN TABLE public.nothing (id text) SERVER intercom OPTIONS (object 'contact')")
    error = sql_error(read_db, "SELECT * FROM public.nothing")
    assert "contact" in error.diag.message_primary and "contacts" in error.diag.message_hint
    read_db.conn.execute("CREATE FOREIGN TABLE public.extra (id text, shoe_size int) SERVER intercom "
                         "OPTIONS (object 'contacts')")
    error = sql_error(read_db, "SELECT * FROM public.extra")
    assert "shoe_size" in error.diag.message_primary and "custom_attribute" in error.diag.message_hint


def test_token_never_shows(pg, read_db, emulator):
    secret = "tok-wrong-" + "9f2c7d1e5a"
    conn = read_db.conn
    conn.execute(sql.SQL("CREATE SERVER wrong_token FOREIGN DATA WRAPPER multicorn OPTIONS "
                         "(wrapper 'intercom_fdw.IntercomFdw', api_url {})").format(sql.Literal(emulator.url)))
    conn.execute(sql.SQL("CREATE USER MAPPING FOR CURRENT_USER SERVER wrong_token OPTIONS (access_token {})").format(
        sql.Literal(secret)))
    conn.execute("CREATE FOREIGN TABLE public.wrong_contacts (id text, email text) SERVER wrong_token "
                 "OPTIONS (object 'contacts')")
    error = sql_error(read_db, "SELECT * FROM public.wrong_contacts")
    shown = " ".join(filter(None, (error.diag.message_primary, error.diag.message_hint, error.diag.message_detail)))
    assert "401" in shown or "auth" in shown.lower()
    plan = read_db.explain("SELECT * FROM public.wrong_contacts WHERE email = 'a'", verbose=True)
    assert secret not in shown and secret not in plan and emulator.token not in plan
    assert secret not in pg.log_tail(400)


def test_column_of_the_wrong_type(read_db):
    read_db.conn.execute("CREATE FOREIGN TABLE public.bad_type (id text, created_at bigint) SERVER intercom "
                         "OPTIONS (object 'contacts')")
    error = sql_error(read_db, "SELECT * FROM public.bad_type")
    assert "created_at" in error.diag.message_primary and "timestamptz" in error.diag.message_hint
