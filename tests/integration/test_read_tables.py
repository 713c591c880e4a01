"""Every table returns the emulator's data, column by column, custom fields and ticket-type tables included.

Two independent checks per table:
- `attrs` of each row equals the object the emulator serves (read with plain HTTP requests);
- each typed column equals its source value in `attrs`, converted by PostgreSQL itself (so the
  FDW's conversion is checked against PostgreSQL's, not against itself).
The list of tables comes from the spec registry: an object without an oracle here fails.
"""
import time

import pytest
from psycopg import sql

from intercom_fdw.objects import SPECS

pytestmark = pytest.mark.timeout(300)
PARENTS = 5  # child tables are read for this many parents


def _first(api, path, key, n=PARENTS, **params):
    return [item["id"] for item in api.get(path, **params)[key][:n]]


def _contacts(api):
    return api.all("/contacts")


def _children(api, parents, path, key="data"):
    return {p: api.get(path.format(p))[key] for p in parents}


def oracle(api, table):
    """(WHERE clause, its parameters, {key: expected object}) for one table."""
    if table == "admins":
        return "", (), api.get("/admins")["admins"]
    if table == "teams":
        return "", (), api.get("/teams")["teams"]
    if table == "articles":
        return "", (), api.all("/articles")  # statistics: test_article_statistics_match_the_article
    if table == "collections":
        return "", (), api.all("/help_center/collections")
    if table in ("help_centers", "ticket_types", "ticket_states", "tags", "subscription_types"):
        path = {"help_centers": "/help_center/help_centers"}.get(table, "/" + table)
        return "", (), api.get(path)["data"]
    if table == "segments":
        return "", (), api.get("/segments", include_count="true")["segments"]  # the table asks for counts
    if table == "companies":
        return "", (), api.scroll_all("/companies/scroll")
    if table == "contacts":
        return "", (), _contacts(api)
    if table == "conversations":
        return "", (), api.all("/conversations", "conversations")
    if table == "tickets":
        return "", (), api.search_all("/tickets/search", "tickets", {"field": "created_at", "operator": ">",
                                                                      "value": 0})
    if table == "data_attributes":
        return "", (), [a for m in ("contact", "company", "conversation")
                        for a in api.get("/data_attributes", model=m)["data"]]
    if table == "activity_logs":
        since = int(time.time()) - 29 * 86400
        return "WHERE created_at >= to_timestamp(%s)", (since,), api.all(
            "/admins/activity_logs", "activity_logs", created_at_after=since - 1)
    if table == "ticket_type_attributes":
        return "", (), [a for t in api.get("/ticket_types")["data"]
                        for a in t["ticket_type_attributes"]["ticket_type_attributes"]]
    if table == "conversation_parts":
        ids = _first(api, "/conversations", "conversations")
        parts = [p for i in ids for p in api.get(f"/conversations/{i}")["conversation_parts"]["conversation_parts"]]
        return "WHERE conversation_id = ANY(%s)", (ids,), parts
    if table in ("contact_tags", "contact_segments", "contact_subscriptions", "contact_companies", "notes"):
        ids = [c["id"] for c in _contacts(api)[:40]]
        path, key = {"contact_tags": ("tags", "data"), "contact_segments": ("segments", "data"),
                     "contact_subscriptions": ("subscriptions", "data"),
                     "contact_companies": ("companies", "companies"), "notes": ("notes", "data")}[table]
        found = _children(api, ids, "/contacts/{}/" + path, key)
        return "WHERE contact_id = ANY(%s)", (ids,), [o for objects in found.values() for o in objects]
    if table in ("company_contacts", "company_segments"):
        ids = [c["id"] for c in api.scroll_all("/companies/scroll")[:PARENTS]]
        found = _children(api, ids, "/companies/{}/" + table.split("_")[1])
        return "WHERE company_id = ANY(%s)", (ids,), [o for objects in found.values() for o in objects]
    if table == "events":
        emails = [c["email"] for c in _contacts(api)[:40] if c.get("email")]
        events = [e for email in emails for e in api.get("/events", type="user", email=email)["events"]]
        return "WHERE email = ANY(%s)", (emails,), events
    if table in ("tag_contacts", "segment_contacts"):
        member = table.split("_")[0]
        ids = [o["id"] for o in api.get(f"/{member}s")[f"{member}s" if member == "segment" else "data"]][:3]
        found = [c for i in ids for c in api.search_all("/contacts/search", "data",
                                                        {"field": f"{member}_id", "operator": "=", "value": i})]
        return f"WHERE {member}_id = ANY(%s)", (ids,), found
    raise AssertionError(f"no oracle for table {table}: add one (every object needs its integration test)")


