"""How each replicated object finds its changes: one row of data per object, run by one engine (runner.py).

A strategy names the foreign table's `object` option, the target's key, how a run finds what changed
(`change`), the column its cursor follows, the overlap a run re-reads below the cursor, and how
`reconcile` lists what still exists. The README's table of objects is written from this one.

Change kinds (each implemented once in runner.py):
- `search`: an incremental run first reads the search sorted by `cursor` descending (no filter, so no
  day-granular bound widens it) and stops at the first row older than the cursor, which is the
  newest change read but at most the last run's start - `lag`: one call per 150 changed rows.
  Past WINDOW_ROWS changed rows, and in full and reconcile runs, it reads the rows (changed since
  `cursor - overlap`; all in full and reconcile runs) in ascending windows of their immutable
  `created_at`, each one statement committed on its own, through a temporary foreign table of the run's
  own in scan_mode 'partitioned' (runner.py, _reader): the FDW splits each window further and reads
  the parts concurrently (planning/partition.py owns those windows and their day margins).
- `newest_first`: a list Intercom returns newest `cursor` first (ORDER BY ... DESC pushes down): every
  run lists all ids (one call per 150; these lists are small), reads the changed ones (newer than
  `cursor - overlap`) by id, and marks what the list no longer has, so deletes need no reconcile.
  A run stopped part-way skips, when resumed, the ids it had already read.
- `created_windows`: an append-only log read in `created_at` windows up to the run's start.
- `parents`: a child list read per parent, for the parents whose replica row changed (the parent's
  `_replicated_at`) since this object's cursor; a parent's children are read whole, so children no
  longer listed for it are marked deleted. The run holds the parent's lock too, so no overlap.
  Where the children are copies of another object (a company's contacts), the parents listing a
  changed one are read again as well.
- `reread`: no change signal: every run reads the whole list (it is one cheap call, or the API offers
  no filter), and, the read being complete, marks what is gone.

Reconcile kinds: `rows` (the complete read, as `full`: for these objects listing the ids costs the
same calls as reading the rows), `keys` (the ids only: reading the rows would cost one more call per
row), `parent` (only the children of parents marked deleted), `none` (append-only or time-limited:
nothing is ever marked).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Dict, Optional, Tuple

# Changed rows an incremental `search` run reads newest first, in one window, before it reads the rest
# in `created_at` windows; the session setting intercom_fdw.replicate_window_rows overrides it (and
# CREATED_WINDOW_ROWS).
WINDOW_ROWS = 7500
WINDOW_ROWS_SETTING = "intercom_fdw.replicate_window_rows"
# Rows a `created_at` window of a `search` read aims at (its span adapts to the rows the last one
# read). Each is one statement, and a commit: a stop loses at most one window, while the FDW reads a
# window's parts concurrently, so bigger windows keep every concurrent call busy for longer.
CREATED_WINDOW_ROWS = 30000
# How those windows are read: 'partitioned' (the default) or 'sequential' (one search per window,
# paged in order: the FDW's scan_mode).
SCAN_MODE_SETTING = "intercom_fdw.replicate_scan_mode"
# Parents per window of a `parents` read (one call each, `read_concurrency` at a time).
PARENTS_PER_WINDOW = 50
# Ids per window of the by-id reads of `newest_first` objects (the setting overrides it).
IDS_PER_WINDOW = 150
IDS_PER_WINDOW_SETTING = "intercom_fdw.replicate_ids_per_window"
# Span of one `created_windows` window.
CREATED_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class Strategy:
    object: str
    change: str
    key: Tuple[str, ...] = ("id",)
    cursor: Optional[str] = None
    overlap: timedelta = timedelta(0)
    # `search`: how late the search shows a change; a cursor stays this far below the run's start
    lag: timedelta = timedelta(0)
    parent: Optional[str] = None  # `parents`: the object whose changed rows drive this one
    parent_key: Optional[str] = None  # `parents`: the column holding the parent's id
    reconcile: str = "rows"
    cap: Optional[int] = None  # at most this many children per parent come from the API
    # `parents`: the child rows are copies of this object's rows (the child's `id` is theirs): when
    # one of those changes, every parent listing it is read again too.
    copies: Optional[str] = None
    # The API stops listing rows after a while (events: about 90 days): a row missing from a listing
    # is not gone, so only the children of a gone parent are marked.
    ages_out: bool = False
    why: str = ""  # the README's words for the cursor and its cost
    # Foreign tables of this object that carry this table option (ticket-type tables: ticket_type_id)
    # are each replicated too, the same way, into a target table of the foreign table's name.
    per_table_option: Optional[str] = None
    # Set on the strategy of one such table: the foreign table it reads, and the object it is a part of.
    foreign_table: Optional[str] = None
    part_of: Optional[str] = None

    @property
    def spec_object(self) -> str:
        """The object whose spec (columns, filters) the foreign table follows."""
        return self.part_of or self.object

    def __post_init__(self):
        assert self.change in ("search", "newest_first", "created_windows", "parents", "reread"), self.change
        assert self.reconcile in ("rows", "keys", "parent", "none"), self.reconcile
        assert (self.change == "parents") == (self.parent is not None) == (self.parent_key is not None)
        assert self.change in ("parents", "reread") or self.cursor, self.object

    @property
    def marks_deletes(self) -> bool:
        return self.reconcile != "none"


# Search lag: Intercom's search shows new and updated objects minutes late (api notes). (Contact search
# compares dates by calendar day in the workspace's time zone: the FDW widens a pushed bound for that.)
_SEARCH_LAG = timedelta(minutes=15)

STRATEGIES: Tuple[Strategy, ...] = (  # parents (and the objects children copy) before children
    Strategy("contacts", "search", cursor="updated_at", overlap=timedelta(days=1) + _SEARCH_LAG,
             lag=_SEARCH_LAG, why="`updated_at` search sorted newest first, stopped at the cursor: "
                                 "1 call per 150 changed contacts"),
    Strategy("companies", "reread",
             why="no `updated_at` filter or order: the whole scroll every run (1 call per page)"),
    Strategy("segments", "reread", why="one unpaged call"),
    Strategy("conversations", "search", cursor="updated_at", overlap=timedelta(days=1) + _SEARCH_LAG,
             lag=_SEARCH_LAG, why="`updated_at` search sorted newest first, stopped at the cursor: "
                                  "1 call per 150 changed conversations"),
    Strategy("tickets", "search", cursor="updated_at", overlap=timedelta(days=1) + _SEARCH_LAG,
             lag=_SEARCH_LAG, per_table_option="ticket_type_id",
             why="`updated_at` search sorted newest first (tickets have no list), stopped at the cursor: "
                 "1 call per 150 changed tickets; each ticket-type table the same way"),
    Strategy("ticket_types", "reread", why="one unpaged call"),
    Strategy("articles", "newest_first", cursor="updated_at", overlap=timedelta(hours=1), reconcile="keys",
             why="all ids listed newest `updated_at` first (1 call per 150), then 1 call (GET by id, with "
                 "statistics) per changed article; deletes marked every run"),
    Strategy("collections", "newest_first", cursor="updated_at", overlap=timedelta(hours=1),
             why="all ids listed newest `updated_at` first (1 call per 150), then 1 call per changed "
                 "collection; deletes marked every run"),
    Strategy("help_centers", "reread", why="one unpaged call"),
    Strategy("activity_logs", "created_windows", cursor="created_at", overlap=timedelta(hours=1), reconcile="none",
             why="append-only: `created_at` windows from the cursor - 1 h (1 call per page)"),
    Strategy("contact_companies", "parents", key=("contact_id", "id"), parent="contacts", parent_key="contact_id",
             copies="companies", why="1 call per changed contact, and per contact of a changed company"),
    Strategy("contact_segments", "parents", key=("contact_id", "id"), parent="contacts", parent_key="contact_id",
             copies="segments", why="1 call per changed contact, and per contact in a changed segment"),
    Strategy("notes", "parents", key=("contact_id", "id"), parent="contacts", parent_key="contact_id",
             why="1 call per changed contact"),
    # GET /events gives an event no id of its own (`id` is the contact's): it is keyed by contact,
    # name and time, so two events of one name in the same second of one contact are kept as one.
    Strategy("events", "parents", key=("contact_id", "event_name", "created_at"), parent="contacts",
             parent_key="contact_id", reconcile="parent", ages_out=True,
             why="1 call per changed contact; Intercom lists about 90 days, so only a gone contact's events "
                 "are marked deleted"),
    Strategy("company_contacts", "parents", key=("company_id", "id"), parent="companies", parent_key="company_id",
             copies="contacts", why="1 call per changed company, and per company of a changed contact"),
    Strategy("company_segments", "parents", key=("company_id", "id"), parent="companies", parent_key="company_id",
             copies="segments", why="1 call per changed company, and per company in a changed segment"),
    Strategy("conversation_parts", "parents", key=("conversation_id", "id"), parent="conversations",
             parent_key="conversation_id", reconcile="parent", cap=500,
             why="1 call (GET /conversations/{id}) per conversation whose `updated_at` moved"),
)

STRATEGIES_BY_OBJECT: Dict[str, Strategy] = {s.object: s for s in STRATEGIES}
