"""The harness itself: the throwaway cluster starts, runs SQL, and has the extensions we need."""


def test_cluster_runs_sql(pg):
    with pg.connect() as conn:
        assert conn.execute("SELECT 1 + 1").fetchone()[0] == 2
        assert conn.execute("SHOW server_version_num").fetchone()[0].startswith("15")


def test_plpython_available(pg):
    with pg.connect() as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM pg_available_extensions")}
    assert "plpython3u" in names


def test_a_cluster_whose_port_was_taken_meanwhile_starts_on_another(pg):
    """free_port() only finds a port free at that moment; the other runtime's run of scripts/test.sh
    (or any connect) may take it before the postmaster binds it: start() then moves to another."""
    import socket

    from intercom_fdw.tools.throwaway_pg import PgCluster

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        cluster = PgCluster(runtime_name=pg.runtime)
        cluster.port = taken.getsockname()[1]
        try:
            cluster.start()
            assert cluster.port != taken.getsockname()[1]
            with cluster.connect() as conn:
                assert conn.execute("SELECT 1").fetchone()[0] == 1
            assert "Address already in use" in cluster.log.read_text()
        finally:
            cluster.stop()
