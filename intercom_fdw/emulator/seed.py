"""Deterministic, realistic workspaces from a seed and sizes.

Speed matters (100,000 contacts with their related objects in well under 15 s): Faker is called a
few hundred times to fill small pools of names, cities, companies and sentences; each object is then
assembled from those pools with one `random.Random`, which is cheap. Same seed and sizes, same data
(timestamps are relative to `anchor`, midnight UTC of the day the workspace is seeded unless fixed).
"""
from __future__ import annotations

import random
import time
from typing import List, Optional

from faker import Faker

from intercom_fdw.emulator.config import WorkspaceSizes
from intercom_fdw.emulator.workspace import Workspace

DAY = 86400

# Custom data attributes of every data type, per model: (name, data_type, options).
CUSTOM_ATTRIBUTES = {
    "contact": [
        ("plan_tier", "string", ["free", "starter", "pro", "enterprise"]),
        ("seats", "integer", None),
        ("lifetime_value", "float", None),
        ("is_vip", "boolean", None),
        ("trial_ends_at", "date", None),
    ],
    "company": [
        ("account_tier", "string", ["bronze", "silver", "gold"]),
        ("employee_band", "integer", None),
        ("arr", "float", None),
        ("is_partner", "boolean", None),
        ("renewal_at", "date", None),
    ],
    "conversation": [
        ("issue_kind", "string", ["billing", "bug", "question", "feedback"]),
        ("priority_score", "integer", None),
        ("refund_amount", "float", None),
        ("escalated", "boolean", None),
        ("follow_up_at", "date", None),
    ],
}

# Built-in attributes listed by GET /data_attributes next to the custom ones.
STANDARD_ATTRIBUTES = {
    "contact": [("name", "string"), ("email", "string"), ("created_at", "date"), ("last_seen_at", "date")],
    "company": [("name", "string"), ("company_id", "string"), ("monthly_spend", "float")],
    "conversation": [("state", "string"), ("created_at", "date")],
}

TICKET_TYPES = [
    ("Bug report", "Customer", "Something is broken", "🐞",
     [("severity", "list", {"list_options": [{"label": "Low"}, {"label": "High"}, {"label": "Critical"}]}),
      ("affected_users", "integer", None), ("reproducible", "boolean", None)]),
    ("Refund request", "Back-office", "Money back", "💸",
     [("amount", "decimal", None), ("approved_at", "datetime", None)]),
    ("Feature tracker", "Tracker", "Tracks a product request", "📌",
     [("product_area", "string", None), ("votes", "integer", None)]),
]

TICKET_STATES = [
    ("submitted", "Submitted", "Submitted"),
    ("in_progress", "In progress", "In progress"),
    ("waiting_on_customer", "Waiting on customer", "Waiting on you"),
    ("resolved", "Resolved", "Resolved"),
]

BROWSERS = [("chrome", "120.0.6099"), ("firefox", "121.0"), ("safari", "17.2"), ("edge", "120.0.2210")]
OSES = ["OS X 10.15.7", "Windows 10", "Linux", "iOS 17.2", "Android 14"]
LANGUAGES = ["en", "fr", "de", "es", "pt-BR", "ja"]
INDUSTRIES = ["Software", "Retail", "Healthcare", "Finance", "Education", "Logistics", "Media"]
PLANS = ["Free", "Starter", "Pro", "Enterprise"]
TAG_NAMES = ["vip", "churn-risk", "beta", "newsletter", "partner", "trial", "enterprise", "onboarding",
             "feedback", "bug-hunter", "early-adopter", "upsell", "renewal", "support-heavy", "inactive"]
SEGMENT_NAMES = ["Active", "New", "Slipping away", "Paying customers", "Leads from website"]
EVENT_NAMES = ["signed-in", "invited-friend", "updated-plan", "exported-report", "viewed-pricing"]


def anchor_now() -> int:
    now = int(time.time())
    return now - now % DAY


