"""The state of one Intercom workspace: objects as API-shaped dicts, relations and indexes.

No HTTP and no business rules beyond keeping indexes in step with the objects (those live in
`backend.py`). Objects are stored in the shape the API returns them, minus the parts computed per
request (embedded tags/notes/companies of a contact, conversation parts), so that a list page is a
cheap shallow copy of stored dicts.
"""
from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

from intercom_fdw.emulator.table import Table

_UIDS = itertools.count(1)


class Workspace:
    def __init__(self, tokens: List[str], app: dict, seed: int):
        self.uid = next(_UIDS)  # never reused, unlike id(): keys caches across resets
        self.tokens = list(tokens)
        self.app = app
        self.seed = seed
        self.admins = Table()
        self.teams = Table()
        self.tags = Table()
        self.segments = Table()
        self.subscription_types = Table()
        self.data_attributes = Table()
        self.companies = Table()
        self.contacts = Table()
        self.notes = Table()
        self.conversations = Table()
        self.tickets = Table()
        self.ticket_types = Table()
        self.ticket_states = Table()
        self.help_centers = Table()
        self.collections = Table()
        self.articles = Table()
        self.activity_logs: List[dict] = []
        self.messages = Table()

        # Relations, each in insertion order.
        self.conversation_parts: Dict[str, List[dict]] = {}
        self.ticket_parts: Dict[str, List[dict]] = {}
        self.contact_companies: Dict[str, List[str]] = defaultdict(list)
        self.company_contacts: Dict[str, List[str]] = defaultdict(list)
        self.contact_tags: Dict[str, List[Tuple[str, int, str]]] = defaultdict(list)  # (tag id, applied_at, admin id)
        self.company_tags: Dict[str, List[str]] = defaultdict(list)
        self.contact_notes: Dict[str, List[str]] = defaultdict(list)
        self.contact_segments: Dict[str, List[str]] = defaultdict(list)
        self.company_segments: Dict[str, List[str]] = defaultdict(list)
        self.contact_subscriptions: Dict[str, List[str]] = defaultdict(list)
        self.events: Dict[str, List[dict]] = defaultdict(list)  # contact id -> events, oldest first
        self.event_summaries: Dict[str, Dict[str, dict]] = defaultdict(dict)

        # Which admin each token acts as (GET /me); tokens absent here act as the first admin.
        self.token_admins: Dict[str, str] = {}
        # Archived contacts: hidden from the list and search until unarchived.
        self.archived_contacts: set = set()
        # Unique keys.
        self.contact_by_email: Dict[str, str] = {}
        self.contact_by_external_id: Dict[str, str] = {}
        self.company_by_company_id: Dict[str, str] = {}
        self.tag_by_name: Dict[str, str] = {}

        # Eventual consistency: (kind, id) -> (custom_attributes as list/search still show them, until).
        self.stale_custom_attributes: Dict[Tuple[str, str], Tuple[dict, float]] = {}
        # Search index lag: id -> clock time of creation, for contacts created while the knob was set.
        self.unindexed_contacts: Dict[str, float] = {}
        # Companies scroll: the one open scroll of this workspace (see paging/scroll.py).
        self.scroll = None
        # Bumped by every write, so cached search results know when they are out of date.
        self.version = 0
        self._serial = itertools.count(1)

    def next_serial(self) -> int:
        return next(self._serial)

    def touch(self) -> None:
        self.version += 1

    # --- index upkeep -------------------------------------------------------------------------

    def add_contact(self, contact: dict) -> dict:
        self.contacts.add(contact["id"], contact)
        if contact.get("email"):
            self.contact_by_email[contact["email"].lower()] = contact["id"]
        if contact.get("external_id"):
            self.contact_by_external_id[contact["external_id"]] = contact["id"]
        return contact

    def reindex_contact(self, contact: dict, old_email: Optional[str], old_external_id: Optional[str]) -> None:
        if old_email and self.contact_by_email.get(old_email.lower()) == contact["id"]:
            del self.contact_by_email[old_email.lower()]
        if old_external_id and self.contact_by_external_id.get(old_external_id) == contact["id"]:
            del self.contact_by_external_id[old_external_id]
        if contact.get("email"):
            self.contact_by_email[contact["email"].lower()] = contact["id"]
        if contact.get("external_id"):
            self.contact_by_external_id[contact["external_id"]] = contact["id"]

    def remove_contact(self, contact_id: str) -> Optional[dict]:
        contact = self.contacts.remove(contact_id)
        if contact is None:
            return None
        self.reindex_contact({"id": contact_id}, contact.get("email"), contact.get("external_id"))
        self.archived_contacts.discard(contact_id)
        self.unindexed_contacts.pop(contact_id, None)
        for company_id in self.contact_companies.pop(contact_id, []):
            self.company_contacts[company_id].remove(contact_id)
        for name in ("contact_tags", "contact_notes", "contact_segments", "contact_subscriptions", "events"):
            getattr(self, name).pop(contact_id, None)
        return contact

    def add_company(self, company: dict) -> dict:
        self.companies.add(company["id"], company)
        self.company_by_company_id[company["company_id"]] = company["id"]
        return company

    def link_contact_company(self, contact_id: str, company_id: str) -> bool:
        if company_id in self.contact_companies[contact_id]:
            return False
        self.contact_companies[contact_id].append(company_id)
        self.company_contacts[company_id].append(contact_id)
        return True

    def unlink_contact_company(self, contact_id: str, company_id: str) -> bool:
        if company_id not in self.contact_companies.get(contact_id, ()):
            return False
        self.contact_companies[contact_id].remove(company_id)
        self.company_contacts[company_id].remove(contact_id)
        return True

    def add_tag(self, tag: dict) -> dict:
        self.tags.add(tag["id"], tag)
        self.tag_by_name[tag["name"]] = tag["id"]
        return tag
