"""A role that runs sync without owning anything of the extension: with exactly the grants the README
(Synchronize: Roles) lists, it syncs; without one of them, the run refuses at once naming what is missing.
A role that only replicates (replication's grants) can replicate a synced table with pending changes."""
import psycopg
import pytest
from psycopg import sql

from tests.emulator_fixtures import running_emulator
from tests.integration.replication_fixtures import intercom, replica_db  # noqa: F401  (fixtures)
from tests.integration.sync_fixtures import changes, local_row, open_changes, sync, sync_fails

pytestmark = pytest.mark.timeout(300)

OBJECTS = ["contacts", "companies"]
# README, Synchronize: Roles (what replicate needs, plus sync's tables and the foreign tables' writes)
GRANTS = [
    "GRANT USAGE ON FOREIGN SERVER intercom TO {role}",
    "GRANT USAGE ON SCHEMA intercom TO {role}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON intercom.contacts, intercom.companies TO {role}",
    "GRANT USAGE ON SCHEMA intercom_fdw TO {role}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON intercom_fdw.replication_state, intercom_fdw.replication_seen, "
    "intercom_fdw.replication_capped TO {role}",
    "GRANT CREATE ON DATABASE {db} TO {role}",
    "GRANT SELECT, INSERT, UPDATE ON intercom_fdw.sync_changes, intercom_fdw.sync_conflicts, "
    "intercom_fdw.sync_state TO {role}",
    "GRANT USAGE ON SEQUENCE intercom_fdw.sync_changes_change_id_seq, intercom_fdw.sync_conflicts_conflict_id_seq "
    "TO {role}",
]


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=53, contacts=10, companies=4, conversations=2, tickets=2, articles=2) as server:
        yield server


def _role(admin, db, emulator, role, grants):
    admin.execute(f"CREATE ROLE {role} LOGIN")
    admin.execute(sql.SQL("CREATE USER MAPPING FOR {} SERVER intercom OPTIONS (access_token {})").format(
        sql.Identifier(role), sql.Literal(emulator.token)))
    for grant in grants:
        admin.execute(grant.format(role=role, db=f'"{db}"'))


def test_a_role_with_the_documented_grants_syncs(pg, db, replica_db, emulator, intercom):
    _role(replica_db, db, emulator, "syncer", GRANTS)
    with psycopg.connect(pg.dsn(db, user="syncer"), autocommit=True) as syncer:
        sync(syncer, objects=OBJECTS, schema="syncer_copy")  # the first run replicates: syncer owns the tables
        key = syncer.execute("SELECT id FROM syncer_copy.contacts ORDER BY id LIMIT 1").fetchone()[0]
        syncer.execute("UPDATE syncer_copy.contacts SET name = 'By The Syncer' WHERE id = %s", (key,))
        syncer.execute("INSERT INTO syncer_copy.companies (company_id, name) VALUES ('syncer-co', 'Syncer Co')")
        intercom.send("PUT", f"/contacts/{key}", {"name": "Meanwhile In Intercom"})
        sync(syncer, objects=OBJECTS, schema="syncer_copy", conflict="local_wins")
        assert intercom.send("GET", f"/contacts/{key}")["name"] == "By The Syncer"
        assert syncer.execute("SELECT count(*) FROM intercom_fdw.sync_conflicts WHERE key = %s", (key,)
                              ).fetchone()[0] == 1
        made = syncer.execute("SELECT id, _deleted_at FROM syncer_copy.companies WHERE company_id = 'syncer-co'"
                              ).fetchone()
        assert not made[0].startswith("local:") and made[1] is None
    assert open_changes(replica_db, schema="syncer_copy") == []
    assert {c["changed_by"] for c in changes(replica_db, schema="syncer_copy")} == {"syncer"}


@pytest.mark.parametrize("left_out, missing", [
    (6, "INSERT on intercom_fdw.sync_changes"),  # each of sync's tables and sequences
    (7, "USAGE on intercom_fdw.sync_conflicts_conflict_id_seq"),
    (2, "UPDATE on intercom.contacts"),  # the foreign tables' writes
])
def test_without_one_grant_the_run_refuses_at_once_naming_it(pg, db, replica_db, emulator, intercom, left_out,
                                                            missing):
    role = f"short_{left_out}"
    grants = list(GRANTS)
    if left_out == 6:
        grants[6] = grants[6].replace("INSERT, ", "")
    elif left_out == 7:
        grants[7] = grants[7].replace(", intercom_fdw.sync_conflicts_conflict_id_seq", "")
    else:
        grants[2] = grants[2].replace("UPDATE, ", "")
    _role(replica_db, db, emulator, role, grants)
    with psycopg.connect(pg.dsn(db, user=role), autocommit=True) as short:
        intercom.reset_counters()
        diag = sync_fails(short, objects=OBJECTS, schema=f"{role}_copy")
    assert f"role {role} lacks privileges sync needs: {missing}" in diag.message_primary, diag.message_primary
    assert "GRANT" in diag.message_hint and "Roles" in diag.message_hint
    assert intercom.calls()["by_route"] == {}  # refused before any call
    assert replica_db.execute("SELECT to_regnamespace(%s)", (f"{role}_copy",)).fetchone()[0] is None


