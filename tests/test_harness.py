"""The harness itself: the throwaway cluster starts, runs SQL, and has the extensions we need."""


def test_cluster_runs_sql(pg):
    with pg.connect() as conn:
        assert conn.execute("SELECT 1 + 1").fetchone()[0] == 2
        assert conn.execute("SHOW server_version_num").fetchone()[0].startswith("15")


def test_plpython_available(pg):
    with pg.connect() as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM pg_available_extensions")}
    assert "plpython3u" in names