def key_of(obj):
    return obj.get("id") or (obj.get("event_name"), obj.get("created_at"), obj.get("intercom_user_id"))


def table_columns(read_db, schema, table):
    return read_db.rows(
        "SELECT attname, format_type(atttypid, atttypmod), coalesce(attfdwoptions, '{}') FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (f"{schema}.{table}",))


def expected_expression(path, pg_type, options):
    """PostgreSQL's own conversion of attrs #> path to the column's type."""
    json_path = sql.Literal("{" + ",".join('"' + p.replace('"', '\\"') + '"' for p in path) + "}")
    text = sql.SQL("(attrs #>> {}::text[])").format(json_path)
    base = pg_type.split("(")[0]
    if base in ("integer", "bigint"):
        return sql.SQL("{}::numeric::bigint").format(text)
    if base == "double precision":
        return sql.SQL("{}::float8").format(text)
    if base == "boolean":
        return sql.SQL("{}::boolean").format(text)
    if base == "timestamp with time zone":
        return sql.SQL("to_timestamp({}::float8)").format(text)
    if base == "date":
        return sql.SQL("(to_timestamp({}::float8) AT TIME ZONE 'UTC')::date").format(text)
    if base == "jsonb":
        if "data_type=files" in options:
            return None  # reshaped to {name, url, ...}: checked in test_file_and_list_custom_fields
        return sql.SQL("coalesce(attrs #> {}::text[], 'null')").format(json_path)
    return text


def column_mismatches(read_db, schema, table, where, params):
    spec = SPECS["tickets" if table.endswith("_tickets") and table not in SPECS else table]
    checks, names = [], []
    for name, pg_type, options in table_columns(read_db, schema, table):
        column = spec.column(name)
        if column is not None:
            path = column.source
        else:
            attribute = next(o.split("=", 1)[1] for o in options if o.startswith(spec.custom_fields.option + "="))
            path = (spec.custom_fields.container, attribute)
        if name == "attrs" or not path:
            continue
        expected = expected_expression(path, pg_type, options)
        if expected is None:
            continue
        actual = sql.SQL("coalesce({}, 'null')").format(sql.Identifier(name)) if pg_type == "jsonb" \
            else sql.Identifier(name)
        checks.append(sql.SQL("count(*) FILTER (WHERE {} IS DISTINCT FROM {})").format(actual, expected))
        names.append(name)
    query = sql.SQL("SELECT count(*), {} FROM {}.{} ").format(
        sql.SQL(", ").join(checks), sql.Identifier(schema), sql.Identifier(table)) + sql.SQL(where)
    total, *counts = read_db.rows(query, params)[0]
    return total, {n: c for n, c in zip(names, counts) if c}


@pytest.mark.parametrize("table", sorted(SPECS))
def test_table_matches_the_emulator(read_db, api, table):
    where, params, expected = oracle(api, table)
    rows = read_db.rows(f"SELECT attrs FROM intercom.{table} {where}", params)
    got = {key_of(attrs): attrs for (attrs,) in rows}
    assert len(rows) == len(expected) > 0
    assert got == {key_of(o): o for o in expected}
    total, mismatches = column_mismatches(read_db, "intercom", table, where, params)
    assert total == len(expected) and mismatches == {}


@pytest.mark.parametrize("table", sorted(SPECS))
def test_each_column_read_on_its_own_equals_it_read_with_the_whole_object(read_db, api, table):
    """Without `attrs` the client decodes only the fields the columns read (client/decoding.py):
    each column alone must come out as it does beside attrs, when every field is decoded."""
    where, params, _ = oracle(api, table)
    names = [name for name, _, _ in table_columns(read_db, "intercom", table) if name != "attrs"]
    listed = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(n)) for n in names)
    whole = read_db.rows(sql.SQL("SELECT attrs, {} FROM intercom.{} ").format(listed, sql.Identifier(table))
                         + sql.SQL(where), params)
    assert whole
    for position, name in enumerate(names, start=1):
        alone = read_db.rows(sql.SQL("SELECT {}::text FROM intercom.{} ").format(
            sql.Identifier(name), sql.Identifier(table)) + sql.SQL(where), params)
        expected = sorted((row[position] for row in whole), key=lambda v: (v is not None, v))
        assert sorted((v for (v,) in alone), key=lambda v: (v is not None, v)) == expected, name


