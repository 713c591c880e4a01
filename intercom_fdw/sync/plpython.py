"""The body of `CALL intercom_fdw.sync(...)`: plpy as the engine's Database (replication's), errors through plpy."""
from __future__ import annotations

from typing import Optional, Sequence

from intercom_fdw.actions.plpython import _raise, reported
from intercom_fdw.errors import FDW_ERROR_SQLSTATE, ConfigurationError, IntercomError
from intercom_fdw.replication.plpython import PlpyDatabase
from intercom_fdw.replication.runner import RunCanceled
from intercom_fdw.replication.strategies import STRATEGIES_BY_OBJECT
from intercom_fdw.sync.runner import NOTICE_PREFIX, Syncer, check_arguments, choose_objects, setting_up_sync


def _outside_a_transaction_block(plpy) -> None:
    """Sync's log must commit with each write it sends (Intercom's writes do not roll back): inside a
    transaction block (BEGIN; CALL ...) an error or a ROLLBACK would undo the log, and the next run send
    the writes again (a create whose object has no unique key twice)."""
    try:
        plpy.commit()
    except plpy.SPIError as error:
        if "invalid transaction termination" not in str(error):
            raise
        raise ConfigurationError(
            "cannot run inside a transaction block: it commits its log with each write "
            "it sends to Intercom",
            hint="CALL it on its own (psql's autocommit, pg_cron, intercom-fdw sync), not between BEGIN and COMMIT "
                 "nor from a function") from None


def sync(plpy, objects: Optional[Sequence[str]], target_schema: str, conflict: str, server: Optional[str]) -> None:
    try:
        check_arguments(conflict, target_schema)
        chosen = choose_objects(objects)
        with setting_up_sync():
            _outside_a_transaction_block(plpy)
            # the pull's notices keep replication's prefix (the CLI reads both)
            syncer = Syncer(PlpyDatabase(plpy), target_schema, conflict, server,
                            notice=lambda message: plpy.notice(NOTICE_PREFIX + message))
            if not objects:  # those of the 7 whose foreign table the server has
                kept = {s.object for s in syncer.replicator.available([STRATEGIES_BY_OBJECT[o.object] for o in chosen])}
                chosen = [o for o in chosen if o.object in kept]
        results = syncer.run(chosen)
    except IntercomError as error:
        failure = error
    except RunCanceled as error:
        failure = error
    else:
        failure = None
    if isinstance(failure, RunCanceled):  # a cancel or statement_timeout: said as the procedure's own
        raise reported(plpy, "intercom_fdw.sync(): ", failure.reason, failure.sqlstate, failure.detail, failure.hint)
    if failure is not None:  # raised outside the except block: no chained traceback in the report
        _raise(plpy, "intercom_fdw.sync(): ", failure)
    failed = {name: r for name, r in results.items() if r.error or r.rejected}
    if failed:
        lines = []
        for name, r in failed.items():
            if r.error:
                lines.append(f"{name}: {r.error.splitlines()[0]}")
            lines += [f"{name} {line}" for line in r.rejected[:20]]
        raise reported(
            plpy, "intercom_fdw.sync(): ",
            f"{len(failed)} of {len(results)} objects failed or had rejected changes: " + ", ".join(failed),
            FDW_ERROR_SQLSTATE,
            detail="\n".join(lines),
            hint="SELECT object, key, op, error, attempts FROM intercom_fdw.sync_changes WHERE status = 'rejected'; "
                 "the next run retries them",
        )