class _Pools:
    """Small pools filled once with Faker; objects pick from them."""

    def __init__(self, seed: int):
        fake = Faker()
        fake.seed_instance(seed)
        self.first = [fake.first_name() for _ in range(300)]
        self.last = [fake.last_name() for _ in range(300)]
        self.domains = [fake.domain_name() for _ in range(200)]
        self.places = [(fake.country(), fake.state(), fake.city(), fake.country_code()) for _ in range(120)]
        self.companies = [fake.company() for _ in range(400)]
        self.sentences = [fake.sentence(nb_words=10) for _ in range(300)]
        self.titles = [fake.sentence(nb_words=5).rstrip(".") for _ in range(150)]
        self.paragraphs = ["<p>" + fake.paragraph(nb_sentences=4) + "</p>" for _ in range(60)]
        self.jobs = [fake.job() for _ in range(30)]


def hex_id(kind: int, salt: int, n: int) -> str:
    """24 hex digits like Intercom's object ids, unique per (kind, salt, n)."""
    return f"{0x6500_0000 + n:08x}{kind:02x}{salt & 0xFFFFFF:06x}{n:08x}"


def seed_workspace(tokens: List[str], seed: int, sizes: WorkspaceSizes, anchor: Optional[int] = None) -> Workspace:
    rng = random.Random(seed)
    pools = _Pools(seed)
    now = anchor if anchor is not None else anchor_now()
    salt = seed
    app_id = f"ws{seed & 0xFFFFFF:06x}"
    app = {
        "type": "app", "id_code": app_id, "name": f"{rng.choice(pools.companies)} Support",
        "region": "US", "timezone": "Etc/UTC", "created_at": now - 900 * DAY, "identity_verification": False,
    }
    ws = Workspace(tokens, app, seed)
    builder = _Builder(ws, rng, pools, now, salt)
    builder.build(sizes)
    return ws