def test_article_statistics_match_the_article(read_db, api):
    # column -> key of GET /articles/{id}'s statistics (Intercom calls conversations "conversions")
    columns = {"statistics_type": "type", "statistics_views": "views", "statistics_conversations": "conversions",
               "statistics_reactions": "reactions",
               "statistics_happy_reaction_percentage": "happy_reaction_percentage",
               "statistics_neutral_reaction_percentage": "neutral_reaction_percentage",
               "statistics_sad_reaction_percentage": "sad_reaction_percentage"}
    rows = read_db.rows(f"SELECT id, {', '.join(columns)} FROM intercom.articles")
    assert len(rows) > 0
    for article_id, *values in rows:
        statistics = api.get(f"/articles/{article_id}")["statistics"]
        assert set(statistics) - {"type"} >= set(columns.values()) - {"type"}
        assert dict(zip(columns, values)) == {column: statistics[key] for column, key in columns.items()}
    # the percentages are not all zero, so a column read from the wrong key could not pass
    assert any(row[6] for row in rows) and any(row[7] for row in rows)


def ticket_type_tables(read_db):
    return read_db.rows(
        "SELECT c.relname, (SELECT option_value FROM pg_options_to_table(t.ftoptions) WHERE option_name = "
        "'ticket_type_id') FROM pg_foreign_table t JOIN pg_class c ON c.oid = t.ftrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'intercom' AND c.relname LIKE '%%_tickets'")


def test_one_table_per_ticket_type_with_typed_attributes(read_db, api):
    types = {t["id"]: t for t in api.get("/ticket_types")["data"] if not t.get("archived")}
    tables = dict((type_id, name) for name, type_id in ticket_type_tables(read_db))
    assert set(tables) == set(types)
    for type_id, table in tables.items():
        expected = api.search_all("/tickets/search", "tickets",
                                  {"field": "ticket_type_id", "operator": "=", "value": type_id})
        rows = read_db.rows(f"SELECT attrs FROM intercom.{table}")
        assert sorted(r[0]["id"] for r in rows) == sorted(t["id"] for t in expected)
        total, mismatches = column_mismatches(read_db, "intercom", table, "", ())
        assert total == len(expected) and mismatches == {}
        attributes = {a["name"] for a in types[type_id]["ticket_type_attributes"]["ticket_type_attributes"]
                      if not a.get("default") and not a.get("archived")}
        options = {o for _, _, opts in table_columns(read_db, "intercom", table) for o in opts}
        assert {f"ticket_attribute={a}" for a in attributes} <= options


def test_custom_fields_have_typed_columns(read_db, api):
    for table, model in (("contacts", "contact"), ("companies", "company"), ("conversations", "conversation")):
        custom = [a for a in api.get("/data_attributes", model=model)["data"] if a.get("custom")]
        assert custom, f"the seeded workspace has custom {model} attributes"
        columns = {tuple(opts): pg_type for _, pg_type, opts in table_columns(read_db, "intercom", table) if opts}
        for attribute in custom:
            pg_type = next(t for opts, t in columns.items() if f"custom_attribute={attribute['name']}" in opts)
            if attribute["data_type"] == "string":
                assert pg_type.startswith("character varying")
            if attribute["data_type"] == "date":
                assert pg_type == ("date" if model != "conversation" else "timestamp with time zone")


def test_import_skips_a_custom_attribute_without_a_name_and_says_so(pg, db):
    # Intercom refuses such a name (the emulator too, 400), but a workspace may hold one from before: its
    # column would carry custom_attribute '', which names no field, and every scan of the table would fail.
    from intercom_fdw.emulator import EmulatorConfig, start_in_thread
    from intercom_fdw.emulator.seed import data_attribute
    from tests.integration.read_fixtures import import_tables

    with start_in_thread(EmulatorConfig(seed=4, token="tok-nameless-3c1d", contacts=5, companies=3), port=0) as server:
        attributes = server.state.workspace_for(server.token).data_attributes
        for n, model in ((901, "contact"), (902, "company")):
            attributes.add(str(n), data_attribute(n, model, "", "string", None, True, int(time.time())))
        with pg.connect(db) as conn:
            notices = []
            conn.add_notice_handler(lambda diag: notices.append(diag.message_primary))
            import_tables(conn, "nameless", server.url, server.token, ("contacts", "companies"))
            for table, n in (("contacts", 901), ("companies", 902)):
                assert f"{table}: custom attribute '' (id {n}) not imported: its name is empty" in notices
                options = conn.execute(
                    "SELECT array_agg(a.attname) FILTER (WHERE 'custom_attribute=' = ANY(a.attfdwoptions)) "
                    "FROM pg_attribute a WHERE a.attrelid = %s::regclass AND a.attnum > 0",
                    (f"nameless.{table}",)).fetchone()[0]
                assert options is None
                assert len(conn.execute(f"SELECT * FROM nameless.{table}").fetchall()) > 0


