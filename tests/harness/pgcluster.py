"""The test suite's PostgreSQL cluster is the demo's: see intercom_fdw/tools/throwaway_pg.py."""
from intercom_fdw.tools.throwaway_pg import PgCluster, free_port  # noqa: F401
