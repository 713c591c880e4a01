"""What the action calls of one SQL statement did in Intercom, for the error that stops the statement.

Users call an action once per row (`SELECT close_conversation(id, ...) FROM ...`, `UPDATE t SET done =
tag_contact(...)`, a PL/pgSQL loop). When call k fails, calls 1..k-1 have reached Intercom and the
statement's rollback undoes none of them; the error of call k says so: how many, which ones (the
first LISTED_CALLS, action and the id it was called for, then how many more) and a HINT, as the FDW's
writes do for their rows (writing/statement.py).

"The statement" is the client's command, told by `pg_statement.statement_started()`: the same value for
every call of one top-level statement, whatever function, DO block or procedure loop makes them (the user
sees only that statement's error, and its rollback undoes its local effects together), a new one for
the next command. Each backend's process holds one `StatementCalls` (plpython.py), which forgets
the statement before when a call of a new one begins: after an error too, since the next statement has
a new value; its memory is bounded (a count and LISTED_CALLS labels of each kind) however long the
statement or the session. Pure: the statement's key is handed in.
"""
from __future__ import annotations

from typing import Any, List, Mapping, Optional, Tuple

from intercom_fdw.actions.vocabulary import Action

# Calls named in an error; the rest are counted.
LISTED_CALLS = 10


class _Calls:
    """A count, and the labels of the first LISTED_CALLS."""

    def __init__(self):
        self.count = 0
        self.listed: List[str] = []

    def add(self, label: str) -> None:
        self.count += 1
        if len(self.listed) < LISTED_CALLS:
            self.listed.append(label)

    def text(self) -> str:
        more = self.count - len(self.listed)
        return ", ".join(self.listed) + (f", and {more} more" if more else "")


def call_label(action: Action, arguments: Mapping[str, Any]) -> str:
    """`close_conversation(conversation_id => '215')`: the action and the argument naming its object, as
    SQL's named notation writes it (the errors' one place, errors.IntercomError, shortens and scrubs it)."""
    name = action.target_name
    value = arguments.get(name)
    return f"{action.name}({name} => {'NULL' if value is None else repr(str(value))})"


class StatementCalls:
    """The calls of one statement: how many began, and those that reached Intercom or may have."""

    def __init__(self):
        self._forget(None)

    def _forget(self, statement: Any) -> None:
        self.statement = statement
        self.calls = 0
        self.reached = _Calls()
        self.unsure = _Calls()  # failed without a usable answer: they may have reached Intercom
        self.told = False  # an error (or WARNING) has named the calls so far

    def begin(self, statement: Any) -> int:
        """A call of `statement` begins: its number among the statement's calls. A new statement (or an
        unknown one, None: each call is then a statement of its own) forgets the one before."""
        if statement is None or statement != self.statement:
            self._forget(statement)
        self.calls += 1
        self.told = False
        return self.calls

    def add_reached(self, label: str) -> None:
        self.reached.add(label)

    def add_unsure(self, label: str) -> None:
        self.unsure.add(label)

    def reported(self, call: int, message: str, detail: Optional[str], hint: Optional[str]
                 ) -> Tuple[str, Optional[str], Optional[str]]:
        """The (message, detail, hint) of call `call`'s error, with what the statement's calls so far did in
        Intercom added: the error's own when none reached it."""
        reached, unsure = self.reached.count, self.unsure.count
        if not reached and not unsure:
            return message, detail, hint
        self.told = True
        return (f"{message} (call {call} of the statement; {self._counted('call(s) of it')})",
                "; ".join(filter(None, [detail, self._listed()])),
                "\n".join(filter(None, [hint, _ADVICE])))

    def untold(self, statement: Any) -> Optional[Tuple[str, str, str]]:
        """(message, detail, hint) of a WARNING naming what the calls of `statement` did in Intercom, when
        no error has named them since the last call: the statement failed outside any action call (a
        cancel while PostgreSQL or a foreign table's scan ran, another error), and is rolled back. Once."""
        if statement is None or statement != self.statement or self.told or not (self.reached.count or
                                                                                 self.unsure.count):
            return None
        self.told = True
        return (f"the rollback undid nothing in Intercom: {self._counted('action call(s) of the statement')}",
                self._listed(), _ADVICE)

    def _counted(self, calls: str) -> str:
        said = f"{self.reached.count} {calls} had already reached Intercom and stay there"
        return said + (f", {self.unsure.count} more may have" if self.unsure.count else "")

    def _listed(self) -> str:
        lists = [f"calls of it that reached Intercom: {self.reached.text()}"] if self.reached.count else []
        if self.unsure.count:
            lists.append(f"calls of it that failed without a usable answer and may have reached Intercom: "
                         f"{self.unsure.text()}")
        return "; ".join(lists)


_ADVICE = ("the rollback undoes none of the calls that reached Intercom (the DETAIL names the first "
           f"{LISTED_CALLS}, in the order the statement made them): check those objects in Intercom, and "
           "leave their rows out when running the statement again, or those actions are done twice")

# The action calls of the statement this backend runs: one per backend process (PL/Python and the
# runtime share its interpreter and keep this module imported for the session). plpython.py counts the
# calls and names them in an action's error; fdw.py names them when a statement a foreign table took part
# in is rolled back without such an error.
CALLS = StatementCalls()
