"""The body of `CALL intercom_fdw.replicate(...)`: plpy as the runner's Database, errors raised through plpy.

PL/Python procedures may commit (plpy.commit) when CALLed outside an explicit transaction block;
inside one (BEGIN; CALL ...) they may not, and the run then commits with the caller's transaction,
which a NOTICE says.
"""
from __future__ import annotations

from typing import Iterator, List, Optional, Sequence

from intercom_fdw.actions.plpython import _raise, reported
from intercom_fdw.errors import FDW_ERROR_SQLSTATE, IntercomError
from intercom_fdw.replication.runner import (
    NOTICE_PREFIX, Replicator, RunCanceled, check_arguments, choose_objects, setting_up_replication,
)


class PlpyDatabase:
    def __init__(self, plpy):
        self.plpy = plpy
        self.can_commit = True

    def rows(self, query: str) -> List[dict]:
        return [dict(row) for row in self.plpy.execute(query)]

    def stream(self, query: str, batch: int) -> Iterator[dict]:
        cursor = self.plpy.cursor(query)
        try:
            while True:
                rows = cursor.fetch(batch)
                if not rows:
                    return
                for row in rows:
                    yield dict(row)
        finally:
            cursor.close()

    def commit(self) -> None:
        if not self.can_commit:
            return
        try:
            self.plpy.commit()
        except self.plpy.SPIError as error:
            if "invalid transaction termination" not in str(error):
                raise
            self.can_commit = False
            self.notice("called inside a transaction block: nothing is committed before the caller commits, "
                        "so an interrupted run starts over (CALL it outside BEGIN ... COMMIT to commit per window)")

    def rollback(self) -> None:
        if self.can_commit:
            self.plpy.rollback()

    def notice(self, message: str) -> None:
        self.plpy.notice(NOTICE_PREFIX + message)


def replicate(plpy, objects: Optional[Sequence[str]], target_schema: str, mode: str, server: Optional[str],
              deletes: str) -> None:
    try:
        check_arguments(mode, deletes, target_schema)
        strategies = choose_objects(objects)
        db = PlpyDatabase(plpy)
        with setting_up_replication(target_schema):
            replicator = Replicator(db, target_schema, mode, deletes, server)
            chosen = strategies if objects else replicator.available(strategies)
        results = replicator.run(chosen)
    except IntercomError as error:
        failure = error
    except RunCanceled as error:
        failure = error
    else:
        failure = None
    if isinstance(failure, RunCanceled):  # a cancel or statement_timeout: said as the procedure's own
        raise reported(plpy, "intercom_fdw.replicate(): ", failure.reason, failure.sqlstate, failure.detail, failure.hint)
    if failure is not None:  # raised outside the except block: no chained traceback in the report
        _raise(plpy, "intercom_fdw.replicate(): ", failure)
    failed = {obj: error for obj, error in results.items() if error}
    if failed:
        raise reported(
            plpy, "intercom_fdw.replicate(): ", f"{len(failed)} of {len(results)} objects failed: {', '.join(failed)}",
            FDW_ERROR_SQLSTATE,
            detail="\n".join(f"{obj}: {error.splitlines()[0]}" for obj, error in failed.items()),
            hint="SELECT object, status, error FROM intercom_fdw.replication_state WHERE status = 'failed'; "
                 "the next run resumes each one from its last committed window",
        )
