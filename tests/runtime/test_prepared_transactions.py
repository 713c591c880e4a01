"""PREPARE TRANSACTION as multicorn2 handles it: no Python method is called at PREPARE
(neither pre_commit() nor commit()), and the Python transaction stays open, so the
backend's next transaction calls no begin() and its own commit or rollback ends it.  (The default cluster has max_prepared_transactions = 0: own cluster.)"""
import pytest

from intercom_fdw.tools.throwaway_pg import PgCluster
from tests.runtime.conftest import FdwSession

TRANSACTION_METHODS = ("begin", "pre_commit", "commit", "rollback")


@pytest.fixture(scope="module")
def two_phase_fdw():
    cluster = PgCluster({"max_prepared_transactions": "2"}).start()
    try:
        dbname = cluster.create_database("prepared")
        with cluster.connect(dbname) as conn:
            session = FdwSession(conn)
            session.server("rt")
            session.table("prepared_t", "a text")
            yield session
    finally:
        cluster.stop()


def methods(fdw):
    calls = [c["method"] for c in fdw.calls() if c["method"] in TRANSACTION_METHODS]
    fdw.reset()
    return calls


def test_prepare_transaction_calls_no_python_method(two_phase_fdw):
    fdw = two_phase_fdw
    fdw.reset()
    fdw.sql("BEGIN")
    fdw.sql("SELECT * FROM prepared_t")
    assert methods(fdw) == ["begin"]
    fdw.sql("PREPARE TRANSACTION 'p1'")
    assert methods(fdw) == []
    # the Python transaction is still open: the backend's next transaction ends it, without
    # a begin()
    assert len(fdw.sql("SELECT * FROM prepared_t")) == 3
    assert methods(fdw) == ["pre_commit", "commit"]
    fdw.sql("COMMIT PREPARED 'p1'")
    assert methods(fdw) == []
    fdw.sql("SELECT * FROM prepared_t")
    assert methods(fdw) == ["begin", "pre_commit", "commit"]
