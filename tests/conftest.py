"""Fixtures shared by every test layer, and the runtime a run tests.

- `pg`: one throwaway PostgreSQL 15 cluster for the whole session.
- `db`: a fresh database per test module, with the multicorn extension created.
- `emulator`: one small seeded Intercom workspace (tests/emulator_fixtures.py).

`INTERCOM_FDW_RUNTIME=bundled` (default) or `multicorn2` picks the Multicorn runtime of the
cluster (intercom_fdw/tools/throwaway_pg.py). Under multicorn2 a run keeps only the tests that touch
PostgreSQL (those using the `pg` fixture; the others do not depend on the runtime and are
deselected) and does not collect tests/runtime, the bundled runtime's own tests of its C code.
The header and the last line of the output name the runtime; with INTERCOM_FDW_TEST_SUMMARY set
to a file, that last line is also appended to it (scripts/test.sh prints one per runtime).
"""
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from intercom_fdw.tools import throwaway_pg
from intercom_fdw.tools.throwaway_pg import PgCluster, backend_pythonpath, cleaned_up_on_signals

# Tests that import `multicorn` in this process get the package the backend runs (the one of
# this checkout when throwaway_pg puts multicorn_compat/python on the backend's PYTHONPATH),
# not whichever one the virtual environment has installed: an editable install may point at
# another checkout.
for _path in reversed([p for p in backend_pythonpath().split(os.pathsep) if p.endswith("multicorn_compat/python")]):
    if _path not in sys.path:
        sys.path.insert(0, _path)

pytest_plugins = ["tests.emulator_fixtures"]

RUNTIME = throwaway_pg.runtime()
BUNDLED_RUNTIME_TESTS = Path(__file__).parent / "runtime"
NOT_ON_MULTICORN2 = "tests/runtime test the bundled runtime's C code (multicorn_compat): not collected on multicorn2"


def describe_runtime() -> str:
    if RUNTIME == "multicorn2":
        return (f"multicorn2 3.2 (PostgreSQL {throwaway_pg.pg_bin()}, "
                f"Python package {throwaway_pg.runtime_python_dir()})")
    return f"bundled (multicorn_compat; PostgreSQL {throwaway_pg.pg_bin()})"


def pytest_report_header(config):
    lines = [f"runtime: {describe_runtime()}"]
    if RUNTIME == "multicorn2":
        lines.append(NOT_ON_MULTICORN2 + "; tests that do not touch PostgreSQL are deselected")
    return lines


def is_bundled_runtime_test(path: Path) -> bool:
    return path == BUNDLED_RUNTIME_TESTS or BUNDLED_RUNTIME_TESTS in path.parents


def pytest_ignore_collect(collection_path, config):
    if RUNTIME == "multicorn2" and is_bundled_runtime_test(collection_path):
        return True
    return None


def pytest_collection_modifyitems(config, items):
    if RUNTIME != "multicorn2":
        return
    # fixturenames is the closure: a test reaching `pg` through `db`, `read_db`, ... touches PostgreSQL.
    # A file of tests/runtime named on the command line is collected all the same: deselected here.
    def runs(item):
        return "pg" in item.fixturenames and not is_bundled_runtime_test(Path(item.path))
    keep = [item for item in items if runs(item)]
    dropped = [item for item in items if not runs(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    session.config._intercom_fdw_exitstatus = int(exitstatus)


def pytest_unconfigure(config):
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    exitstatus = getattr(config, "_intercom_fdw_exitstatus", None)
    if reporter is None or exitstatus is None:
        return
    counts = [(len(reporter.stats.get(key, ())), key)
              for key in ("passed", "failed", "error", "skipped", "xfailed", "xpassed", "deselected")]
    ran = ", ".join(f"{n} {key}" for n, key in counts if n) or "no tests"
    line = f"runtime {RUNTIME}: {ran} (pytest exit {exitstatus})"
    reporter.write_line(line, bold=True, red=exitstatus != 0, green=exitstatus == 0)
    summary = os.environ.get("INTERCOM_FDW_TEST_SUMMARY")
    if summary:
        with open(summary, "a") as f:
            f.write(line + "\n")


def _session_ended(signum: int) -> BaseException:
    # pytest's Exit ends the session, its fixtures torn down (this cluster stopped); a SystemExit in a
    # test would only fail that test, and the run would go on with the signals ignored.
    return pytest.exit.Exception(f"ended by {signal.Signals(signum).name}", returncode=128 + signum)


@pytest.fixture(scope="session")
def pg():
    """The cluster stops, and its directory goes, at the session's end, and also when pytest is
    ended by SIGTERM or SIGHUP (as `make demo` stops its own: throwaway_pg.cleaned_up_on_signals)."""
    with cleaned_up_on_signals(_session_ended) as cleanups:
        cluster = PgCluster()  # its directory exists from here on: stop() removes it, started or not
        cleanups.callback(cluster.stop)
        yield cluster.start()


@pytest.fixture(scope="module")
def db(pg, request):
    name = re.sub(r"[^a-z0-9_]", "_", request.module.__name__.lower())[-60:]
    return pg.create_database(name)
