"""Scans hand rows to the runtime as tuples in the table's column order (fdw.py, RowShaper's `order`):
every value must land in its own column whatever the declared order, with dropped columns between
them, after columns are added and dropped in the same session, and with only some columns named."""
import pytest

from tests.integration.read_fixtures import Api, create_server


@pytest.fixture(scope="module")
def order_db(pg, emulator):
    name = pg.create_database("read_column_order")
    with pg.connect(name) as conn:
        create_server(conn, "intercom", emulator.url, emulator.token)
    return name


@pytest.fixture(scope="module")
def expected(emulator):
    return {c["id"]: c for c in Api(emulator.url, emulator.token).all("/contacts")}


def text(value):
    return None if value is None else str(value)  # an owner id is a number in the API, text here


def test_values_land_in_their_columns_through_drops_and_additions(pg, order_db, expected):
    with pg.connect(order_db) as conn:
        conn.execute("CREATE FOREIGN TABLE c (name text, role text, id text, email text, created_at timestamptz, "
                     "external_id text) SERVER intercom OPTIONS (object 'contacts')")
        conn.execute("ALTER FOREIGN TABLE c DROP COLUMN role")
        rows = conn.execute("SELECT * FROM c").fetchall()
        assert len(rows) == len(expected)
        assert {r[1]: (r[0], r[2], int(r[3].timestamp()), r[4]) for r in rows} == {
            k: (v["name"], v["email"], v["created_at"], v["external_id"]) for k, v in expected.items()}
        conn.execute("ALTER FOREIGN TABLE c DROP COLUMN email, ADD COLUMN owner_id text, ADD COLUMN phone text")
        rows = conn.execute("SELECT * FROM c").fetchall()
        assert {r[1]: (r[0], r[3], r[4], r[5]) for r in rows} == {
            k: (v["name"], v["external_id"], text(v["owner_id"]), v["phone"]) for k, v in expected.items()}
        rows = conn.execute("SELECT external_id, id FROM c WHERE name IS NOT NULL").fetchall()
        assert {i: e for e, i in rows} == {k: v["external_id"] for k, v in expected.items() if v["name"] is not None}
        assert conn.execute("SELECT count(*) FROM c").fetchone()[0] == len(expected)
