"""Differential fuzzing of pushdown: random WHERE clauses (and ORDER BY ... LIMIT) over every table, run
on the server with pushdown and on its twin with `pushdown 'false'` against the same emulator workspace,
results compared as multisets. The rule under test is the README's: a pushed filter may fetch more rows
than SQL asks for, never fewer, and PostgreSQL re-checks every qual, so both servers return the same rows.

The generator is our own, seeded (`random.Random`), not hypothesis: a run executes every case and reports
every mismatch at once, grouped by what differs (hypothesis stops at the first failure and shrinks it by
re-running queries); a case depends only on (FUZZ_SEED, its index) and the seeded workspace, so a failure
is replayed from the SQL the message prints. A mismatch of several ANDed conditions is reduced to the one
condition that alone still differs, when there is one.

    make test                                     # FUZZ_CASES=1500 cases, FUZZ_SEED=20261201 (about 90 s)
    FUZZ_CASES=20000 FUZZ_SEED=7 .venv/bin/python -m pytest tests/integration/test_read_fuzz_differential.py
    FUZZ_SEED=7 FUZZ_ONLY=412,977 ...             # only these cases (and their reductions) again
    FUZZ_VERBOSE=1 ... -s                         # every case's SQL, time and row counts as it runs

The workspace's timestamps are seeded relative to the day it runs: a case replays the same way that day.
A quarter of the cases aim at pushed columns' unusual values (non-ASCII text cut next to special casing,
integers held in text columns, instants written as timestamp or date literals, dates), 5% read rows by
id with every column (get by id against the list); the rest are free.

Constants come from the workspace's own rows (values that exist), near misses of them (case, spaces,
leading zeros, signs, underscores) and hostile values (quotes, empty strings, special casing, huge
numbers, wildcards); the workspace gets a few rows with such values first (Greek final sigma, 'ß',
Turkish dotless i, quotes, wildcards), so that the hostile constants meet data that holds them.
Every case runs in a session time zone drawn from zones with odd offsets and DST days.
"""
import collections
import datetime as dt
import json
import os
import random
import re
import time
from dataclasses import dataclass, field
from typing import List, Optional, Tuple
from zoneinfo import ZoneInfo

import psycopg
import pytest

from intercom_fdw.objects import spec_for
from tests.emulator_fixtures import running_emulator

FUZZ_CASES = int(os.environ.get("FUZZ_CASES", "1500"))
FUZZ_SEED = int(os.environ.get("FUZZ_SEED", "20261201"))

