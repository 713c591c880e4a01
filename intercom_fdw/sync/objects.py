"""The synced objects, as data: which local operations reach Intercom, and how a locally inserted row
finds the Intercom object it may already be.

- `operations` come from the object's write rules (spec.WriteRules): the FDW's DML matrix. A local
  operation outside it is refused by the capture trigger at once.
- `unique`: natural keys. A local insert whose values match an Intercom object on one of them is
  linked to it, never created again (the FDW's own rules agree: contacts answer 409 on email or
  external_id, companies are created-or-updated by company_id).
- `recover`: for objects without a natural key, the columns that find a create a killed or failed
  run may have sent: an object matching them on every non-NULL value, created since the first
  attempt (less `CREATED_SLACK`), is taken for it. The lookup reads through search for tickets and
  conversations, which Intercom shows minutes late (`searched`): until the first attempt is older than
  the session setting intercom_fdw.sync_search_lag (default 15 min) such a create is held, not resent.
- `listed_partially`: Intercom's lists leave some existing objects out, but GET by id finds them
  (companies without any contact: the OpenAPI file's listAllCompanies, "the API does not include
  companies who have no associated users in list responses"; the scroll likewise,
  intercom-api-notes.md). The pull re-reads the list and so marks such rows `_deleted_at`; the run
  then reads each row marked since its last run by id and restores the ones Intercom still has.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Dict, Tuple

from intercom_fdw.objects import SPECS

SEARCH_LAG_SETTING = "intercom_fdw.sync_search_lag"
DEFAULT_SEARCH_LAG = "15 min"
# Intercom's clock and ours may differ a little: the created_at a recovery accepts starts this early.
CREATED_SLACK = timedelta(minutes=5)


@dataclass(frozen=True)
class SyncObject:
    object: str
    unique: Tuple[Tuple[str, ...], ...] = ()
    recover: Tuple[str, ...] = ()
    searched: bool = False  # the recovery lookup reads through search (which lags)
    # recovery columns whose Intercom value holds the local one within more (a message body comes back
    # as HTML: "Hello" is "<p>Hello</p>")
    contains: Tuple[str, ...] = ()
    listed_partially: bool = False  # the pull's marks are checked by id (see above)

    def __post_init__(self):
        assert bool(self.unique) != bool(self.recover), self.object

    @property
    def operations(self) -> Tuple[str, ...]:
        return SPECS[self.object].writes.operations


# In the order a run pushes them: an object before those whose rows may name one of its rows (an
# article's collection, a ticket's type and contacts, a conversation's author), so a row made locally
# is created in Intercom before a row that refers to it by its local id is sent (runner.py maps the id).
SYNC_OBJECTS: Tuple[SyncObject, ...] = (
    SyncObject("contacts", unique=(("email",), ("external_id",))),
    SyncObject("companies", unique=(("company_id",),), listed_partially=True),
    SyncObject("collections", recover=("name", "parent_id")),
    SyncObject("articles", recover=("title", "author_id")),
    SyncObject("ticket_types", recover=("name",)),
    SyncObject("tickets", recover=("ticket_type_id", "title"), searched=True),
    SyncObject("conversations", recover=("source_author_id", "source_body"), searched=True, contains=("source_body",)),
)

SYNC_OBJECTS_BY_NAME: Dict[str, SyncObject] = {s.object: s for s in SYNC_OBJECTS}
