"""README's "Set up in your database" block, run as written (the emulator's URL and token filled in)
on an empty database: the extension comes first, so its option checks cover the server and mapping."""
import re

import psycopg
import pytest
from psycopg import sql

from tests.harness.openapi_file import REPO

pytestmark = pytest.mark.timeout(300)


def setup_block():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Set up in your database", 1)[1]
    block = re.search(r"```sql\n(.*?)```", section, re.S).group(1)
    return [s.strip() for s in re.sub(r"--[^\n]*", "", block).split(";") if s.strip()]


def test_readme_creates_the_extension_before_the_server_and_mapping():
    first_words = [" ".join(s.split()[:3]) for s in setup_block()]
    assert first_words.index("CREATE EXTENSION intercom_fdw") < first_words.index("CREATE SERVER intercom")


def test_readme_setup_runs_on_an_empty_database(pg, emulator):
    conn = psycopg.connect(pg.dsn(pg.create_database("readme_setup", extensions=())), autocommit=True)
    with conn:
        for statement in setup_block():
            statement = statement.replace("region 'us'", "api_url {url}").replace("access_token '...'", "access_token {token}")
            conn.execute(sql.SQL(statement).format(url=sql.Literal(emulator.url), token=sql.Literal(emulator.token)))
        assert conn.execute("SELECT count(*) FROM intercom.admins").fetchone()[0] > 0
        # the extension's check now runs on every later CREATE/ALTER SERVER
        with pytest.raises(psycopg.Error, match="unknown server option"):
            conn.execute("ALTER SERVER intercom OPTIONS (ADD regoin 'eu')")
