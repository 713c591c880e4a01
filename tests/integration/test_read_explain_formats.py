"""EXPLAIN in the formats tools parse (FORMAT JSON, YAML, XML: pgAdmin's and DBeaver's plan views,
explain.dalibo.com, psycopg reading `EXPLAIN (FORMAT JSON)` as json) keeps the whole API plan."""
import json

import pytest
from psycopg.types.string import TextLoader

from tests.conftest import RUNTIME

pytestmark = pytest.mark.timeout(120)

QUERY = "SELECT id FROM intercom.contacts WHERE email = 'ada@example.com'"


def api_plan_lines(read_db):
    return [line.strip()[len("Multicorn: "):] for line in read_db.explain(QUERY).splitlines() if "Multicorn:" in line]


def json_plan_text(read_db):
    """The JSON as PostgreSQL sent it (psycopg would parse it, keeping one of repeated keys)."""
    cursor = read_db.conn.cursor()
    cursor.adapters.register_loader("json", TextLoader)
    return cursor.execute("EXPLAIN (FORMAT JSON) " + QUERY).fetchone()[0]


def test_explain_format_json_holds_every_line_of_the_api_plan(read_db):
    lines = api_plan_lines(read_db)
    assert "Request: POST /contacts/search (search paging, per_page 150)" in lines and len(lines) > 4, lines
    text = json_plan_text(read_db)
    plan = json.loads(text)[0]["Plan"]
    assert read_db.rows("EXPLAIN (FORMAT JSON) " + QUERY)[0][0][0]["Plan"] == plan  # what psycopg gives
    if RUNTIME == "multicorn2":
        # multicorn2 3.2 adds one "Multicorn" property per line: the JSON object repeats the key, and a
        # JSON parser keeps only the last (README, multicorn2 differences)
        assert text.count('"Multicorn":') == len(lines), text
        assert plan["Multicorn"] == lines[-1], plan
    else:
        assert plan["Multicorn"] == lines, plan
        assert text.count('"Multicorn":') == 1, text


def test_explain_format_yaml_names_the_api_plan_once(read_db):
    text = read_db.rows("EXPLAIN (FORMAT YAML) " + QUERY)[0][0]
    lines = api_plan_lines(read_db)
    expected = len(lines) if RUNTIME == "multicorn2" else 1
    assert text.count("Multicorn:") == expected, text
    assert all(line.replace('"', '\\"') in text for line in lines), text