def test_a_role_that_only_replicates_can_replicate_a_synced_table_with_pending_changes(pg, db, replica_db, emulator,
                                                                                         intercom):
    sync(replica_db, objects=["contacts"])
    key = replica_db.execute("SELECT id FROM intercom_replica.contacts ORDER BY id LIMIT 1").fetchone()[0]
    replica_db.execute("UPDATE intercom_replica.contacts SET name = 'Pending' WHERE id = %s", (key,))
    intercom.send("PUT", f"/contacts/{key}", {"name": "Remote", "phone": "+31"})
    _role(replica_db, db, emulator, "replicator", GRANTS[:6] + [
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA intercom_replica TO {role}",
        "GRANT USAGE ON SCHEMA intercom_replica TO {role}"])
    with psycopg.connect(pg.dsn(db, user="replicator"), autocommit=True) as replicator:
        replicator.execute("CALL intercom_fdw.replicate(ARRAY['contacts'])")
    row = local_row(replica_db, "contacts", key)
    assert (row["name"], row["phone"]) == ("Pending", "+31")


# README, Synchronize: Roles (an editor of a synced table: its trigger logs the role's changes)
EDITOR_GRANTS = [
    "GRANT USAGE ON SCHEMA intercom_replica, intercom_fdw TO {role}",
    "GRANT SELECT, UPDATE ON intercom_replica.contacts TO {role}",
    "GRANT INSERT (object, target_schema, key, op, old, new) ON intercom_fdw.sync_changes TO {role}",
    "GRANT USAGE ON SEQUENCE intercom_fdw.sync_changes_change_id_seq TO {role}",
]


def test_rows_an_editor_writes_into_the_log_itself_reach_intercom_only_as_its_own_grants_allow(
        pg, db, replica_db, emulator, intercom):
    sync(replica_db, objects=OBJECTS)
    _role(replica_db, db, emulator, "editor", EDITOR_GRANTS)
    company = replica_db.execute("SELECT id FROM intercom_replica.companies ORDER BY id LIMIT 1").fetchone()[0]
    key, other = [r[0] for r in replica_db.execute("SELECT id FROM intercom_replica.contacts ORDER BY id LIMIT 2")]
    # INSERT on the whole log (not only the columns the trigger writes) lets a role name changed_by itself
    replica_db.execute("GRANT INSERT ON intercom_fdw.sync_changes TO editor")
    last = replica_db.execute("SELECT coalesce(max(change_id), 0) FROM intercom_fdw.sync_changes").fetchone()[0]
    with psycopg.connect(pg.dsn(db, user="editor"), autocommit=True) as editor:
        editor.execute("UPDATE intercom_replica.contacts SET name = 'By The Editor' WHERE id = %s", (key,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            editor.execute("SELECT count(*) FROM intercom_replica.companies")
        for obj, target in (("companies", company), ("contacts", other)):  # beyond the editor's grants
            editor.execute("INSERT INTO intercom_fdw.sync_changes (object, target_schema, key, op, old, changed_by) "
                           "VALUES (%s, 'intercom_replica', %s, 'delete', '{}', 'postgres')", (obj, target))
    intercom.reset_counters()
    # run by the tables' owner, whose token reaches Intercom: it ends saying what it refused to send
    diag = sync_fails(replica_db, objects=OBJECTS)
    assert "2 of 2 objects failed or had rejected changes" in diag.message_primary
    assert "logged by role editor, which may not delete rows of" in diag.message_detail
    assert intercom.send("GET", f"/contacts/{key}")["name"] == "By The Editor"  # the editor's own UPDATE
    assert intercom.send("GET", f"/companies/{company}")["id"] == company
    assert intercom.send("GET", f"/contacts/{other}")["id"] == other
    writes = {route: n for route, n in intercom.calls()["by_route"].items()
              if not route.startswith("GET ") and not route.endswith("/search")}  # the pull reads too
    assert writes == {"PUT /contacts/{id}": 1}, writes
    logged = {(c["key"], c["op"]): c for c in changes(replica_db)
              if c["change_id"] > last}
    assert {c["changed_by"] for c in logged.values()} == {"editor"}  # the log's trigger, not the row, says who
    assert logged[(key, "update")]["status"] == "done"
    for forged in ((company, "delete"), (other, "delete")):
        assert logged[forged]["status"] == "rejected"
        assert logged[forged]["error"].startswith("logged by role editor, which may not delete rows of")
