"""Conflict rules on each of the 7 synced objects: one column changed on both sides (the rule decides,
the conflict is recorded with both values), one changed only locally (pushed whatever the rule) and,
where Intercom has a third settable column, one changed only in Intercom (comes back whatever the
rule). Then a second sync writes nothing."""
import time

import pytest

from tests.emulator_fixtures import running_emulator
from tests.integration.replication_fixtures import intercom, replica_db  # noqa: F401  (fixtures)
from tests.integration.sync_fixtures import conflicts, local_row, open_changes, sync, writes

pytestmark = pytest.mark.timeout(300)

# object: (Intercom's path of one, the column changed on both sides, the column changed only locally,
#          the column changed only in Intercom or None). Collections and conversations have no third
#          column Intercom's update sets.
CASES = {
    "contacts": ("/contacts/{}", "name", "phone", "unsubscribed_from_emails"),
    "companies": ("/companies/{}", "name", "industry", "website"),
    "articles": ("/articles/{}", "title", "description", "state"),
    "collections": ("/help_center/collections/{}", "name", "description", None),
    "conversations": ("/conversations/{}", "title", "read", None),
    "tickets": ("/tickets/{}", "title", "description", "is_shared"),
    "ticket_types": ("/ticket_types/{}", "name", "description", "icon"),
}
# tickets' title and description are ticket attributes in Intercom's JSON
TICKET_ATTRIBUTES = {"title": "_default_title_", "description": "_default_description_"}
RULES = [("intercom_wins", False, "intercom"), ("local_wins", False, "local"),
         ("newest_wins", True, "intercom"), ("newest_wins", False, "local")]


@pytest.fixture(scope="module")
def emulator():
    with running_emulator(seed=47, contacts=12, companies=6, conversations=6, tickets=6, articles=6) as server:
        yield server


@pytest.fixture(scope="module")
def synced(replica_db):
    sync(replica_db, objects=list(CASES))
    return replica_db


def _field(obj, remote, column):
    if obj == "tickets" and column in TICKET_ATTRIBUTES:
        return remote["ticket_attributes"][TICKET_ATTRIBUTES[column]]
    return remote[column]


def _body(obj, values):
    if obj != "tickets":
        return values
    attributes = {TICKET_ATTRIBUTES[c]: v for c, v in values.items() if c in TICKET_ATTRIBUTES}
    return {"ticket_attributes": attributes, **{c: v for c, v in values.items() if c not in TICKET_ATTRIBUTES}}


def _other(value, label):
    """A value different from `value` of the same kind."""
    if isinstance(value, bool):
        return not value
    if value in ("published", "draft"):
        return "draft" if value == "published" else "published"
    return f"{label} {time.time_ns()}"


@pytest.mark.parametrize("rule, local_first, winner", RULES, ids=[f"{r}-{w}" for r, _, w in RULES])
@pytest.mark.parametrize("obj", list(CASES))
def test_concurrent_edits_resolve_per_rule_column_by_column(synced, intercom, obj, rule, local_first, winner):
    db = synced
    path, both, mine, theirs = CASES[obj]
    key = db.execute(f"SELECT id FROM intercom_replica.{obj} WHERE id NOT LIKE 'local:%%' AND _deleted_at IS NULL "
                     "ORDER BY id LIMIT 1").fetchone()[0]
    before = local_row(db, obj, key)
    local_values = {both: _other(before[both], "Local"), mine: _other(before[mine], "Local only")}
    remote_values = {both: _other(before[both], "Intercom")}
    if theirs:
        remote_values[theirs] = _other(before[theirs], "Intercom only")
    seen = max([c["conflict_id"] for c in conflicts(db)], default=0)

    def local_edit():
        db.execute(f'UPDATE intercom_replica.{obj} SET "{both}" = %s, "{mine}" = %s WHERE id = %s',
                   (local_values[both], local_values[mine], key))

    def intercom_edit():
        intercom.send("PUT", path.format(key), _body(obj, remote_values))
    first, second = (local_edit, intercom_edit) if local_first else (intercom_edit, local_edit)
    first()
    time.sleep(1.2)  # Intercom's updated_at counts seconds
    second()
    sync(db, objects=[obj], conflict=rule)

    expected = local_values[both] if winner == "local" else remote_values[both]
    remote = intercom.send("GET", path.format(key))
    row = local_row(db, obj, key)
    assert (_field(obj, remote, both), row[both]) == (expected, expected)
    assert (_field(obj, remote, mine), row[mine]) == (local_values[mine], local_values[mine])
    if theirs:
        assert (_field(obj, remote, theirs), row[theirs]) == (remote_values[theirs], remote_values[theirs])
    recorded = [c for c in conflicts(db, obj) if c["conflict_id"] > seen]
    assert [(c["key"], c["column"], c["rule"], c["winner"]) for c in recorded] == [(key, both, rule, winner)]
    assert (recorded[0]["local_value"], recorded[0]["intercom_value"], recorded[0]["base_value"]) == (
        local_values[both], remote_values[both], before[both])
    assert recorded[0]["local_changed_at"] and recorded[0]["intercom_updated_at"]
    assert open_changes(db) == []
    intercom.reset_counters()
    sync(db, objects=[obj], conflict=rule)
    assert writes(intercom) == {}
    assert local_row(db, obj, key)[both] == expected
