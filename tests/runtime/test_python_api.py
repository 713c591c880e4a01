"""The pure-Python part of the multicorn API, without PostgreSQL."""
import pytest

from multicorn import (ALL, ANY, ColumnDefinition, ForeignDataWrapper, Qual, SortKey, TableDefinition,
                       get_class)
from multicorn.utils import ERROR, INFO, MulticornException, log_to_postgres


def test_qual_list_operators():
    plain = Qual("n", ">", 3)
    any_of = Qual("n", ("=", True), [1, 2])
    all_of = Qual("n", ("<>", False), [1, 2])
    assert (plain.is_list_operator, plain.list_any_or_all) == (False, None)
    assert (any_of.is_list_operator, any_of.list_any_or_all) == (True, ANY)
    assert all_of.list_any_or_all is ALL
    assert repr(plain) == "n > 3" and repr(any_of) == "n = ANY([1, 2])" and repr(all_of) == "n <> ALL([1, 2])"
    assert any_of == Qual("n", ("=", True), [1, 2]) and hash(any_of) == hash(Qual("n", ("=", True), [1, 2]))
    assert plain != Qual("n", ">", 4)


def test_sortkey_fields():
    key = SortKey(attname="a", attnum=1, is_reversed=False, nulls_first=False, collate=None)
    assert key._fields == ("attname", "attnum", "is_reversed", "nulls_first", "collate")


def test_table_definition_statement():
    table = TableDefinition("tick\"ets", columns=[
        ColumnDefinition("id", type_name="text"),
        ColumnDefinition("at", type_name="timestamptz", options={"path": "it's"})],
        options={"object": "ticket"})
    assert table.to_statement("my schema", "srv") == (
        'CREATE FOREIGN TABLE "my schema"."tick""ets" (\n'
        '"id" text,\n"at" timestamptz OPTIONS ( path \'it\'\'s\' )\n) SERVER "srv"'
        " OPTIONS (\nobject 'ticket'\n)")


def test_get_class():
    assert get_class("multicorn.ForeignDataWrapper") is ForeignDataWrapper
    with pytest.raises(ImportError, match="package.module.Class"):
        get_class("NoDots")


def test_defaults_of_the_base_class():
    fdw = ForeignDataWrapper({}, {})
    assert fdw.execute([], set()) is None
    assert fdw.can_limit(1, None) is False and fdw.can_sort([]) == [] and fdw.get_path_keys() == []
    assert fdw.get_rel_size([], {"a"}) == (100000000, 100)
    with pytest.raises(NotImplementedError):
        fdw.rowid_column


def test_log_to_postgres_outside_a_backend():
    log_to_postgres("ignored", INFO)
    with pytest.raises(MulticornException) as info:
        log_to_postgres("boom", ERROR, hint="h", detail="d")
    assert (info.value.message, info.value.hint, info.value.detail) == ("boom", "h", "d")
    with pytest.raises(KeyError):
        log_to_postgres("bad level", 12345)


def test_unbound_prints_as_a_question_mark_and_keeps_its_identity():
    import copy
    import json
    import pickle

    from multicorn import UNBOUND
    assert UNBOUND == "?" and isinstance(UNBOUND, str)
    assert "%s" % Qual("a", "=", UNBOUND) == "a = ?"  # multicorn2's testfdw prints this
    assert copy.copy(UNBOUND) is UNBOUND and copy.deepcopy(UNBOUND) is UNBOUND
    assert pickle.loads(pickle.dumps(UNBOUND)) is UNBOUND
    assert json.dumps({"value": UNBOUND}) == '{"value": "?"}'
    assert "?" is not UNBOUND and repr(UNBOUND) == "UNBOUND"


def test_compat_module_of_multicorn2():
    from multicorn.compat import basestring_, bytes_, unicode_
    assert unicode_ is str and basestring_ is str and bytes_("é") == "é".encode("utf8")
