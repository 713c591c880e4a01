"""`intercom-fdw setup` through a real PostgreSQL and the emulator: an empty database to working
queries, a second run that changes nothing and says so, the token in no output nor server log; a
token Intercom rejects or cannot be asked about writes nothing (`--no-check` writes it unchecked);
`--refresh` after the workspace gained an attribute and a ticket type; `--login` by a browser sign-in."""
import webbrowser

import psycopg
import pytest
import requests

from intercom_fdw.tools.cli import main
from tests.emulator_fixtures import running_emulator, set_knobs
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


def test_setup_prints_what_the_import_tells(pg, monkeypatch, capsys):
    # IMPORT FOREIGN SCHEMA's NOTICEs (an attribute it leaves out, and why) were dropped by setup.
    import time

    from intercom_fdw.emulator import EmulatorConfig, start_in_thread
    from intercom_fdw.emulator.seed import data_attribute

    with start_in_thread(EmulatorConfig(seed=5, token="tok-setup-told-81ac", contacts=5, companies=3), port=0) as server:
        server.state.workspace_for(server.token).data_attributes.add(
            "921", data_attribute(921, "contact", "hologram", "hologram", None, True, int(time.time())))
        monkeypatch.setenv("SETUP_TOLD_TOKEN", server.token)
        dsn = pg.dsn(pg.create_database("setup_told", extensions=()))
        assert main(["setup", "--dsn", dsn, "--token-env", "SETUP_TOLD_TOKEN", "--api-url", server.url]) == 0
    out = capsys.readouterr().out
    assert ("NOTICE: contacts: custom attribute 'hologram' (id 921) not imported: its data type 'hologram' is not "
            "one intercom_fdw knows (its value is in attrs)") in out.splitlines(), out


