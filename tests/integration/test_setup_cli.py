"""`intercom-fdw setup` through a real PostgreSQL and the emulator: an empty database to working
queries, a second run that changes nothing and says so, and the token in no output nor server log."""
import psycopg
import pytest

from intercom_fdw.tools.cli import main

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
    assert second.out.strip() == "nothing to change: the database is set up"

    log = pg.log.read_text(errors="replace")
    assert "IMPORT FOREIGN SCHEMA intercom FROM SERVER" in log  # the log does show setup's statements
    for text in (first.out, first.err, second.out, second.err, pg.log.read_text(errors="replace")):
        assert emulator.token not in text


def test_setup_without_the_token_variable_says_which(pg, monkeypatch, capsys):
    monkeypatch.delenv("SETUP_NO_SUCH_TOKEN", raising=False)
    assert main(["setup", "--dsn", pg.dsn(), "--token-env", "SETUP_NO_SUCH_TOKEN"]) == 1
    assert "SETUP_NO_SUCH_TOKEN is not set" in capsys.readouterr().err