def test_import_says_each_attribute_it_leaves_out(pg, db):
    # An attribute of a data type intercom_fdw does not know was left out without a word, and so were
    # archived ticket type attributes (a ticket type embeds them; GET /data_attributes leaves archived
    # ones out unless asked): each unknown type gets its NOTICE, the archived ones of a table one together.
    from intercom_fdw.custom_fields import column_name, ticket_type_table_name
    from intercom_fdw.emulator import EmulatorConfig, start_in_thread
    from intercom_fdw.emulator.seed import data_attribute
    from tests.integration.read_fixtures import import_tables

    with start_in_thread(EmulatorConfig(seed=4, token="tok-leftout-7b2e", contacts=5, companies=3), port=0) as server:
        ws = server.state.workspace_for(server.token)
        ws.data_attributes.add("911", data_attribute(911, "contact", "hologram", "hologram", None, True,
                                                     int(time.time())))
        ticket_type = next(t for t in ws.ticket_types.values() if not t.get("archived"))
        archived = [a for a in ticket_type["ticket_type_attributes"]["ticket_type_attributes"] if not a["default"]][:2]
        for attribute in archived:
            attribute["archived"] = True
        table = ticket_type_table_name(ticket_type["name"])
        with pg.connect(db) as conn:
            notices = []
            conn.add_notice_handler(lambda diag: notices.append(diag.message_primary))
            import_tables(conn, "leftout", server.url, server.token, ("contacts", table))
            columns = {r[0] for r in conn.execute("SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass",
                                                  (f"leftout.{table}",))}
        assert ("contacts: custom attribute 'hologram' (id 911) not imported: its data type 'hologram' is not one "
                "intercom_fdw knows (its value is in attrs)") in notices
        assert (f"{table}: 2 archived custom attributes not imported: "
                + ", ".join(f"'{a['name']}'" for a in archived)) in notices
        assert not {column_name(a["name"]) for a in archived} & columns
        assert len(notices) == 2, notices


def test_import_says_which_limit_to_names_no_table_has(read_db):
    # PostgreSQL ignores a LIMIT TO name that the FDW returns no table for: a typo imported nothing, silently
    conn = read_db.conn
    notices = []

    def told(diag):
        notices.append(diag.message_primary)

    conn.add_notice_handler(told)
    conn.execute("CREATE SCHEMA typo")
    try:
        conn.execute("IMPORT FOREIGN SCHEMA intercom LIMIT TO (contact, admins, \"No such table\") "
                     "FROM SERVER intercom INTO typo")
        tables = [r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables "
                                             "WHERE table_schema = 'typo'").fetchall()]
    finally:
        conn.remove_notice_handler(told)
        conn.execute("DROP SCHEMA typo CASCADE")
    assert tables == ["admins"]
    assert notices == [
        "LIMIT TO names 'No such table', which is no table of this workspace: nothing imported for it",
        "LIMIT TO names 'contact', which is no table of this workspace: nothing imported for it "
        "(did you mean 'contacts'?)",
    ], notices


def test_import_limit_to_and_except(read_db, emulator):
    conn = read_db.conn
    conn.execute("CREATE SCHEMA only_two")
    conn.execute("IMPORT FOREIGN SCHEMA intercom LIMIT TO (admins, tags) FROM SERVER intercom INTO only_two")
    conn.execute("CREATE SCHEMA all_but_two")
    conn.execute("IMPORT FOREIGN SCHEMA intercom EXCEPT (admins, tags) FROM SERVER intercom INTO all_but_two")
    tables = dict(read_db.rows("SELECT table_schema, string_agg(table_name, ',' ORDER BY table_name) FROM "
                               "information_schema.tables WHERE table_schema IN ('only_two', 'all_but_two') "
                               "GROUP BY 1"))
    assert tables["only_two"] == "admins,tags"
    assert "admins" not in tables["all_but_two"].split(",") and "contacts" in tables["all_but_two"].split(",")


def test_hand_written_table_with_renamed_object(read_db):
    read_db.conn.execute("CREATE FOREIGN TABLE public.people (id text, email text, plan text "
                         "OPTIONS (custom_attribute 'plan_tier')) SERVER intercom OPTIONS (object 'contacts')")
    people = read_db.rows("SELECT id, email, plan FROM public.people ORDER BY id")
    contacts = read_db.rows("SELECT id, email, plan_tier FROM intercom.contacts ORDER BY id")
    assert people == contacts and len(people) > 0
