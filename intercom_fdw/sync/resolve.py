"""Pure decisions of a sync run: no database, no I/O.

`net_change` folds the pending log entries of one row (oldest first) into the one operation the run
sends; `resolve` compares, column by column, what the row was at the last sync (`base`), what it is
locally and what Intercom holds now, and says which columns are pushed and which conflict.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence

RULES = ("intercom_wins", "local_wins", "newest_wins")


@dataclass
class NetChange:
    """What one row's pending entries amount to: `op` is insert, update, delete or None (nothing left,
    e.g. inserted then deleted locally). `base` holds each changed column's value at the last sync
    (None for an insert: nothing is known of Intercom's side); `new` the local values to send;
    `changed_at` when each column last changed locally (epoch seconds)."""

    op: Optional[str]
    change_ids: List[int]
    base: Optional[Dict[str, Any]] = None
    new: Dict[str, Any] = field(default_factory=dict)
    changed_at: Dict[str, float] = field(default_factory=dict)
    attempted: bool = False  # an earlier run sent it: a create may have reached Intercom
    first_attempt_at: Optional[float] = None
    deleted_at: Optional[float] = None  # when the row was deleted locally (op delete)
    # op update: the row was deleted locally and inserted again with its Intercom id; its other
    # columns are what the insert left NULL, so the local row is read again from Intercom
    reinserted: bool = False
    # op delete of a row made locally whose create was sent: the values of that create, which may have
    # made an object in Intercom (its answer lost, its run killed) that the delete is then for
    created: Optional[Dict[str, Any]] = None


def net_change(entries: Sequence[Mapping[str, Any]]) -> NetChange:
    """entries: dicts with change_id, op, old, new (jsonb of the changed columns), at (epoch) and
    first_attempt_at (epoch of the first write sent for it, or None), oldest first."""
    ids = [e["change_id"] for e in entries]
    attempted = any(e["first_attempt_at"] is not None for e in entries)
    first = min((e["first_attempt_at"] for e in entries if e["first_attempt_at"] is not None), default=None)
    op: Optional[str] = None
    base: Optional[Dict[str, Any]] = {}
    new: Dict[str, Any] = {}
    at: Dict[str, float] = {}
    deleted_at: Optional[float] = None
    reinserted = False
    created: Optional[Dict[str, Any]] = None
    for entry in entries:
        kind = entry["op"]
        if kind == "insert" and op == "delete" and base is not None:
            # A row Intercom has (its entries began with an update or a delete, not an insert), deleted
            # and inserted again with its id: an undo, or a tool that writes by delete + insert. The row
            # is still that object, so the delete is undone and the columns the insert sets are an update
            # of it (those it leaves NULL keep Intercom's values); a create would make a second object.
            op, deleted_at, reinserted = "update", None, True
            new = dict(entry["new"] or {})
            at = {c: entry["at"] for c in new}
        elif kind == "insert":
            op, base, new, reinserted, created = "insert", None, dict(entry["new"] or {}), False, None
            at = {c: entry["at"] for c in new}
        elif kind == "update":
            if op is None:
                op = "update"
            for column, value in (entry["new"] or {}).items():
                if base is not None and column not in base:
                    base[column] = (entry["old"] or {}).get(column)
                new[column] = value
                at[column] = entry["at"]
        elif kind == "delete":
            # a row created and deleted locally never reaches Intercom, unless a create was tried
            if op == "insert" and not attempted:
                op = None
            else:
                if op == "insert":
                    created = new
                op, deleted_at, reinserted = "delete", entry["at"], False
                if base is not None:
                    base = {**(entry["old"] or {}), **base}
            new = {}
    return NetChange(op, ids, base, new, at, attempted, first, deleted_at, reinserted, created)


@dataclass(frozen=True)
class Conflict:
    column: str
    local: Any
    intercom: Any
    base: Any
    winner: str  # 'local' or 'intercom'


@dataclass
class Resolution:
    push: Dict[str, Any]  # columns (and local values) to send
    conflicts: List[Conflict]


def resolve(rule: str, base: Optional[Mapping[str, Any]], local: Mapping[str, Any], intercom: Mapping[str, Any],
            local_at: Mapping[str, float], intercom_at: Optional[float]) -> Resolution:
    """Column by column: a column changed only locally is pushed; one changed on both sides to different
    values is a conflict the rule decides (newest_wins: the later of the local change and Intercom's
    updated_at; a tie, or an unknown time, goes to Intercom). `base` None (a local insert linked to an
    object Intercom already had): every column whose values differ is a conflict."""
    assert rule in RULES, rule
    push: Dict[str, Any] = {}
    conflicts: List[Conflict] = []
    for column, value in local.items():
        now = intercom.get(column)
        if now == value:
            continue  # already equal: nothing to send
        if base is not None and now == base.get(column):
            push[column] = value  # only the local side changed
            continue
        if rule == "local_wins":
            winner = "local"
        elif rule == "intercom_wins":
            winner = "intercom"
        else:
            mine = local_at.get(column)
            winner = "local" if mine is not None and intercom_at is not None and mine > intercom_at else "intercom"
        conflicts.append(Conflict(column, value, now, None if base is None else base.get(column), winner))
        if winner == "local":
            push[column] = value
    return Resolution(push, conflicts)


def delete_wins(rule: str, base_updated_at: Optional[float], intercom_updated_at: Optional[float],
                deleted_at: float) -> Optional[bool]:
    """A local delete of a row Intercom changed since the last sync (its updated_at moved) is a conflict:
    None when there is none (the delete is sent), else whether the delete wins."""
    if intercom_updated_at is None or base_updated_at is None or intercom_updated_at <= base_updated_at:
        return None
    if rule == "local_wins":
        return True
    if rule == "intercom_wins":
        return False
    return deleted_at > intercom_updated_at
