"""The HTTP client for Intercom's REST API: paging, rate limits, retries, timeouts, auth, errors.

Nothing here knows about SQL, quals or multicorn. It pages `intercom_fdw.api_request.ApiRequest`s. Layout:
- paging.py        the paging styles, one strategy each
- prefetch.py      reading the next page in a background thread while a scan consumes one
- partitioned.py   disjoint parts of one search read concurrently, through a bounded queue
- workers.py       worker threads that leave every signal to the PostgreSQL backend thread
- interrupts.py    waits that end on an interrupt (cancel, timeout), requests that can be abandoned
- policy.py        retry and throttle decisions (pure functions)
- throttle.py      the throttle state shared by a client's threads
- shared_budget.py one rate budget per workspace across the machine's backends (a locked file)
- scroll_lock.py   one companies scroll per workspace, across PostgreSQL backends
- error_mapping.py HTTP outcomes -> intercom_fdw.errors, with hints
- totals.py        whole-table counts (total_count) seen lately, for the planner's row estimates
- regions.py       region -> base URL
- http.py          IntercomClient and client_for
"""
from intercom_fdw.client.http import IntercomClient, client_for, table_counts
from intercom_fdw.client.regions import REGION_BASE_URLS, api_base_url
from intercom_fdw.api_request import ApiRequest

__all__ = ["ApiRequest", "IntercomClient", "client_for", "table_counts", "api_base_url", "REGION_BASE_URLS"]