# about 60 ms a case on 2 cores; generous for a loaded machine
pytestmark = pytest.mark.timeout(max(300, FUZZ_CASES // 5))

ZONES = ("UTC", "Asia/Kathmandu", "Pacific/Chatham", "America/St_Johns", "Australia/Lord_Howe",
         "America/New_York", "Europe/Berlin", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Tehran")
# Local days on which a zone's offset changes (2026), and a local time inside the gap or the overlap.
DST_TIMES = ("2026-03-08 02:30:00", "2026-11-01 01:30:00", "2026-03-29 02:30:00", "2026-10-25 02:30:00",
             "2026-04-05 02:45:00", "2026-09-27 02:45:00", "2026-10-04 02:15:00", "2026-04-05 01:45:00")

# Text that Python and PostgreSQL case or parse differently from what a naive rule expects.
HOSTILE_TEXT = ("", " ", "'", "''", "O'Brien", "%", "_", "\\", "\\%", "a_b", "100%", "ΑΣ", "ας", "Σ", "σ", "ς",
                "ΟΔΥΣΣΕΑΣ", "ß", "SS", "ss", "ẞ", "straße", "STRASSE", "ı", "I", "İ", "i", "ISPARTA", "ılık", "ǅ",
                "ǆ", "ﬁ", "fi", "K", "k", "ſ", "é", "é", "😀", "0", "00", "-0", "+0", "1e3", "0x10",
                "99999999999999999999", "-99999999999999999999", "١٢٣", "１２３", " 12 ", "1_000", "null", "NULL",
                "true", "t", "2026-01-01")

# Letters whose case mapping depends on context, changes length or leaves ASCII (final sigma, dotted and
# dotless i, sharp s, ligatures, titlecase digraphs, Kelvin sign, long s).
SPECIAL_CASING = "ΣσςİıßẞﬁﬂǄǅǆKſ"

# Rows added to the workspace before the import: values of the kinds above, reachable by pushed filters.
HOSTILE_NAMES = ("ΟΔΥΣΣΕΑΣ ΑΣ", "Straße Groß", "STRASSE GROSS", "İstanbul Iğdır", "ılık ISPARTA", "O'Brien",
                 "ǅemal ǆ", "ﬁnance ﬂow", "Kelvin K", "ſtate", "100%_off\\x", "  spaced  ", "00123", "+42",
                 "Ωmega 😀", "ΣΊΣΥΦΟΣ")


# --- the workspace ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def emulator():
    """This module's own workspace (the session one plus hostile rows, which other modules must not see)."""
    with running_emulator() as server:
        yield server


@pytest.fixture(scope="module")
def hostile_rows(api):
    return add_hostile_rows(api)


def add_hostile_rows(api):
    """Contacts, companies (each with a contact, or full scans leave it out) and conversations with hostile values."""
    contacts = []
    for n, name in enumerate(HOSTILE_NAMES):
        body = {"role": "user" if n % 2 else "lead", "email": f"hostile{n}.{'x' * n}@exämple.test",
                "name": name, "external_id": ("0099", "+99", " 99", "99 ", "9_9", f"ext-{name}")[n % 6] + str(n),
                "phone": ("+4917", "004917", "４９")[n % 3] + str(n),
                "custom_attributes": {"plan_tier": name, "seats": (0, -1, 2 ** 31 - 1, 7)[n % 4],
                                      "lifetime_value": (0.5, -2.25, 1e15, 3.0)[n % 4], "is_vip": bool(n % 2)}}
        contacts.append(api.post("/contacts", body))
    for n, name in enumerate(HOSTILE_NAMES[:8]):
        company = api.post("/companies", {"company_id": ("cmp-ß", "cmp-Σ", "0042", "+42", "4_2", "cmp-'q'",
                                                         "cmp-%", "cmp-ı")[n], "name": name, "industry": name,
                                          "website": f"https://{n}.example"})
        # A company without contacts is left out of full scans (Intercom's list): attach one.
        api.post(f"/contacts/{contacts[n]['id']}/companies", {"id": company["id"]})
    for n, name in enumerate(HOSTILE_NAMES[:8]):
        api.post("/conversations", {"from": {"type": "user", "id": contacts[n]["id"]},
                                    "body": f"{name} said: appear late", "subject": name})
    return contacts


@pytest.fixture(scope="module")
def fuzz_db(hostile_rows, read_db):
    return read_db


# --- schema and value pools ---------------------------------------------------------------------

@dataclass
class Table:
    name: str
    weight: float
    # a parent key the table needs (child tables are read per parent): (column, parent table, parent column)
    parent: Optional[Tuple[str, str, str]] = None
    columns: dict = field(default_factory=dict)  # name -> kind (text, int, float, bool, tstz, date)
    pushable: set = field(default_factory=set)
    orderings: list = field(default_factory=list)  # (column, descending) the API can deliver
    pools: dict = field(default_factory=dict)  # column -> distinct non-null values


TABLES = (
    Table("contacts", 14), Table("conversations", 12), Table("companies", 10), Table("tickets", 8),
    Table("bug_report_tickets", 3), Table("feature_tracker_tickets", 2), Table("refund_request_tickets", 2),
    Table("articles", 5), Table("collections", 2), Table("help_centers", 1), Table("admins", 1), Table("teams", 1),
    Table("tags", 1), Table("segments", 1), Table("ticket_types", 1), Table("ticket_states", 1),
    Table("subscription_types", 1), Table("data_attributes", 2), Table("ticket_type_attributes", 1),
    Table("activity_logs", 2),  # created_at bounds are the API's time window
    Table("events", 0.5, ("contact_id", "contacts", "id")),  # needs a contact with pushdown off too
    # per parent: the unpushed twin reads every parent row, one call each, so these stay rare
    Table("contact_tags", 0.6, ("contact_id", "contacts", "id")),
    Table("contact_companies", 0.4, ("contact_id", "contacts", "id")),
    Table("contact_segments", 0.3, ("contact_id", "contacts", "id")),
    Table("contact_subscriptions", 0.3, ("contact_id", "contacts", "id")),
    Table("notes", 0.4, ("contact_id", "contacts", "id")),
    Table("company_contacts", 0.5, ("company_id", "companies", "id")),
    Table("company_segments", 0.4, ("company_id", "companies", "id")),
    Table("conversation_parts", 0.6, ("conversation_id", "conversations", "id")),
)

_KINDS = {"text": "text", "character varying": "text", "integer": "int", "bigint": "int", "smallint": "int",
          "double precision": "float", "real": "float", "numeric": "float", "boolean": "bool",
          "timestamp with time zone": "tstz", "timestamp without time zone": "ts", "date": "date"}


def _pushable_columns(object_name: str, columns) -> set:
    spec = spec_for(object_name)
    pushable = {"id"} if spec.get else set()
    pushable |= {f.column for f in spec.search_fields} | {f.column for f in spec.list_filters}
    pushable |= {m.column for m in spec.member_filters} | {o.column for o in spec.orderings}
    if spec.parent:
        pushable.add(spec.parent.column)
    if spec.window:
        pushable.add(spec.window.column)
    if spec.custom_fields and spec.custom_fields.search_kinds:
        pushable |= set(columns) - set(spec.column_names)  # imported custom attribute columns
    return pushable & set(columns)


@pytest.fixture(scope="module")
def world(fuzz_db):
    conn = fuzz_db.conn
    tables = {}
    for table in TABLES:
        table = Table(table.name, table.weight, table.parent)
        object_name = conn.execute(
            "SELECT option_value FROM pg_options_to_table((SELECT ftoptions FROM pg_foreign_table "
            "WHERE ftrelid = %s::regclass)) WHERE option_name = 'object'", (f"intercom.{table.name}",)).fetchone()
        object_name = object_name[0] if object_name else table.name
        for name, data_type in conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'intercom' "
                "AND table_name = %s ORDER BY ordinal_position", (table.name,)).fetchall():
            if data_type in _KINDS:
                table.columns[name] = _KINDS[data_type]
        spec = spec_for(object_name)
        table.pushable = _pushable_columns(object_name, table.columns)
        table.orderings = [(o.column, o.descending) for o in spec.orderings]
        tables[table.name] = table
    for table in tables.values():
        if table.parent:
            continue
        rows = conn.execute("SELECT " + ", ".join(_q(c) for c in table.columns)
                            + f" FROM intercom_plain.{_q(table.name)}").fetchall()
        for i, name in enumerate(table.columns):
            table.pools[name] = sorted({r[i] for r in rows if r[i] is not None}, key=repr)
    for table in tables.values():
        if not table.parent:
            continue
        column, parent, parent_column = table.parent
        parents = tables[parent].pools[parent_column]
        sample = random.Random(FUZZ_SEED).sample(parents, min(25, len(parents)))
        table.pools[column] = sample
        rows = conn.execute("SELECT " + ", ".join(_q(c) for c in table.columns) + f" FROM intercom.{_q(table.name)}"
                            f" WHERE {_q(column)} = ANY(%s)", (sample,)).fetchall()
        for i, name in enumerate(table.columns):
            if name != column:
                table.pools[name] = sorted({r[i] for r in rows if r[i] is not None}, key=repr)
    return tables


# --- SQL building -------------------------------------------------------------------------------

def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _holds_integers(pool) -> bool:
    """A text column whose values are integers (owner_id, admin_assignee_id): pushed as numbers."""
    return bool(pool) and all(isinstance(v, str) and v.isdigit() for v in pool[:20])


def _holds_non_ascii(pool) -> bool:
    return any(isinstance(v, str) and not v.isascii() for v in pool or ())


@dataclass
class Atom:
    sql: str
    column: str
    label: str  # what kind of condition, for grouping mismatches: "text <> numeric-variant", ...


class Generator:
    def __init__(self, rng: random.Random, tables: dict, zone: str):
        self.rng, self.tables, self.zone = rng, tables, zone

    def pick(self, items, weights=None):
        return self.rng.choices(items, weights=weights)[0] if weights else self.rng.choice(items)

    # constants ------------------------------------------------------------------------------
    def text_value(self, pool) -> Tuple[str, str]:
        r = self.rng.random()
        if pool and r < 0.8:
            # half the time one of the column's unusual values (non-ASCII, digits, quotes, spaces), if any
            unusual = [v for v in pool if not re.fullmatch(r"[A-Za-z][A-Za-z .,@-]*", str(v))]
            value = str(self.pick(unusual if unusual and self.rng.random() < 0.5 else pool))
            return (value, "existing") if r < 0.4 else self.near_miss(value)
        return self.pick(HOSTILE_TEXT), "hostile"

    def near_miss(self, value: str) -> Tuple[str, str]:
        if value.strip().isdigit() and self.rng.random() < 0.7:
            digits = value.strip()
            variants = ["0" + digits, "00" + digits, "+" + digits, " " + digits, digits + " ", "-" + digits,
                        digits[:len(digits) // 2] + "_" + digits[len(digits) // 2:], digits + "0", digits[:-1],
                        "１" * 0 + "".join(chr(0xFF10 + int(d)) for d in digits), digits + ".0", "99999999999999999999"]
            return self.pick(variants), "numeric-variant"
        variants = [value.upper(), value.lower(), value.swapcase(), value.title(), value.casefold(), " " + value,
                    value + " ", value[:-1], value[1:], value + value[-1:], value.replace("s", "ſ"),
                    value.replace("k", "K"), value.replace("i", "ı"), value.replace("I", "İ"),
                    value.replace("ss", "ß"), value.replace("ß", "ss"), value.replace("Σ", "σ"), value.replace("'", ""),
                    "0" + value, "+" + value]
        return self.pick(variants), "near-miss"

    def number(self, pool, kind) -> Tuple[str, str]:
        r = self.rng.random()
        if pool and r < 0.45:
            v = self.pick(pool)
            return (repr(float(v)) if kind == "float" else str(v)), "existing"
        if pool and r < 0.75:
            v = self.pick(pool)
            delta = self.pick([-1, 1, 0.5, -0.5, 0.001]) if kind == "float" else self.pick([-1, 1])
            return str(v + delta), "near-miss"
        hostile = ["0", "-1", "2147483647", "-2147483648", "9223372036854775807", "99999999999999999999"]
        if kind == "float":
            hostile += ["'NaN'::float8", "'Infinity'::float8", "'-Infinity'::float8", "1e308", "2.5", "-0.0", "1e-9"]
        else:
            hostile += ["2.5", "-0.5", "'7'"]
        return self.pick(hostile), "hostile"

    def instant(self, pool) -> Tuple[dt.datetime, str]:
        """A UTC instant near the column's values (or a DST or odd local time of the session zone)."""
        r = self.rng.random()
        if pool and r < 0.8:
            v = self.pick(pool)
            if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
                v = dt.datetime(v.year, v.month, v.day, tzinfo=ZoneInfo(self.zone))
            if r < 0.5:
                return v, "existing"
            shift = self.pick([1, -1, 60, 3600, -3600, 86399, 86400, -86400, 2 * 86400, 5 * 3600 + 45 * 60])
            return v + dt.timedelta(seconds=shift), "near-miss"
        local = dt.datetime.fromisoformat(self.pick(DST_TIMES)).replace(tzinfo=ZoneInfo(self.zone))
        return local, "dst"

    def time_literal(self, instant: dt.datetime) -> Tuple[str, str]:
        """The instant as a timestamptz, a timestamp (its local time in the session zone) or a date literal."""
        local = instant.astimezone(ZoneInfo(self.zone))
        form = self.pick(["timestamptz", "timestamp", "date", "timestamptz-offset", "untyped"])
        if form == "timestamp":
            return _lit(local.replace(tzinfo=None).isoformat(" ")) + "::timestamp", form
        if form == "date":
            return _lit(local.date().isoformat()) + "::date", form
        if form == "timestamptz-offset":
            offset = dt.timezone(dt.timedelta(minutes=self.pick([345, -210, 765, -600, 0, 840])))
            return _lit(instant.astimezone(offset).isoformat(" ")) + "::timestamptz", form
        if form == "untyped":  # an unknown-typed literal, read in the session zone by the column's type
            return _lit(local.replace(tzinfo=None).isoformat(" ")), form
        return _lit(instant.astimezone(dt.timezone.utc).isoformat(" ")) + "::timestamptz", form

    # conditions -----------------------------------------------------------------------------
    def atom(self, table: Table, column: str) -> Atom:
        kind = table.columns[column]
        pool = table.pools.get(column, [])
        c = _q(column)
        if self.rng.random() < 0.07:
            op = self.pick(["IS NULL", "IS NOT NULL"])
            return Atom(f"{c} {op}", column, f"{kind} {op}")
        if kind == "text":
            return self.text_atom(c, column, pool)
        if kind in ("int", "float"):
            return self.number_atom(c, column, pool, kind)
        if kind == "bool":
            form = self.pick([f"{c}", f"NOT {c}", f"{c} = true", f"{c} = false", f"{c} <> true", f"{c} <> false",
                              f"{c} IN (true)", f"{c} IS TRUE", f"{c} IS NOT FALSE", f"{c} = 't'", f"{c} = ANY('{{f}}')"])
            return Atom(form, column, "bool " + re.sub(r'"[^"]+"', "col", form))
        return self.time_atom(c, column, pool, kind)

    def text_atom(self, c, column, pool) -> Atom:
        op = self.pick(["=", "<>", "<", ">=", "in", "not in", "any", "all", "like", "not like", "ilike",
                        "not ilike", "=", "<>", "like", "ilike"])
        if op in ("in", "not in", "any", "all"):
            values, labels = zip(*(self.text_value(pool) for _ in range(self.rng.randint(1, 5))))
            values = list(values)
            if self.rng.random() < 0.3:
                values.append("")
            if self.rng.random() < 0.3:
                values.append(values[0])
            self.rng.shuffle(values)
            label = "+".join(sorted(set(labels))) + (" with ''" if "" in values else "")
            if op in ("in", "not in"):
                return Atom(f"{c} {op.upper()} ({', '.join(_lit(v) for v in values)})", column, f"text {op} {label}")
            array = self.pick(["ARRAY[" + ", ".join(_lit(v) for v in values) + "]",
                               _lit("{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
                                                   for v in values) + "}") + "::text[]"])
            return Atom(f"{c} {'= ANY' if op == 'any' else '<> ALL'}({array})", column, f"text {op} {label}")
        if op in ("like", "not like", "ilike", "not ilike"):
            pattern, label = self.pattern(pool)
            if self.rng.random() < 0.1 and "#" not in pattern:  # ESCAPE '#': folded into a backslash pattern
                return Atom(f"{c} {op.upper()} {_lit(pattern.replace(chr(92), '#'))} ESCAPE '#'", column,
                            f"text {op} {label} escape")
            return Atom(f"{c} {op.upper()} {_lit(pattern)}", column, f"text {op} {label}")
        value, label = self.text_value(pool)
        return Atom(f"{c} {op} {_lit(value)}", column, f"text {op} {label}")

    def pattern(self, pool) -> Tuple[str, str]:
        value, label = self.text_value(pool) if self.rng.random() < 0.8 else (str(self.pick(pool or ["x"])), "existing")
        tricky = [i for i, ch in enumerate(value) if ch in SPECIAL_CASING]
        if tricky and self.rng.random() < 0.5:
            # cut next to a letter whose case mapping depends on context or changes length (Σ, İ, ß, ﬁ)
            i = self.pick(tricky)
            value = self.pick([value[:i + 1], value[i:], value[max(0, i - 2):i + 1]])
            label += " cut-at-special-case"
        elif len(value) > 2 and self.rng.random() < 0.7:
            start = self.rng.randrange(len(value) - 1)
            value = value[start:self.rng.randint(start + 1, len(value))]

        def escape(text):
            return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

        escaped = escape(value)
        shape = self.pick(["prefix", "suffix", "contains", "exact", "underscore", "raw", "percent-only"])
        if shape == "prefix":
            return escaped + "%", f"{label} {shape}"
        if shape == "suffix":
            return "%" + escaped, f"{label} {shape}"
        if shape == "contains":
            return "%" + escaped + "%", f"{label} {shape}"
        if shape == "underscore" and escaped:
            i = self.rng.randrange(len(value))
            return "%" + escape(value[:i]) + "_" + escape(value[i + 1:]) + "%", f"{label} {shape}"
        if shape == "raw":
            # A pattern ending in a lone escape fails as the rows are filtered, and a failed companies scan
            # leaves its scroll open, which the next full scan waits out (a minute; README): kept valid.
            trailing = len(value) - len(value.rstrip("\\"))
            return value + ("\\" if trailing % 2 else ""), f"{label} {shape}"
        if shape == "percent-only":
            return self.pick(["%", "%%", "_%", "", "\\%", "%\\_%"]), shape
        return escaped, f"{label} exact"

    def number_atom(self, c, column, pool, kind) -> Atom:
        op = self.pick(["=", "<>", "<", "<=", ">", ">=", "in", "not in", "any", "all", "between"])
        if op in ("in", "not in", "any", "all"):
            values, labels = zip(*(self.number(pool, kind) for _ in range(self.rng.randint(1, 4))))
            values = list(values) + ([values[0]] if self.rng.random() < 0.3 else [])
            label = "+".join(sorted(set(labels)))
            if op in ("in", "not in"):
                return Atom(f"{c} {op.upper()} ({', '.join(values)})", column, f"{kind} {op} {label}")
            return Atom(f"{c} {'= ANY' if op == 'any' else '<> ALL'}(ARRAY[{', '.join(values)}])", column,
                        f"{kind} {op} {label}")
        if op == "between":
            (low, l1), (high, l2) = self.number(pool, kind), self.number(pool, kind)
            return Atom(f"{c} BETWEEN {low} AND {high}", column, f"{kind} between {l1}/{l2}")
        value, label = self.number(pool, kind)
        return Atom(f"{c} {op} {value}", column, f"{kind} {op} {label}")

    def time_atom(self, c, column, pool, kind) -> Atom:
        op = self.pick(["=", "<>", "<", "<=", ">", ">=", "in", "any", "between", "=", "in"])
        if op in ("in", "any"):
            literals = [self.time_literal(self.instant(pool)[0]) for _ in range(self.rng.randint(1, 4))]
            forms = "+".join(sorted({f for _, f in literals}))
            values = [v for v, _ in literals] + ([literals[0][0]] if self.rng.random() < 0.3 else [])
            # an array of unknown-typed literals alone is text[]: typed as the column
            cast = "" if any("::" in v for v in values) else ("::date[]" if kind == "date" else "::timestamptz[]")
            sql = (f"{c} IN ({', '.join(values)})" if op == "in" else f"{c} = ANY(ARRAY[{', '.join(values)}]{cast})")
            return Atom(sql, column, f"{kind} {op} {forms}")
        if op == "between":
            low, high = sorted([self.instant(pool)[0], self.instant(pool)[0]])
            (l, f1), (h, f2) = self.time_literal(low), self.time_literal(high)
            return Atom(f"{c} BETWEEN {l} AND {h}", column, f"{kind} between {f1}/{f2}")
        instant, label = self.instant(pool)
        literal, form = self.time_literal(instant)
        return Atom(f"{c} {op} {literal}", column, f"{kind} {op} {form} ({label})")

    def parent_atom(self, table: Table) -> Atom:
        column = table.parent[0]
        values = table.pools[column]
        r = self.rng.random()
        if r < 0.6:
            return Atom(f"{_q(column)} = {_lit(self.pick(values))}", column, "parent =")
        chosen = self.rng.sample(values, min(len(values), self.rng.randint(1, 3)))
        chosen += self.pick([[], [""], [chosen[0]], ["does-not-exist"]])
        return Atom(f"{_q(column)} IN ({', '.join(_lit(v) for v in chosen)})", column, "parent in")

    def focused_atom(self, table: Table, column: str) -> Atom:
        """A condition aimed at a pushed column's unusual values: its non-ASCII text (matched by the API
        with its own case rules), the integers a text column holds (pushed as numbers) or its instants
        written as timestamp or date literals (which PostgreSQL reads in the session time zone)."""
        c, pool = _q(column), table.pools[column]
        if table.columns[column] == "text" and _holds_integers(pool):
            value, label = self.near_miss(str(self.pick(pool)))
            op = self.pick(["<>", "=", "not in", "in", "all", "any"])
            values = ", ".join(_lit(v) for v in [value, str(self.pick(pool))])
            sql = {"<>": f"{c} <> {_lit(value)}", "=": f"{c} = {_lit(value)}", "not in": f"{c} NOT IN ({values})",
                   "in": f"{c} IN ({values})", "all": f"{c} <> ALL(ARRAY[{values}])",
                   "any": f"{c} = ANY(ARRAY[{values}])"}[op]
            return Atom(sql, column, f"text {op} {label} (focused)")
        if table.columns[column] == "date":
            days = [self.pick(pool) for _ in range(self.rng.randint(1, 3))]
            op = self.pick(["=", "<>", "in", "not in", "any", "all", "<", ">="])
            values = ", ".join(_lit(d.isoformat()) + "::date" for d in days)
            sql = {"=": f"{c} = {_lit(days[0].isoformat())}", "<>": f"{c} <> {_lit(days[0].isoformat())}",
                   "in": f"{c} IN ({values})", "not in": f"{c} NOT IN ({values})", "any": f"{c} = ANY(ARRAY[{values}])",
                   "all": f"{c} <> ALL(ARRAY[{values}])", "<": f"{c} < {_lit(days[0].isoformat())}",
                   ">=": f"{c} >= {_lit(days[0].isoformat())}"}[op]
            return Atom(sql, column, f"date {op} (focused)")
        if table.columns[column] == "tstz":
            # an instant the column holds, as a timestamp or date literal: read in the session time zone
            instant = self.pick(pool)
            literals = [self.time_literal(instant) for _ in range(3)]
            literal, form = next(((v, f) for v, f in literals if f in ("timestamp", "date", "untyped")), literals[0])
            op = self.pick(["=", "in", "any", "<=", ">="])
            sql = {"=": f"{c} = {literal}", "in": f"{c} IN ({literal})", "any": f"{c} = ANY(ARRAY[{literal}]{'' if '::' in literal else '::timestamptz[]'})",
                   "<=": f"{c} <= {literal}", ">=": f"{c} >= {literal}"}[op]
            return Atom(sql, column, f"tstz {op} {form} (focused)")
        unusual = [v for v in pool if isinstance(v, str) and not v.isascii()]
        special = [v for v in unusual if any(ch in SPECIAL_CASING for ch in v)]
        value = str(self.pick(special if special and self.rng.random() < 0.8 else unusual))
        tricky = [i for i, ch in enumerate(value) if ch in SPECIAL_CASING] or [self.rng.randrange(len(value))]
        i = self.pick(tricky)
        part = self.pick([value[:i + 1], value[i:], value[max(0, i - 2):i + 1], value[:i], value])
        part = part.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        shape = self.pick(["prefix", "suffix", "contains", "equal"])
        pattern = {"prefix": part + "%", "suffix": "%" + part, "contains": "%" + part + "%", "equal": part}[shape]
        op = self.pick(["LIKE", "LIKE", "NOT LIKE", "="])
        if op == "=":
            return Atom(f"{c} = {_lit(value)}", column, "text = non-ASCII (focused)")
        return Atom(f"{c} {op} {_lit(pattern)}", column, f"text {op.lower()} non-ASCII {shape} (focused)")

    def focus_columns(self, kind):
        test = {"non-ASCII": _holds_non_ascii, "integers": _holds_integers,
                "instants": lambda pool: isinstance(pool[0], dt.datetime),
                "days": lambda pool: type(pool[0]) is dt.date}[kind]
        return [(t, c) for t in self.tables.values() for c in sorted(t.pushable)
                if not t.parent and t.pools.get(c) and test(t.pools[c])]

    def case(self):
        if self.rng.random() < 0.05:
            # get by id against the list: every column, so that a value read differently by the two shows
            table = self.pick([t for t in self.tables.values() if "id" in t.pushable and not t.parent])
            ids = self.rng.sample(table.pools["id"], min(len(table.pools["id"]), self.rng.randint(1, 3)))
            atom = Atom(f"id IN ({', '.join(_lit(i) for i in ids)})", "id", "by id, every column (focused)")
            return Case(table.name, list(table.columns), [], [atom], "and", None, self.zone)
        if self.rng.random() < 0.25:
            kind = self.pick(["non-ASCII", "integers", "instants", "days"], [3, 3, 3, 1])
            table, column = self.pick(self.focus_columns(kind))
            atoms = [self.focused_atom(table, column)]
            selected = list(dict.fromkeys(["id", column, self.pick(list(table.columns))]))
            return Case(table.name, selected, [], atoms, "and", None, self.zone)
        table = self.tables[self.pick(list(self.tables), [t.weight for t in self.tables.values()])]
        columns = list(table.columns)
        # Mostly columns the API filters on and that hold values: where pushdown can go wrong.
        # Boosted: text columns holding integers (pushed as numbers) and columns holding non-ASCII text.
        weights = [(3 if c in table.pushable else 1) * (1 if table.pools.get(c) else 0.2)
                   * (3 if c in table.pushable and _holds_integers(table.pools.get(c)) else 1)
                   * (3 if _holds_non_ascii(table.pools.get(c)) else 1) for c in columns]

        def column():
            return self.pick(columns, weights)

        atoms = [self.atom(table, column()) for _ in range(self.pick([1, 1, 1, 2, 2, 3]))]
        shape = self.pick(["and"] * 8 + ["or", "not"])
        required = [self.parent_atom(table)] if table.parent else []
        order = None
        if self.rng.random() < 0.25:
            if table.orderings and self.rng.random() < 0.6:
                key, descending = self.pick(table.orderings)
            else:
                key, descending = self.pick(columns), self.rng.random() < 0.5
            nulls = self.pick(["", "", " NULLS FIRST", " NULLS LAST"])
            order = (key, descending, nulls, self.rng.randint(1, 20), self.pick([0, 0, 0, 2]))
        selected = ["id"] if "id" in table.columns else []
        selected += [a.column for a in required + atoms] + ([order[0]] if order else [])
        selected += [self.pick(columns)]
        return Case(table.name, list(dict.fromkeys(selected)), required, atoms, shape, order, self.zone)


@dataclass
class Case:
    table: str
    selected: List[str]
    required: List[Atom]
    atoms: List[Atom]
    shape: str  # and, or, not
    order: Optional[tuple]  # (column, descending, nulls, limit, offset)
    zone: str

    def where(self) -> str:
        parts = [a.sql for a in self.atoms]
        if self.shape == "or" and len(parts) > 1:
            body = ["(" + " OR ".join(parts) + ")"]
        elif self.shape == "not":
            body = ["NOT (" + " AND ".join(parts) + ")"]
        else:
            body = parts
        return " AND ".join([a.sql for a in self.required] + body)

    def sql(self, schema: str) -> str:
        text = (f"SELECT {', '.join(_q(c) for c in self.selected)} FROM {schema}.{_q(self.table)}"
                f" WHERE {self.where()}")
        if self.order:
            key, descending, nulls, limit, offset = self.order
            text += f" ORDER BY {_q(key)}{' DESC' if descending else ''}{nulls} LIMIT {limit}"
            text += f" OFFSET {offset}" if offset else ""
        return text

    def settings(self) -> str:
        return f"SET TimeZone = {_lit(self.zone)};"

    def signature(self) -> str:
        atoms = (self.atoms if self.shape == "and" else [Atom("", "", f"{self.shape}(" + ", ".join(
            f"{a.column}: {a.label}" for a in self.atoms) + ")")])
        parts = [f"{a.column}: {a.label}" if a.column else a.label for a in atoms]
        return f"{self.table} | " + " AND ".join(parts) + (" | ORDER BY/LIMIT" if self.order else "")

    def smaller(self) -> List["Case"]:
        """Cases of one of this case's conditions each (the AND of several that differ is reduced)."""
        if self.shape != "and" or len(self.atoms) < 2:
            return []
        return [Case(self.table, self.selected, self.required, [a], "and", None, self.zone) for a in self.atoms]


# --- running and comparing ----------------------------------------------------------------------

def _normal(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return value


def _run(conn, case: Case, schema: str):
    try:
        return [tuple(_normal(v) for v in row) for row in conn.execute(case.sql(schema)).fetchall()], None
    except psycopg.Error as error:
        return None, f"{type(error).__name__}: {(error.diag.message_primary or str(error)).strip()}"


def _order_key_prefix(rows, case: Case):
    """(keys in order, rows by key except the last key's): what an ORDER BY ... LIMIT determines when
    keys tie (rows of the last key value may be any of the tied ones)."""
    position = case.selected.index(case.order[0])
    keys = [repr(r[position]) for r in rows]
    # the last key's rows, and with an OFFSET the first key's too, are any of the tied ones
    cut = {keys[-1], keys[0] if case.order[4] else keys[-1]} if keys else set()
    determined = collections.Counter(repr(r) for r, k in zip(rows, keys) if k not in cut)
    return keys, determined


@dataclass
class Outcome:
    case: Case
    pushed: Optional[list]
    plain: Optional[list]
    pushed_error: Optional[str]
    plain_error: Optional[str]

    @property
    def differs(self) -> bool:
        if self.pushed_error or self.plain_error:
            return self.pushed_error != self.plain_error and not (self.pushed_error and self.plain_error)
        if self.case.order:
            return _order_key_prefix(self.pushed, self.case) != _order_key_prefix(self.plain, self.case)
        return collections.Counter(map(repr, self.pushed)) != collections.Counter(map(repr, self.plain))

    def report(self) -> str:
        case = self.case
        lines = [case.settings(), case.sql("intercom") + ";   -- pushdown",
                 case.sql("intercom_plain") + ";   -- pushdown 'false'"]
        if self.pushed_error or self.plain_error:
            lines.append(f"pushdown: {self.pushed_error or f'{len(self.pushed)} rows'}; "
                         f"pushdown 'false': {self.plain_error or f'{len(self.plain)} rows'}")
            return "\n".join(lines)
        lines.append(f"pushdown: {len(self.pushed)} rows; pushdown 'false': {len(self.plain)} rows")
        if case.order:
            lines.append(f"  ordered keys with pushdown:    {_order_key_prefix(self.pushed, case)[0][:12]}")
            lines.append(f"  ordered keys without pushdown: {_order_key_prefix(self.plain, case)[0][:12]}")
        pushed, plain = collections.Counter(map(repr, self.pushed)), collections.Counter(map(repr, self.plain))
        for title, only in (("only with pushdown", pushed - plain), ("only without pushdown", plain - pushed)):
            rows = list(only.elements())
            if rows:
                lines.append(f"  {title} ({len(rows)}{', first 5' if len(rows) > 5 else ''}): {case.selected}")
                lines += [f"    {r}" for r in rows[:5]]
        return "\n".join(lines)


def run_case(conn, case: Case) -> Outcome:
    conn.execute(case.settings())
    pushed, pushed_error = _run(conn, case, "intercom")
    plain, plain_error = _run(conn, case, "intercom_plain")
    return Outcome(case, pushed, plain, pushed_error, plain_error)


def crash_lines(log_text: str) -> List[str]:
    return [line for line in log_text.splitlines()
            if re.search(r"terminated by signal|server process|PANIC|was terminated|exited with exit code", line)]


def test_pushdown_and_no_pushdown_return_the_same_rows(fuzz_db, world, pg):
    conn = fuzz_db.conn
    conn.execute("SET statement_timeout = '60s'")
    log_start = pg.log.stat().st_size
    started = time.monotonic()
    outcomes, errors_both, matching, slow, both_failed = [], 0, 0, [], {}
    indexes = [int(i) for i in os.environ["FUZZ_ONLY"].split(",")] if os.environ.get("FUZZ_ONLY") else range(FUZZ_CASES)
    for index in indexes:
        rng = random.Random(f"{FUZZ_SEED}:{index}")
        case = Generator(rng, world, rng.choice(ZONES)).case()
        case_started = time.monotonic()
        outcome = run_case(conn, case)
        slow.append((time.monotonic() - case_started, index))
        if outcome.pushed_error and outcome.plain_error:
            errors_both += 1
            both_failed.setdefault(re.sub(r"\d+", "N", outcome.plain_error)[:160], (index, outcome))
        matching += bool(outcome.plain)
        if os.environ.get("FUZZ_VERBOSE"):
            print(index, f"{slow[-1][0]:.2f}s", outcome.case.sql("intercom"), "|",
                  outcome.pushed_error or len(outcome.pushed), outcome.plain_error or len(outcome.plain), flush=True)
        if outcome.differs:
            smallest = next((o for o in (run_case(conn, c) for c in case.smaller()) if o.differs), outcome)
            outcomes.append((index, outcome, smallest))
    elapsed = time.monotonic() - started
    with open(pg.log, "rb") as log:
        log.seek(log_start)
        crashes = crash_lines(log.read().decode(errors="replace"))
    groups = collections.defaultdict(list)
    for index, outcome, smallest in outcomes:
        groups[smallest.case.signature()].append((index, outcome, smallest))
    message = [f"{len(outcomes)} of {len(indexes)} cases differ between pushdown and pushdown 'false' "
               f"(FUZZ_SEED={FUZZ_SEED}, {elapsed:.0f} s; {matching} cases returned rows, {errors_both} failed on "
               f"both sides alike; slowest case {max(slow, default=(0, None))[1]}: {max(slow, default=(0, None))[0]:.1f} s); "
               f"{len(groups)} kinds. Replay one with FUZZ_SEED={FUZZ_SEED} FUZZ_ONLY=<case>:"]
    for signature, members in sorted(groups.items(), key=lambda item: -len(item[1])):
        index, outcome, smallest = members[0]
        message.append(f"\n=== {signature}: {len(members)} case(s), e.g. case {index}")
        if smallest is not outcome:
            message.append("(reduced from: " + outcome.case.sql("intercom") + ")")
        message.append(smallest.report())
    if both_failed:  # not a difference, but an error SQL would not raise may be a bug of both servers
        message.append("\nfailed alike with and without pushdown (first case of each error):")
        message += [f"  case {i}: {o.plain_error}\n    {o.case.settings()} {o.case.sql('intercom')}"
                    for i, o in both_failed.values()]
    if crashes:
        message.append("\nserver log after the run:\n" + "\n".join(crashes[:20]))
    assert not outcomes and not crashes, "\n".join(message)
    # the generator's constants come from the data: most cases must select rows, or they test little
    assert matching >= len(indexes) // 4, f"only {matching} of {len(indexes)} cases returned rows"
