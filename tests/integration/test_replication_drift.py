"""Replication when the foreign tables or the replica tables change shape between runs: the foreign
tables re-imported with more columns (a custom data attribute imported after the replica was made),
a replica table a user altered. No value Intercom has may stay missing, and no run may fail without
saying why and what to do."""
import pytest

from tests.emulator_fixtures import running_emulator
from tests.integration.replication_fixtures import intercom, replica_db, replicate, state  # noqa: F401  (fixtures)

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=37, contacts=60, companies=8, conversations=12, tickets=6, articles=8) as server:
        yield server


def _filled(db, schema, table, column):
    return db.execute(f'SELECT count("{column}") FROM {schema}.{table}').fetchone()[0]


def test_a_column_the_foreign_table_gains_is_filled_in_every_row_not_only_in_changed_ones(replica_db, intercom):
    # The replica made before a custom attribute was imported (and an articles column a user added to
    # the foreign table later): an incremental run added the column but read only the rows changed
    # since its cursor, so the other rows kept NULL where Intercom has a value (1 of 52 plan_tier).
    db = replica_db
    db.execute("ALTER FOREIGN TABLE intercom.contacts DROP COLUMN plan_tier")
    db.execute("ALTER FOREIGN TABLE intercom.articles DROP COLUMN description")
    replicate(db, objects=["contacts", "articles"])
    db.execute("DROP FOREIGN TABLE intercom.contacts")
    db.execute("IMPORT FOREIGN SCHEMA intercom LIMIT TO (contacts) FROM SERVER intercom INTO intercom")
    db.execute("ALTER FOREIGN TABLE intercom.articles ADD COLUMN description text")
    contact = db.execute("SELECT id FROM intercom.contacts ORDER BY id LIMIT 1").fetchone()[0]
    intercom.send("PUT", f"/contacts/{contact}", {"name": "Changed since the last run"})
    notices = replicate(db, objects=["contacts", "articles"])
    assert _filled(db, "intercom", "contacts", "plan_tier") > 1
    assert _filled(db, "intercom_replica", "contacts", "plan_tier") == _filled(db, "intercom", "contacts", "plan_tier")
    assert _filled(db, "intercom_replica", "articles", "description") == _filled(
        db, "intercom", "articles", "description") > 0
    said = [n for n in notices if "new column" in n]
    assert any("contacts: new column plan_tier" in n and "reads every row once" in n for n in said), notices
    assert any("articles: new column description" in n for n in said), notices
    # once read, the cursor is back: the next run reads what changed only
    intercom.reset_counters()
    replicate(db, objects=["contacts"])
    assert state(db)["contacts"]["api_calls"] == 1