class _Builder:
    def __init__(self, ws: Workspace, rng: random.Random, pools: _Pools, now: int, salt: int):
        self.ws, self.rng, self.pools, self.now, self.salt = ws, rng, pools, now, salt
        self.app_id = ws.app["id_code"]

    def build(self, sizes: WorkspaceSizes) -> None:
        self.admins_and_teams()
        self.tags_segments_subscriptions()
        self.data_attributes()
        self.companies(sizes.companies)
        self.contacts(sizes.contacts)
        self.ticket_types_and_states()
        self.conversations(sizes.conversations)
        self.tickets(sizes.tickets)
        self.help_center(sizes.articles)
        self.activity_logs()

    def ts(self, max_days_ago: float, min_days_ago: float = 0) -> int:
        return self.now - int(self.rng.uniform(min_days_ago, max_days_ago) * DAY)

    # --- people --------------------------------------------------------------------------------

    def admins_and_teams(self) -> None:
        rng, p = self.rng, self.pools
        for i in range(8):
            first, last = p.first[i * 7 % len(p.first)], p.last[i * 11 % len(p.last)]
            admin_id = str(990000 + (self.salt % 1000) * 100 + i)
            self.ws.admins.add(admin_id, {
                "type": "admin", "id": admin_id, "name": f"{first} {last}",
                "email": f"{first}.{last}@{self.app_id}.example.com".lower(),
                "job_title": p.jobs[i % len(p.jobs)], "away_mode_enabled": i == 5, "away_mode_reassign": False,
                "away_status_reason_id": None, "has_inbox_seat": True, "team_ids": [], "avatar": None,
                "team_priority_level": {"primary_team_ids": None, "secondary_team_ids": None},
            })
        admin_ids = list(self.ws.admins.by_id)
        for j, name in enumerate(["Support", "Billing", "Success"]):
            team_id = str(8100 + j)
            members = admin_ids[j * 2: j * 2 + 3]
            self.ws.teams.add(team_id, {
                "type": "team", "id": team_id, "name": name, "admin_ids": [int(a) for a in members],
                "admin_priority_level": {"primary_admin_ids": None, "secondary_admin_ids": None},
                "assignment_limit": None, "distribution_method": "round_robin",
            })
            for a in members:
                self.ws.admins.get(a)["team_ids"].append(int(team_id))
        self.admin_ids = admin_ids
        self.team_ids = list(self.ws.teams.by_id)

    def tags_segments_subscriptions(self) -> None:
        for i, name in enumerate(TAG_NAMES):
            self.ws.add_tag({"type": "tag", "id": str(7000 + i), "name": name})
        self.tag_ids = list(self.ws.tags.by_id)
        for i, name in enumerate(SEGMENT_NAMES):
            seg_id = hex_id(0x5E, self.salt, i)
            self.ws.segments.add(seg_id, {
                "type": "segment", "id": seg_id, "name": name, "created_at": self.now - 400 * DAY + i * DAY,
                "updated_at": self.now - 10 * DAY, "person_type": "user" if i < 4 else "contact", "count": 0,
            })
        self.segment_ids = list(self.ws.segments.by_id)
        for i, (name, consent) in enumerate([("Newsletter", "opt_out"), ("Product updates", "opt_out"),
                                              ("Beta program", "opt_in")]):
            sub_id = str(3300 + i)
            translation = {"name": name, "description": f"{name} emails", "locale": "en"}
            self.ws.subscription_types.add(sub_id, {
                "type": "subscription", "id": sub_id, "state": "live", "default_translation": translation,
                "translations": [translation], "consent_type": consent, "content_types": ["email"],
            })

    def data_attributes(self) -> None:
        n = 0
        for model in ("contact", "company", "conversation"):
            for name, data_type in STANDARD_ATTRIBUTES[model]:
                n += 1
                self.ws.data_attributes.add(str(n), data_attribute(n, model, name, data_type, None, False, self.now))
            for name, data_type, options in CUSTOM_ATTRIBUTES[model]:
                n += 1
                self.ws.data_attributes.add(str(n), data_attribute(n, model, name, data_type, options, True,
                                                                    self.now, self.admin_ids[0]))

    def custom_values(self, model: str) -> dict:
        rng, values = self.rng, {}
        for name, data_type, options in CUSTOM_ATTRIBUTES[model]:
            if rng.random() < 0.15:
                continue  # not every object has every attribute set
            if data_type == "string":
                values[name] = rng.choice(options)
            elif data_type == "integer":
                values[name] = rng.randrange(0, 500)
            elif data_type == "float":
                values[name] = round(rng.uniform(0, 20000), 2)
            elif data_type == "boolean":
                values[name] = rng.random() < 0.3
            else:
                values[name] = self.now + int(rng.uniform(-200, 200)) * DAY + rng.randrange(DAY)
        return values

    def companies(self, count: int) -> None:
        rng, p, ws = self.rng, self.pools, self.ws
        for i in range(count):
            cid = hex_id(0xC0, self.salt, i)
            created = self.ts(800, 30)
            name = p.companies[i % len(p.companies)] + ("" if i < len(p.companies) else f" {i // len(p.companies)}")
            plan = rng.randrange(len(PLANS))
            ws.add_company({
                "type": "company", "id": cid, "name": name, "app_id": self.app_id,
                "plan": {"type": "plan", "id": str(500 + plan), "name": PLANS[plan]},
                "company_id": f"cmp-{i + 1:06d}", "remote_created_at": created, "created_at": created,
                "updated_at": created + rng.randrange(20 * DAY), "last_request_at": self.ts(30),
                "size": rng.randrange(1, 5000), "website": f"https://{p.domains[i % len(p.domains)]}",
                "industry": rng.choice(INDUSTRIES), "monthly_spend": rng.randrange(0, 20000),
                "session_count": rng.randrange(0, 3000), "custom_attributes": self.custom_values("company"),
            })
            if rng.random() < 0.3:
                ws.company_tags[cid] = rng.sample(self.tag_ids, rng.randrange(1, 3))
            if rng.random() < 0.3:
                ws.company_segments[cid] = [rng.choice(self.segment_ids)]
        company_ids = list(ws.companies.by_id)
        # About one company in eight keeps no contacts: the list and the scroll leave those out.
        cut = max(1, len(company_ids) * 7 // 8)
        self.company_ids_with_contacts = company_ids[:cut]

    def contacts(self, count: int) -> None:
        rng, p, ws, now = self.rng, self.pools, self.ws, self.now
        first, last, domains, places = p.first, p.last, p.domains, p.places
        companies_pool = self.company_ids_with_contacts
        subs = list(ws.subscription_types.by_id)
        admin_ints = [int(a) for a in self.admin_ids]
        note_serial = 0
        rand, choice, randrange = rng.random, rng.choice, rng.randrange
        for i in range(count):
            cid = hex_id(0xA0, self.salt, i)
            fn, ln = first[randrange(300)], last[randrange(300)]
            is_user = rand() < 0.8
            domain = domains[randrange(200)]
            email = f"{fn}.{ln}.{i}@{domain}".lower()
            created = now - int(rand() * 700 * DAY)
            browser, browser_version = BROWSERS[randrange(4)]
            country, region, city, cc = places[randrange(120)]
            last_seen = created + int(rand() * (now - created)) if rand() < 0.9 else None
            contact = {
                "type": "contact", "id": cid, "workspace_id": self.app_id,
                "external_id": f"user-{i + 1:07d}" if is_user else None,
                "role": "user" if is_user else "lead", "email": email, "email_domain": domain,
                "phone": f"+1555{i:07d}" if rand() < 0.4 else None, "name": f"{fn} {ln}",
                "owner_id": admin_ints[randrange(len(admin_ints))] if rand() < 0.3 else None,
                "has_hard_bounced": rand() < 0.02, "marked_email_as_spam": rand() < 0.01,
                "unsubscribed_from_emails": rand() < 0.1,
                "created_at": created, "updated_at": created + int(rand() * (now - created)),
                "signed_up_at": created if is_user else None, "last_seen_at": last_seen,
                "last_replied_at": last_seen if rand() < 0.3 else None,
                "last_contacted_at": last_seen if rand() < 0.3 else None,
                "last_email_opened_at": None, "last_email_clicked_at": None,
                "language_override": None, "browser": browser, "browser_version": browser_version,
                "browser_language": LANGUAGES[randrange(6)], "os": OSES[randrange(5)],
                "android_app_name": None, "android_app_version": None, "android_device": None,
                "android_os_version": None, "android_sdk_version": None, "android_last_seen_at": None,
                "ios_app_name": None, "ios_app_version": None, "ios_device": None, "ios_os_version": None,
                "ios_sdk_version": None, "ios_last_seen_at": None,
                "custom_attributes": self.custom_values("contact"), "avatar": None,
                "location": {"type": "location", "country": country, "region": region, "city": city,
                             "country_code": cc, "continent_code": None},
                "social_profiles": {"type": "list", "data": []},
            }
            ws.add_contact(contact)
            # Every 50th contact has more than 10 tags, notes and companies: the embed cap shows.
            crowded = i % 50 == 7
            if crowded:
                for company_id in rng.sample(companies_pool, min(12, len(companies_pool))):
                    ws.link_contact_company(cid, company_id)
            elif rand() < 0.8:
                for _ in range(1 if rand() < 0.9 else 2):
                    ws.link_contact_company(cid, companies_pool[randrange(len(companies_pool))])
            n_tags = 12 if crowded else (randrange(3) if rand() < 0.5 else 0)
            if n_tags:
                tagger = self.admin_ids[0]
                ws.contact_tags[cid] = [(t, created + DAY, tagger) for t in rng.sample(self.tag_ids, n_tags)]
            n_notes = 12 if crowded else (1 if rand() < 0.1 else 0)
            for _ in range(n_notes):
                note_serial += 1
                self.note(cid, created, note_serial)
            if rand() < 0.5:
                ws.contact_segments[cid] = [self.segment_ids[randrange(len(self.segment_ids))]]
            if rand() < 0.3:
                ws.contact_subscriptions[cid] = [subs[randrange(len(subs))]]
            if rand() < 0.3:
                self.events_for(contact)
        # Every company in the first pool has at least one contact.
        for n, company_id in enumerate(companies_pool):
            if not ws.company_contacts.get(company_id) and count:
                ws.link_contact_company(hex_id(0xA0, self.salt, n % count), company_id)
        for seg_id in self.segment_ids:
            ws.segments.get(seg_id)["count"] = 0
        for segs in ws.contact_segments.values():
            for seg_id in segs:
                ws.segments.get(seg_id)["count"] += 1

    def note(self, contact_id: str, created: int, serial: int) -> None:
        note_id = str(60_000_000 + (self.salt % 100) * 1_000_000 + serial)
        admin = self.ws.admins.get(self.admin_ids[serial % len(self.admin_ids)])
        self.ws.notes.add(note_id, {
            "type": "note", "id": note_id, "created_at": created + serial % 1000 * 60,
            "contact": {"type": "contact", "id": contact_id}, "author": admin,
            "body": "<p>" + self.pools.sentences[serial % len(self.pools.sentences)] + "</p>",
        })
        self.ws.contact_notes[contact_id].append(note_id)

    def events_for(self, contact: dict) -> None:
        rng = self.rng
        for k in range(rng.randrange(1, 5)):
            name = EVENT_NAMES[rng.randrange(len(EVENT_NAMES))]
            created = self.now - int(rng.random() * 120 * DAY)  # some older than the 90 days GET /events shows
            self.ws.events[contact["id"]].append({
                "type": "event", "event_name": name, "created_at": created,
                "user_id": contact["external_id"], "intercom_user_id": contact["id"], "email": contact["email"],
                "metadata": {"source": "seed", "n": k},
            })
        self.ws.events[contact["id"]].sort(key=lambda e: e["created_at"])

    # --- tickets and conversations -------------------------------------------------------------

    def ticket_types_and_states(self) -> None:
        ws, now = self.ws, self.now
        for i, (category, internal, external) in enumerate(TICKET_STATES):
            state_id = str(4400 + i)
            ws.ticket_states.add(state_id, {
                "type": "ticket_state", "id": state_id, "category": category,
                "internal_label": internal, "external_label": external, "archived": False,
            })
        attr_serial = 0
        for i, (name, category, description, icon, attrs) in enumerate(TICKET_TYPES):
            type_id = str(5500 + i)
            attributes = []
            for attr_name, data_type, options in [("_default_title_", "string", None),
                                                  ("_default_description_", "string", None)] + attrs:
                attr_serial += 1
                attributes.append(ticket_type_attribute(
                    str(9900 + attr_serial), self.app_id, type_id, attr_name, data_type, options,
                    default=attr_name.startswith("_default_"), order=len(attributes), now=now - 300 * DAY))
            ws.ticket_types.add(type_id, {
                "type": "ticket_type", "id": type_id, "category": category, "name": name,
                "description": description, "icon": icon, "workspace_id": self.app_id,
                "ticket_type_attributes": {"type": "list", "ticket_type_attributes": attributes},
                "archived": False, "created_at": now - 300 * DAY, "updated_at": now - 100 * DAY,
            })

    def author(self, contact: dict) -> dict:
        return {"type": "user" if contact["role"] == "user" else "lead", "id": contact["id"],
                "name": contact["name"], "email": contact["email"]}

    def admin_author(self, admin_id: str) -> dict:
        admin = self.ws.admins.get(admin_id)
        return {"type": "admin", "id": admin_id, "name": admin["name"], "email": admin["email"]}

    def conversations(self, count: int) -> None:
        rng, p, ws = self.rng, self.pools, self.ws
        contact_ids = list(ws.contacts.by_id)
        part_serial = 0
        for i in range(count):
            conv_id = str(100_000_000 + i)
            contact = ws.contacts.get(contact_ids[rng.randrange(len(contact_ids))])
            created = self.ts(365, 1)
            state = rng.choice(["open", "open", "closed", "closed", "snoozed"])
            admin_id = rng.choice(self.admin_ids) if rng.random() < 0.7 else None
            team_id = rng.choice(self.team_ids) if rng.random() < 0.4 else None
            parts = []
            t = created
            n_parts = 503 if i == 3 else rng.randrange(1, 7)  # one long conversation: get-by-id caps at 500
            for k in range(n_parts):
                part_serial += 1
                t += rng.randrange(60, 6 * 3600)
                from_admin = k % 2 == 0 and admin_id is not None
                part_type = "comment" if k < n_parts - 1 or state != "closed" else "close"
                if from_admin and rng.random() < 0.15:
                    part_type = "note"
                parts.append(conversation_part(
                    str(part_serial + 200_000_000), part_type,
                    p.sentences[rng.randrange(len(p.sentences))] if part_type != "close" else None,
                    t, self.admin_author(admin_id) if from_admin else self.author(contact),
                    state if part_type == "close" else "open"))
            updated = max(t, created)
            tags = [{"type": "tag", "id": tid, "name": ws.tags.get(tid)["name"], "applied_at": created,
                     "applied_by": {"type": "admin", "id": self.admin_ids[0]}}
                    for tid in (rng.sample(self.tag_ids, rng.randrange(3)) if rng.random() < 0.4 else [])]
            ws.conversations.add(conv_id, {
                "type": "conversation", "id": conv_id,
                "title": p.titles[rng.randrange(len(p.titles))] if rng.random() < 0.3 else None,
                "created_at": created, "updated_at": updated,
                "waiting_since": updated if state == "open" else None,
                "snoozed_until": updated + 3 * DAY if state == "snoozed" else None,
                "open": state != "closed", "state": state, "read": rng.random() < 0.7,
                "priority": "priority" if rng.random() < 0.1 else "not_priority",
                "admin_assignee_id": int(admin_id) if admin_id else None,
                "team_assignee_id": int(team_id) if team_id else None,
                "tags": {"type": "tag.list", "tags": tags},
                "conversation_rating": None,
                "source": {"type": "conversation" if rng.random() < 0.7 else "email", "id": str(300_000_000 + i),
                           "delivered_as": "customer_initiated",
                           "subject": p.titles[rng.randrange(len(p.titles))],
                           "body": "<p>" + p.sentences[rng.randrange(len(p.sentences))] + "</p>",
                           "author": self.author(contact), "attachments": [], "url": None, "redacted": False},
                "contacts": {"type": "contact.list", "contacts": [
                    {"type": "contact", "id": contact["id"], "external_id": contact["external_id"]}]},
                "teammates": {"type": "admin.list",
                              "teammates": [{"type": "admin", "id": admin_id}] if admin_id else []},
                "custom_attributes": self.custom_values("conversation"),
                "first_contact_reply": {"created_at": created, "type": "conversation", "url": None},
                "sla_applied": None,
                "statistics": conversation_statistics(rng, created, admin_id, len(parts)),
                "linked_objects": {"type": "list", "data": [], "total_count": 0, "has_more": False},
                "ai_agent_participated": False,  # no "ai_agent" key: the file's $ref there cannot be null
            })
            ws.conversation_parts[conv_id] = parts

    def tickets(self, count: int) -> None:
        rng, p, ws = self.rng, self.pools, self.ws
        contact_ids = list(ws.contacts.by_id)
        states = list(ws.ticket_states.values())
        types = list(ws.ticket_types.values())
        for i in range(count):
            ticket_id = str(700_000 + i)
            ttype = types[i % len(types)]
            contact = ws.contacts.get(contact_ids[rng.randrange(len(contact_ids))])
            created = self.ts(200, 1)
            state = states[rng.randrange(len(states))]
            admin_id = rng.choice(self.admin_ids) if rng.random() < 0.6 else "0"
            attributes = {"_default_title_": p.titles[rng.randrange(len(p.titles))],
                          "_default_description_": p.sentences[rng.randrange(len(p.sentences))]}
            for attr in ttype["ticket_type_attributes"]["ticket_type_attributes"]:
                if not attr["default"] and rng.random() < 0.8:
                    attributes[attr["name"]] = ticket_attribute_value(rng, attr, self.now)
            ws.tickets.add(ticket_id, {
                "type": "ticket", "id": ticket_id, "ticket_id": str(i + 1), "category": ttype["category"],
                "ticket_attributes": attributes, "ticket_state": state_ref(state),
                "ticket_type": ticket_type_ref(ttype),
                "contacts": {"type": "contact.list", "contacts": [
                    {"type": "contact", "id": contact["id"], "external_id": contact["external_id"]}]},
                "admin_assignee_id": admin_id, "team_assignee_id": rng.choice(self.team_ids) if rng.random() < 0.3 else "0",
                "created_at": created, "updated_at": created + rng.randrange(10 * DAY),
                "open": state["category"] != "resolved",  # snoozed_until absent: not nullable in the file
                "linked_objects": {"type": "list", "data": [], "total_count": 0, "has_more": False},
                "is_shared": ttype["category"] == "Customer",
            })
            ws.ticket_parts[ticket_id] = [{
                "type": "ticket_part", "id": str(800_000_000 + i), "part_type": "ticket_state_updated_by_admin",
                "body": None, "previous_ticket_state": "submitted", "ticket_state": state["category"],
                "created_at": created + 600, "updated_at": created + 600,
                "author": self.admin_author(self.admin_ids[i % len(self.admin_ids)]), "attachments": [],
                "external_id": None, "redacted": False,
            }]

    # --- help center, logs ---------------------------------------------------------------------

    def help_center(self, article_count: int) -> None:
        rng, p, ws, now = self.rng, self.pools, self.ws, self.now
        for h in range(2):
            hc_id = str(6600 + h)
            ws.help_centers.add(hc_id, {
                "id": hc_id, "workspace_id": self.app_id, "created_at": now - 500 * DAY, "updated_at": now - 20 * DAY,
                "identifier": f"{self.app_id}-help-{h}", "website_turned_on": h == 0,
                "display_name": ["Help Center", "Developer Docs"][h],
                "url": f"https://intercom.help/{self.app_id}-{h}", "custom_domain": None,
            })
        help_center_ids = list(ws.help_centers.by_id)
        for c in range(6):
            coll_id = str(2_700_000 + c)
            name = ["Getting started", "Billing", "Integrations", "Troubleshooting", "API", "Security"][c]
            parent = str(2_700_000 + c - 3) if c >= 4 else None  # a few nested collections
            ws.collections.add(coll_id, {
                "id": coll_id, "workspace_id": self.app_id, "name": name, "description": f"All about {name.lower()}",
                "created_at": now - 400 * DAY + c * DAY, "updated_at": now - 30 * DAY + c * DAY,
                "url": f"https://intercom.help/{self.app_id}/en/collections/{coll_id}", "icon": "book-bookmark",
                "order": c + 1, "default_locale": "en", "translated_content": None, "parent_id": parent,
                "help_center_id": int(help_center_ids[c % 2]),
            })
        collection_ids = list(ws.collections.by_id)
        for a in range(article_count):
            art_id = str(9_100_000 + a)
            created = self.ts(400, 10)
            parent = collection_ids[a % len(collection_ids)]
            views = rng.randrange(0, 5000)
            ws.articles.add(art_id, {
                "type": "article", "id": art_id, "workspace_id": self.app_id,
                "title": p.titles[a % len(p.titles)], "description": p.sentences[a % len(p.sentences)],
                "body": p.paragraphs[a % len(p.paragraphs)], "author_id": int(self.admin_ids[a % len(self.admin_ids)]),
                "state": "published" if a % 4 else "draft", "created_at": created,
                "updated_at": created + rng.randrange(30 * DAY),
                "url": f"https://intercom.help/{self.app_id}/en/articles/{art_id}" if a % 4 else None,
                "parent_id": int(parent), "parent_ids": [int(parent)], "parent_type": "collection",
                "default_locale": "en", "translated_content": None,
                "statistics": {"type": "article_statistics", "views": views, "conversions": views // 20,
                               "reactions": views // 10, "happy_reaction_percentage": 60.0,
                               "neutral_reaction_percentage": 30.0, "sad_reaction_percentage": 10.0},
            })

    def activity_logs(self) -> None:
        rng, ws = self.rng, self.ws
        kinds = ["admin_login_success", "admin_logout", "admin_away_mode_change", "app_name_change",
                 "admin_permission_change", "app_team_membership_modification"]
        for n in range(240):
            admin = ws.admins.get(self.admin_ids[rng.randrange(len(self.admin_ids))])
            kind = kinds[rng.randrange(len(kinds))]
            ws.activity_logs.append({
                "id": str(40_000_000 + n),
                "performed_by": {"type": "admin", "id": admin["id"], "email": admin["email"], "ip": f"10.0.0.{n % 250}"},
                "metadata": {"sign_in_method": "email_password"} if kind == "admin_login_success" else {},
                "created_at": self.ts(180), "activity_type": kind,
                "activity_description": f"{admin['name']}: {kind.replace('_', ' ')}",
            })
        ws.activity_logs.sort(key=lambda log: log["created_at"])


# --- shapes shared with the write side ---------------------------------------------------------

def data_attribute(n, model, name, data_type, options, custom, now, admin_id=None) -> dict:
    attr = {
        "type": "data_attribute", "id": n, "model": model, "name": name,
        "full_name": f"custom_attributes.{name}" if custom else name, "label": name.replace("_", " ").title(),
        "description": f"{'Custom' if custom else 'Standard'} {model} attribute {name}",
        "data_type": data_type, "api_writable": custom, "messenger_writable": False, "ui_writable": True,
        "custom": custom, "archived": False, "created_at": now - 600 * DAY + n, "updated_at": now - 60 * DAY + n,
    }
    if options:
        attr["options"] = list(options)
    if admin_id:
        attr["admin_id"] = admin_id
    return attr



def ticket_type_attribute(attr_id, app_id, type_id, name, data_type, options, default, order, now) -> dict:
    return {
        "type": "ticket_type_attribute", "id": attr_id, "workspace_id": app_id, "name": name,
        "description": "Title of the ticket" if name == "_default_title_" else
        ("Description of the ticket" if name == "_default_description_" else f"{name} of the ticket"),
        "data_type": data_type, "input_options": options or {}, "order": order,
        "required_to_create": default and name == "_default_title_", "required_to_create_for_contacts": False,
        "visible_on_create": True, "visible_to_contacts": True, "default": default,
        "ticket_type_id": int(type_id), "archived": False, "created_at": now, "updated_at": now,
    }


def ticket_type_ref(ttype: dict) -> dict:
    """The ticket type as tickets embed it (without its attribute list)."""
    return {k: v for k, v in ttype.items() if k != "ticket_type_attributes"}


def state_ref(state: dict) -> dict:
    return {k: state[k] for k in ("type", "id", "category", "internal_label", "external_label")}



def ticket_attribute_value(rng: random.Random, attr: dict, now: int):
    data_type = attr["data_type"]
    if data_type == "list":
        return rng.choice(attr["input_options"]["list_options"])["label"]
    if data_type == "integer":
        return rng.randrange(1, 1000)
    if data_type == "decimal":
        return round(rng.uniform(1, 500), 2)
    if data_type == "boolean":
        return rng.random() < 0.5
    if data_type == "datetime":
        return now - rng.randrange(100) * DAY
    return rng.choice(["Billing", "Reporting", "Inbox", "Messenger"])


def conversation_statistics(rng: random.Random, created: int, admin_id, n_parts: int) -> dict:
    stats = {"type": "conversation_statistics", "count_reopens": rng.randrange(3),
             "count_assignments": 1 if admin_id else 0, "count_conversation_parts": n_parts,
             "first_contact_reply_at": created}
    if admin_id:  # integer fields of the file are not nullable: absent until an admin replied
        reply = rng.randrange(60, 86400)
        stats.update(time_to_admin_reply=reply, first_admin_reply_at=created + reply,
                     last_admin_reply_at=created + reply, first_assignment_at=created,
                     last_assignment_at=created)
    return stats


def conversation_part(part_id, part_type, body, created, author, state="open", assigned_to=None) -> dict:
    part = {
        "type": "conversation_part", "id": part_id, "part_type": part_type,
        "body": f"<p>{body}</p>" if body else None, "created_at": created, "updated_at": created,
        "notified_at": created, "author": author, "attachments": [],
        "external_id": None, "redacted": False, "state": state, "tags": [], "app_package_code": None,
    }
    if assigned_to is not None:  # the file's $ref for assigned_to cannot be null: absent instead
        part["assigned_to"] = assigned_to
    return part
