"""Business rules of the emulated API, on one workspace at a time; nothing here knows HTTP.

Every operation is a function `(ws, rt, req) -> body` where `req` carries the path parameters, query
and JSON body as plain Python values, `rt` the runtime (knobs, clock), and the result is the JSON
body to send (or `Accepted` for 202 answers). Errors are raised as `ApiError`.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple

from intercom_fdw.emulator.apierror import invalid, not_found
from intercom_fdw.emulator.config import Knobs
from intercom_fdw.emulator.workspace import Workspace


@dataclass
class Req:
    path: Dict[str, str] = field(default_factory=dict)
    query: Dict[str, str] = field(default_factory=dict)
    body: Any = None
    token: str = ""
    base_url: str = ""


class Accepted:
    """A 202 answer with an empty body (POST /events)."""


@dataclass
class Runtime:
    knobs: Knobs
    clock: Callable[[], float] = time.time

    def now(self) -> int:
        """The time the workspace stamps on what it creates and changes (its clock, skewed by a knob)."""
        return int(self.clock() + self.knobs.clock_offset_s)


class SearchContext:
    """What search readers and list views need beyond the object itself."""

    def __init__(self, ws: Workspace, rt: Runtime):
        self.ws, self.rt = ws, rt
        self._custom_types: Dict[str, Dict[str, str]] = {}
        self._now = rt.clock()
        stale = ws.stale_custom_attributes
        for key in [k for k, (_old, until) in stale.items() if until <= self._now]:
            del stale[key]  # past the delay: lists and search see the current values again
        unindexed, delay = ws.unindexed_contacts, rt.knobs.search_index_delay_s
        for contact_id in [i for i, created in unindexed.items() if created + delay <= self._now]:
            del unindexed[contact_id]  # indexed now: search finds it from here on, whatever the knob later

    def custom_types(self, model: str) -> Dict[str, str]:
        if model not in self._custom_types:
            self._custom_types[model] = {a["name"]: a["data_type"] for a in self.ws.data_attributes.values()
                                         if a["model"] == model and a["custom"] and not a["archived"]}
        return self._custom_types[model]

    def custom_attributes(self, model: str, obj: dict) -> dict:
        """The custom attributes as lists and search still see them (eventual consistency)."""
        stale = self.ws.stale_custom_attributes.get((model, obj["id"])) if self.ws.stale_custom_attributes else None
        if stale is not None and stale[1] > self._now:
            return stale[0]
        return obj["custom_attributes"]

    def contact_tag_ids(self, contact_id: str):
        return [t[0] for t in self.ws.contact_tags.get(contact_id, ())]

    def ticket_attribute(self, attribute_id: str) -> Optional[Tuple[str, str]]:
        for ttype in self.ws.ticket_types.values():
            for attr in ttype["ticket_type_attributes"]["ticket_type_attributes"]:
                if attr["id"] == attribute_id or attr["name"] == attribute_id:
                    return attr["name"], attr["data_type"]
        return None


def remember_custom_attributes(ws: Workspace, rt: Runtime, model: str, obj: dict) -> None:
    """Before custom attributes change: keep the old ones visible to list/search for the delay."""
    delay = rt.knobs.custom_attribute_delay_s
    if delay <= 0:
        return
    key = (model, obj["id"])
    current = ws.stale_custom_attributes.get(key)
    if current is None or current[1] <= rt.clock():
        ws.stale_custom_attributes[key] = (copy.deepcopy(obj["custom_attributes"]), rt.clock() + delay)


def note_unindexed_contact(ws: Workspace, rt: Runtime, contact_id: str) -> None:
    """A new contact: with the search index delay set, search misses it until the delay has passed."""
    if rt.knobs.search_index_delay_s > 0:
        ws.unindexed_contacts[contact_id] = rt.clock()


def require_body(req: Req) -> dict:
    if not isinstance(req.body, dict):
        raise invalid("Request body must be a JSON object", code="bad_request")
    return req.body


def require(obj: Optional[dict], kind: str, code: str = "not_found") -> dict:
    if obj is None:
        raise not_found(kind, code)
    return obj


def int_param(raw, name: str, default=None):
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise invalid(f"{name} must be an integer") from None
