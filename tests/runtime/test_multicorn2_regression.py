"""multicorn2 3.2's own regression files, run with pg_regress against this runtime.

The files come from the vendored release (../shared/vendor/multicorn2-3.2.tar.gz beside the
checkout) and are read, never copied into the project. They use multicorn2's test FDW,
`multicorn.testfdw`, which lives in multicorn2's Python package: it is extracted into a
temporary overlay folder `multicorn/` that the backend finds first on its PYTHONPATH, and
our `multicorn` package (a regular package that extends its `__path__` with such folders)
imports it as a submodule. Our package never ships that file.

The 16 files are those multicorn2's Makefile runs on PostgreSQL 15 with Python 3.11 when
neither SQLAlchemy nor the filesystem FDW is usable: left out are
`multicorn_alchemy_test`, `write_sqlalchemy`, `import_sqlalchemy` (they need
`multicorn.sqlalchemyfdw`, SQLAlchemy, psycopg2 and a PostgreSQL to connect to) and
`write_filesystem` (it needs `multicorn.fsfdw`, multicorn2's filesystem FDW, and a tree of
files made by its include). Output must match multicorn2's expected files byte for byte,
an alternative `_1`, `_2`, ... file counting as pg_regress counts it.
"""
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from intercom_fdw.tools.throwaway_pg import SUPERUSER, PgCluster, pg_bin

PG_BIN = pg_bin("bundled")  # these files test the bundled runtime

REPO = Path(__file__).resolve().parents[2]
TARBALL = REPO.parent / "shared" / "vendor" / "multicorn2-3.2.tar.gz"
TOP = "multicorn2-3.2"
TESTS_DIR = "test-3.11"

REGRESSION_FILES = [
    "multicorn_cache_invalidation",
    "multicorn_column_options_test",
    "multicorn_error_test",
    "multicorn_logger_test",
    "multicorn_planner_test",
    "multicorn_regression_test",
    "multicorn_sequence_test",
    "multicorn_test_date",
    "multicorn_test_dict",
    "multicorn_test_limit",
    "multicorn_test_list",
    "multicorn_test_sort",
    "write_savepoints",
    "write_test",
    "import_test",
    "write_batch_test",
]


def pg_regress_binary() -> Path:
    """Debian ships pg_regress in the PGXS tree, next to bin/ under lib/postgresql/15."""
    return PG_BIN.parent / "lib" / "pgxs" / "src" / "test" / "regress" / "pg_regress"


def installed_runtime() -> str:
    """The multicorn.control of the PostgreSQL under test: ours says multicorn_compat."""
    sharedir = subprocess.run([str(PG_BIN / "pg_config"), "--sharedir"], capture_output=True, text=True,
                              check=True).stdout.strip()
    control = Path(sharedir) / "extension" / "multicorn.control"
    return control.read_text() if control.is_file() else ""


def extract(tarball: Path, into: Path) -> tuple[Path, str]:
    """The regression files, test-common/ and testfdw.py; returns the release's root and the
    folder holding sql/ and expected/ (test-3.11 is a symlink to test-3.9 in the release)."""
    with tarfile.open(tarball) as tar:
        tests = tar.getmember(f"{TOP}/{TESTS_DIR}")
        tests_dir = tests.linkname if tests.issym() else TESTS_DIR
        wanted = (f"{TOP}/{tests_dir}/", f"{TOP}/test-common/", f"{TOP}/python/multicorn/testfdw.py")
        members = [m for m in tar.getmembers()
                   if m.name.startswith(wanted) and (m.isfile() or m.isdir()) and ".." not in m.name]
        tar.extractall(into, members=members)
    return into / TOP, tests_dir


@pytest.fixture(scope="module")
def regression_tree():
    if not TARBALL.is_file():
        pytest.skip(f"multicorn2's release is not at {TARBALL} (the vendored tarball beside the checkout)")
    if not pg_regress_binary().is_file():
        pytest.skip(f"pg_regress not found at {pg_regress_binary()}")
    if "multicorn_compat" not in installed_runtime():
        pytest.skip(f"the multicorn extension under {PG_BIN} is not the bundled runtime (multicorn_compat)")
    work = Path(tempfile.mkdtemp(prefix="multicorn2_regress_"))
    os.chmod(work, 0o755)
    try:
        root, tests_dir = extract(TARBALL, work)
        overlay = work / "overlay" / "multicorn"
        overlay.mkdir(parents=True)
        # No __init__.py: this folder is only a portion of our `multicorn` package.
        shutil.copy(root / "python" / "multicorn" / "testfdw.py", overlay / "testfdw.py")
        output = work / "results"
        output.mkdir()
        for path in [work, *work.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)  # the server's OS user reads them
        yield root / tests_dir, overlay.parent, output
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def regression_pg(regression_tree):
    _tests, overlay, _output = regression_tree
    cluster = PgCluster()
    cluster.env["PYTHONPATH"] = os.pathsep.join([str(overlay), cluster.env["PYTHONPATH"]])
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def test_multicorn2_regression_files_pass(regression_tree, regression_pg):
    tests, _overlay, output = regression_tree
    cmd = [
        str(pg_regress_binary()), f"--bindir={PG_BIN}", f"--inputdir={tests}",
        f"--outputdir={output}", "--host=127.0.0.1", f"--port={regression_pg.port}",
        f"--user={SUPERUSER}", "--encoding=UTF8", "--dbname=multicorn2_regression",
        *REGRESSION_FILES,
    ]
    # pg_regress runs psql from here: the files include test-common/disable_jit.include
    done = subprocess.run(cmd, cwd=tests.parent, capture_output=True, text=True, timeout=240)
    diffs = output / "regression.diffs"
    report = done.stdout + done.stderr
    if diffs.exists():
        report += "\n" + diffs.read_text(errors="replace")
    assert done.returncode == 0, report
    assert f"All {len(REGRESSION_FILES)} tests passed." in done.stdout, report
