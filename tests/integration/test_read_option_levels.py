"""Which level's option the FDW uses: multicorn2 merges a table's options with its server's, the
server's winning. A table option takes effect where its server does not set the same option (with
CREATE EXTENSION intercom_fdw, a table and its server contradicting each other is rejected:
test_option_checks.py). Without the extension nothing stops them, and the server's value applies."""
from tests.integration.test_read_access import STATISTICS, create_server

COLUMNS = ", ".join(f"{name} {kind}" for name, kind in STATISTICS.items())


def test_a_table_option_takes_effect_where_the_server_does_not_set_it(pg, read_db, emulator, api):
    with pg.connect(read_db.dbname) as conn:
        create_server(conn, "levels_open", emulator.url, emulator.token)
        conn.execute(f"CREATE FOREIGN TABLE public.levels_lean (id text, {COLUMNS}) SERVER levels_open "
                     "OPTIONS (object 'articles', suppress_extended_requests 'true')")
        conn.execute(f"CREATE FOREIGN TABLE public.levels_rich (id text, {COLUMNS}) SERVER levels_open "
                     "OPTIONS (object 'articles')")
    n = len(api.all("/articles"))
    rows, routes = read_db.calls("SELECT id, statistics_views FROM public.levels_lean")
    assert routes == {"GET /articles": 1} and len(rows) == n and all(views is None for _, views in rows)
    # the option is the table's own: another table of the same server still reads the statistics
    rows, routes = read_db.calls("SELECT id, statistics_views FROM public.levels_rich")
    assert routes == {"GET /articles": 1, "GET /articles/{id}": n}
    assert all(views is not None for _, views in rows)


def test_without_the_extension_a_contradicting_table_option_loses_to_the_servers(pg, read_db, emulator, api):
    with pg.connect(read_db.dbname) as conn:
        assert conn.execute("SELECT count(*) FROM pg_extension WHERE extname = 'intercom_fdw'").fetchone()[0] == 0
        create_server(conn, "levels_lean", emulator.url, emulator.token, suppress_extended_requests="true")
        conn.execute(f"CREATE FOREIGN TABLE public.levels_overruled (id text, {COLUMNS}) SERVER levels_lean "
                     "OPTIONS (object 'articles', suppress_extended_requests 'false')")
    rows, routes = read_db.calls("SELECT id, statistics_views FROM public.levels_overruled")
    assert routes == {"GET /articles": 1} and rows and all(views is None for _, views in rows)
