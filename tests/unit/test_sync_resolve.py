"""sync/resolve.py: a row's log entries as one net change; conflicts column by column per rule."""
import pytest

from intercom_fdw.sync.resolve import delete_wins, net_change, resolve


def entry(i, op, old=None, new=None, at=0.0, first_attempt_at=None):
    return {"change_id": i, "op": op, "old": old, "new": new, "at": at, "first_attempt_at": first_attempt_at}


def test_updates_fold_into_one_keeping_the_first_old_value_and_the_last_new_one():
    net = net_change([entry(1, "update", {"name": "a"}, {"name": "b"}, 1.0),
                      entry(2, "update", {"name": "b", "phone": None}, {"name": "c", "phone": "1"}, 2.0)])
    assert (net.op, net.base, net.new, net.changed_at) == ("update", {"name": "a", "phone": None},
                                                          {"name": "c", "phone": "1"}, {"name": 2.0, "phone": 2.0})
    assert net.change_ids == [1, 2] and not net.attempted


def test_an_insert_absorbs_later_updates_and_an_unsent_insert_then_delete_is_nothing():
    net = net_change([entry(1, "insert", None, {"email": "x"}), entry(2, "update", {"name": None}, {"name": "n"})])
    assert (net.op, net.base, net.new) == ("insert", None, {"email": "x", "name": "n"})
    assert net_change([entry(1, "insert", None, {"email": "x"}), entry(2, "delete", {"email": "x"})]).op is None
    # once a create was sent it may exist in Intercom: the delete goes
    sent = net_change([entry(1, "insert", None, {"email": "x"}, first_attempt_at=5.0), entry(2, "delete", {})])
    assert sent.op == "delete" and sent.attempted and sent.first_attempt_at == 5.0
    assert sent.created == {"email": "x"}  # what finds the object that create may have made
    assert net_change([entry(1, "update", {"name": "a"}, {"name": "b"}, first_attempt_at=5.0),
                       entry(2, "delete", {"name": "b"})]).created is None


def test_update_then_delete_is_a_delete_with_the_synced_base():
    net = net_change([entry(1, "update", {"name": "a"}, {"name": "b"}),
                      entry(2, "delete", {"name": "b", "updated_at": "t0"})])
    assert net.op == "delete" and net.base == {"name": "a", "updated_at": "t0"} and net.new == {}


def test_a_row_of_intercom_deleted_and_inserted_again_is_an_update_of_the_columns_the_insert_sets():
    net = net_change([entry(1, "update", {"phone": "0"}, {"phone": "1"}, 1.0),
                      entry(2, "delete", {"name": "a", "phone": "1", "updated_at": "t0"}, None, 2.0),
                      entry(3, "insert", None, {"name": "b"}, 3.0)])
    assert (net.op, net.new, net.changed_at, net.deleted_at) == ("update", {"name": "b"}, {"name": 3.0}, None)
    assert net.base["name"] == "a" and net.base["phone"] == "0" and net.reinserted
    # a row made locally is still a create, and a delete after the insert again a delete
    assert net_change([entry(1, "insert", None, {"name": "x"}), entry(2, "delete", {}),
                       entry(3, "insert", None, {"name": "y"})]).op == "insert"
    again = net_change([entry(1, "delete", {"name": "a"}), entry(2, "insert", None, {"name": "b"}),
                        entry(3, "delete", {"name": "b"}, None, 4.0)])
    assert (again.op, again.deleted_at, again.reinserted) == ("delete", 4.0, False)


@pytest.mark.parametrize("rule, local_at, winner", [
    ("intercom_wins", 20.0, "intercom"), ("local_wins", 0.0, "local"),
    ("newest_wins", 20.0, "local"), ("newest_wins", 5.0, "intercom"), ("newest_wins", 10.0, "intercom"),
])
def test_a_column_changed_on_both_sides_is_decided_by_the_rule(rule, local_at, winner):
    result = resolve(rule, {"name": "a", "phone": "1"}, {"name": "L", "phone": "2"}, {"name": "I", "phone": "1"},
                     {"name": local_at, "phone": local_at}, 10.0)
    assert [(c.column, c.local, c.intercom, c.base, c.winner) for c in result.conflicts] == [
        ("name", "L", "I", "a", winner)]
    assert result.push == ({"name": "L", "phone": "2"} if winner == "local" else {"phone": "2"})


def test_no_conflict_when_both_sides_agree_or_only_one_changed():
    result = resolve("intercom_wins", {"name": "a", "role": "user"}, {"name": "b", "role": "lead"},
                     {"name": "b", "role": "user"}, {}, None)
    assert result.conflicts == [] and result.push == {"role": "lead"}


def test_a_linked_insert_without_base_conflicts_on_every_differing_column():
    result = resolve("local_wins", None, {"email": "x", "phone": "+1"}, {"email": "x", "phone": None}, {}, None)
    assert [c.column for c in result.conflicts] == ["phone"] and result.push == {"phone": "+1"}


def test_a_delete_conflicts_only_when_intercom_changed_the_row_since_the_sync():
    assert delete_wins("intercom_wins", 10.0, 10.0, 50.0) is None
    assert delete_wins("intercom_wins", 10.0, 20.0, 50.0) is False
    assert delete_wins("local_wins", 10.0, 20.0, 5.0) is True
    assert delete_wins("newest_wins", 10.0, 20.0, 30.0) is True
    assert delete_wins("newest_wins", 10.0, 20.0, 15.0) is False


def test_the_synced_objects_allow_what_the_fdw_writes_and_each_can_be_found_again():
    from intercom_fdw.replication.strategies import STRATEGIES_BY_OBJECT
    from intercom_fdw.sync.objects import SYNC_OBJECTS
    allowed = {s.object: s.operations for s in SYNC_OBJECTS}
    full, no_delete = ("insert", "update", "delete"), ("insert", "update")
    assert allowed == {"contacts": full, "companies": full, "articles": full, "collections": full,
                       "conversations": no_delete, "tickets": no_delete, "ticket_types": no_delete}
    for s in SYNC_OBJECTS:
        assert s.object in STRATEGIES_BY_OBJECT  # pulled by replication
        assert s.unique or s.recover, s.object
        assert set(s.contains) <= set(s.recover)
