"""`intercom-fdw setup` through a real PostgreSQL and the emulator: an empty database to working
queries, a second run that changes nothing and says so, the token in no output nor server log;
`--refresh` after the workspace gained an attribute and a ticket type; `--login` by a browser sign-in."""
import webbrowser

import psycopg
import pytest
import requests

from intercom_fdw.tools.cli import main
from tests.emulator_fixtures import running_emulator
from tests.integration.oauth_browser import SigningInBrowser, pasted_stdin  # noqa: F401 (a fixture)

pytestmark = pytest.mark.timeout(300)


def test_setup_twice_on_an_empty_database(pg, emulator, monkeypatch, capsys):
    db = pg.create_database("setup_cli", extensions=())
    dsn = pg.dsn(db)
    with psycopg.connect(dsn, autocommit=True) as conn:  # the server logs every statement of this database
        conn.execute(f"ALTER DATABASE {db} SET log_statement = 'all'")
        conn.execute(f"ALTER DATABASE {db} SET log_min_messages = 'log'")
    monkeypatch.setenv("SETUP_TEST_TOKEN", emulator.token)
    argv = ["setup", "--dsn", dsn, "--token-env", "SETUP_TEST_TOKEN", "--api-url", emulator.url]

    assert main(argv) == 0
    first = capsys.readouterr()
    assert "created extension multicorn" in first.out and "created server intercom" in first.out
    assert "created the user mapping" in first.out and "imported" in first.out
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM intercom.admins").fetchone()[0] > 0
        extensions = {r[0] for r in conn.execute("SELECT extname FROM pg_extension")}
        assert {"multicorn", "intercom_fdw"} <= extensions

    assert main(argv) == 0
    second = capsys.readouterr()
    assert second.out.strip().startswith("nothing to change: the database is set up")
    assert "--refresh" in second.out

    log = pg.log.read_text(errors="replace")
    assert "IMPORT FOREIGN SCHEMA intercom FROM SERVER" in log  # the log does show setup's statements
    for text in (first.out, first.err, second.out, second.err, pg.log.read_text(errors="replace")):
        assert emulator.token not in text


def test_setup_without_the_token_variable_says_which(pg, monkeypatch, capsys):
    monkeypatch.delenv("SETUP_NO_SUCH_TOKEN", raising=False)
    assert main(["setup", "--dsn", pg.dsn(), "--token-env", "SETUP_NO_SUCH_TOKEN"]) == 1
    assert "SETUP_NO_SUCH_TOKEN is not set" in capsys.readouterr().err


def _api(emulator, method, path, body=None):
    answer = requests.request(method, emulator.url + path, json=body, timeout=10, headers={
        "Authorization": f"Bearer {emulator.token}", "Intercom-Version": "2.14"})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _catalog(dsn):
    with psycopg.connect(dsn) as conn:
        return {(table, column) for table, column in conn.execute(
            "SELECT c.relname, a.attname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
            "WHERE n.nspname = 'intercom' AND c.relkind = 'f'")}


def test_refresh_adds_the_column_of_a_new_attribute_and_the_table_of_a_new_ticket_type(pg, monkeypatch, capsys):
    with running_emulator(seed=11, contacts=20, companies=6, conversations=6, tickets=4, articles=2) as emulator:
        db = pg.create_database("setup_refresh", extensions=())
        dsn = pg.dsn(db)
        monkeypatch.setenv("SETUP_REFRESH_TOKEN", emulator.token)
        argv = ["setup", "--dsn", dsn, "--token-env", "SETUP_REFRESH_TOKEN", "--api-url", emulator.url]
        assert main(argv) == 0
        assert main(argv + ["--refresh"]) == 0  # imported just now: nothing to catch up
        assert capsys.readouterr().out.strip().endswith("nothing to change: the database is set up")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE VIEW public.company_names AS SELECT id, name FROM intercom.companies")
            conn.execute("CREATE VIEW public.every_company AS SELECT * FROM intercom.companies")
            expected_companies = conn.execute("SELECT count(*) FROM public.company_names").fetchone()[0]
        before = _catalog(dsn)

        _api(emulator, "POST", "/data_attributes", {"name": "renewal_tier", "model": "company", "data_type": "string"})
        _api(emulator, "POST", "/ticket_types", {"name": "Warranty claim", "category": "Customer"})
        assert main(argv + ["--refresh"]) == 0
        out = capsys.readouterr().out
        after = _catalog(dsn)
        added = after - before
        new_tables = {table for table, _ in added} - {table for table, _ in before}
        assert new_tables == {"warranty_claim_tickets"}, out
        assert added - {(t, c) for t, c in added if t in new_tables} == {("companies", "renewal_tier")}
        assert before <= after  # nothing dropped
        assert "added column renewal_tier (varchar(255)) to intercom.companies" in out
        assert "imported new table intercom.warranty_claim_tickets" in out and "done: 2 change(s)" in out
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT count(*) FROM public.company_names").fetchone()[0] == expected_companies
            assert conn.execute("SELECT count(*) FROM public.every_company").fetchone()[0] == expected_companies
            assert conn.execute("SELECT count(*) FROM intercom.companies WHERE renewal_tier IS NULL").fetchone()[0] \
                == expected_companies
            assert conn.execute("SELECT count(*) FROM intercom.warranty_claim_tickets").fetchone()[0] == 0
            options = dict(o.split("=", 1) for o in conn.execute(
                "SELECT ftoptions FROM pg_foreign_table t JOIN pg_class c ON c.oid = t.ftrelid "
                "WHERE c.relname = 'warranty_claim_tickets'").fetchone()[0])
            assert options["object"] == "tickets" and options["ticket_type_id"]

        assert main(argv + ["--refresh"]) == 0
        assert capsys.readouterr().out.strip() == "nothing to change: the database is set up"
        assert _catalog(dsn) == after


def test_setup_login_signs_in_and_sets_up_with_that_token(pg, emulator, monkeypatch, capsys, pasted_stdin):
    admin = _api(emulator, "GET", "/admins")["admins"][0]["email"]
    db = pg.create_database("setup_login", extensions=())
    dsn = pg.dsn(db)
    monkeypatch.setattr(webbrowser, "open", SigningInBrowser(admin, paste_into=pasted_stdin))
    monkeypatch.setenv("INTERCOM_CLIENT_SECRET", "emulator-secret")  # the emulator's default app
    status = main(["setup", "--dsn", dsn, "--api-url", emulator.url, "--login", "--client-id", "emulator-client",
                   "--paste", "--authorize-url", emulator.url + "/oauth",
                   "--token-url", emulator.url + "/auth/eagle/token", "--timeout", "30"])
    output = capsys.readouterr()
    assert status == 0, output.err
    assert "created the user mapping" in output.out and "imported" in output.out
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT count(*) FROM intercom.admins").fetchone()[0] > 0
        token = dict(o.split("=", 1) for o in conn.execute(
            "SELECT umoptions FROM pg_user_mappings WHERE srvname = 'intercom'").fetchone()[0])["access_token"]
    assert token != emulator.token  # the signed-in admin's own token
    assert token not in output.out + output.err and "emulator-secret" not in output.out + output.err
    assert token not in pg.log.read_text(errors="replace")


def test_setup_login_needs_a_client_id(pg, capsys):
    assert main(["setup", "--dsn", pg.dsn(), "--login"]) == 1
    assert "--login needs --client-id" in capsys.readouterr().err