def _written(dsn):
    """What setup writes, as the catalog shows it: extensions, foreign servers, user mappings, schemas."""
    with psycopg.connect(dsn) as conn:
        return {"extensions": {r[0] for r in conn.execute("SELECT extname FROM pg_extension")},
                "servers": {r[0] for r in conn.execute("SELECT srvname FROM pg_foreign_server")},
                "mappings": sorted((r[0], tuple(r[1] or ())) for r in conn.execute(
                    "SELECT srvname, umoptions FROM pg_user_mappings")),
                "schemas": {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")}}


def _mapped_token(dsn):
    with psycopg.connect(dsn) as conn:
        return dict(o.split("=", 1) for o in conn.execute(
            "SELECT umoptions FROM pg_user_mappings WHERE srvname = 'intercom'").fetchone()[0])["access_token"]


def _me_calls(emulator):
    return requests.get(emulator.url + "/__emulator/counters", timeout=10).json()["by_route"].get("GET /me", 0)


def test_setup_refuses_a_token_intercom_rejects_and_writes_nothing(pg, emulator, monkeypatch, capsys):
    db = pg.create_database("setup_rejected_token", extensions=())
    dsn = pg.dsn(db)
    before, me_calls = _written(dsn), _me_calls(emulator)
    monkeypatch.setenv("SETUP_WRONG_TOKEN", "wrong-token-of-setup")
    assert main(["setup", "--dsn", dsn, "--token-env", "SETUP_WRONG_TOKEN", "--api-url", emulator.url]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert f"Intercom at {emulator.url} rejected the token in $SETUP_WRONG_TOKEN, so setup wrote nothing" in err
    assert "HTTP 401 to GET /me: unauthorized: Access Token Invalid" in err and "\n  HINT: " in err
    assert _me_calls(emulator) == me_calls + 1
    assert _written(dsn) == before  # not even the extensions
    assert "wrong-token-of-setup" not in out + err + pg.log.read_text(errors="replace")


def test_setup_keeps_a_working_token_when_the_new_one_is_rejected(pg, emulator, monkeypatch, capsys):
    db = pg.create_database("setup_kept_token", extensions=())
    dsn = pg.dsn(db)
    argv = ["setup", "--dsn", dsn, "--token-env", "SETUP_KEPT_TOKEN", "--api-url", emulator.url]
    monkeypatch.setenv("SETUP_KEPT_TOKEN", emulator.token)
    assert main(argv) == 0
    assert "the token in $SETUP_KEPT_TOKEN checked with Intercom (GET /me): admin " in capsys.readouterr().out
    written = _written(dsn)

    monkeypatch.setenv("SETUP_KEPT_TOKEN", "wrong-token-of-setup")
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert "rejected the token in $SETUP_KEPT_TOKEN" in err and "updated the user mapping" not in out
    assert _written(dsn) == written and _mapped_token(dsn) == emulator.token
    with psycopg.connect(dsn) as conn:  # the queries still work
        assert conn.execute("SELECT count(*) FROM intercom.admins").fetchone()[0] > 0
    assert "wrong-token-of-setup" not in out + err


def test_setup_refuses_a_token_it_cannot_check(pg, monkeypatch, capsys):
    db = pg.create_database("setup_unreachable", extensions=())
    dsn = pg.dsn(db)
    before = _written(dsn)
    monkeypatch.setenv("SETUP_UNCHECKED_TOKEN", "token-nobody-answers")
    assert main(["setup", "--dsn", dsn, "--token-env", "SETUP_UNCHECKED_TOKEN", "--api-url", "http://127.0.0.1:1"]) == 1
    out, err = capsys.readouterr()
    assert "cannot check the token in $SETUP_UNCHECKED_TOKEN with Intercom at http://127.0.0.1:1, so setup wrote " \
           "nothing: no usable answer from Intercom for GET /me" in err
    assert "HINT: check api_url/region and network; to write the token without checking it, run setup again " \
           "with --no-check" in err
    assert _written(dsn) == before
    assert "token-nobody-answers" not in out + err


def test_moving_a_working_server_to_another_endpoint_checks_its_token_there(pg, monkeypatch, capsys):
    # the same token, another --api-url: the token was checked only when it changed
    with running_emulator(contacts=5) as emulator:
        db = pg.create_database("setup_endpoint_moves", extensions=())
        dsn = pg.dsn(db)
        monkeypatch.setenv("SETUP_MOVED_TOKEN", emulator.token)
        assert main(["setup", "--dsn", dsn, "--token-env", "SETUP_MOVED_TOKEN", "--api-url", emulator.url]) == 0
        written = _written(dsn)
        capsys.readouterr()
        assert main(["setup", "--dsn", dsn, "--token-env", "SETUP_MOVED_TOKEN", "--api-url",
                     "http://127.0.0.1:1"]) == 1
        out, err = capsys.readouterr()
        assert "with Intercom at http://127.0.0.1:1, so setup wrote nothing" in err
        assert _written(dsn) == written  # the server keeps its working endpoint


def test_a_5xx_stops_setup_and_no_check_writes_the_token_unchecked(pg, monkeypatch, capsys):
    rotated = "setup-rotated-token"  # a second workspace's: a valid token setup could not check
    with running_emulator(contacts=20, extra_workspace_tokens=[rotated]) as emulator:
        db = pg.create_database("setup_no_check", extensions=())
        dsn = pg.dsn(db)
        argv = ["setup", "--dsn", dsn, "--token-env", "SETUP_ROTATED_TOKEN", "--api-url", emulator.url]
        monkeypatch.setenv("SETUP_ROTATED_TOKEN", emulator.token)
        assert main(argv) == 0
        written = _written(dsn)
        monkeypatch.setenv("SETUP_ROTATED_TOKEN", rotated)
        set_knobs(emulator.url, fault_rate=1.0)  # Intercom answers 500, 502 or 503 to everything
        try:
            assert main(argv) == 1
            out, err = capsys.readouterr()
            assert "cannot check the token in $SETUP_ROTATED_TOKEN" in err and "to GET /me" in err, err
            assert "run setup again with --no-check" in err
            assert _written(dsn) == written

            me_calls = _me_calls(emulator)
            assert main(argv + ["--no-check"]) == 0
            out, err = capsys.readouterr()
            assert "the token in $SETUP_ROTATED_TOKEN not checked with Intercom (--no-check)" in out
            assert "updated the user mapping" in out and _me_calls(emulator) == me_calls
        finally:
            set_knobs(emulator.url, fault_rate=0.0)
        assert _mapped_token(dsn) == rotated
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT count(*) FROM intercom.admins").fetchone()[0] > 0
        assert rotated not in out + err and emulator.token not in out + err


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
