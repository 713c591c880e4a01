"""The runtime under test is the one the run claims (INTERCOM_FDW_RUNTIME): the backend's
`multicorn` extension, the shared library it has mapped, and the `multicorn` Python package it
imports all come from that runtime and none from the other."""
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from intercom_fdw.tools import throwaway_pg

REPO = Path(__file__).resolve().parents[1]
COMPAT_PYTHON = REPO / "multicorn_compat" / "python"
# Functions of multicorn2 3.2's src/python.c; the bundled runtime (a clean-room C runtime) has none.
MULTICORN2_SYMBOLS = {"getInstance", "getClass", "errorCheck", "getCacheEntry"}
COLUMNS = "multicorn_py text, base_class_py text, utils_file text, library text"


def vendored_multicorn2_control() -> str:
    for tarball in (REPO / "vendor" / "multicorn2-3.2.tar.gz", REPO.parent / "shared" / "vendor" / "multicorn2-3.2.tar.gz"):
        if tarball.exists():
            with tarfile.open(tarball) as tar:
                return tar.extractfile("multicorn2-3.2/multicorn.control").read().decode()
    pytest.fail("multicorn2-3.2.tar.gz not found in vendor/")


def control_comment(text: str) -> str:
    line = next(line for line in text.splitlines() if line.startswith("comment"))
    return line.split("=", 1)[1].strip().strip("'")


def exported_functions(library: str) -> set:
    nm = shutil.which("nm")
    assert nm, "nm (binutils) is needed to read the library's symbols"
    out = subprocess.run([nm, "-D", "--defined-only", library], check=True, capture_output=True, text=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


@pytest.fixture(scope="module")
def probe(pg, db):
    with pg.connect(db) as conn:
        conn.execute("CREATE SERVER probe FOREIGN DATA WRAPPER multicorn "
                     "OPTIONS (wrapper 'tests.harness.runtime_probe.RuntimeProbeFdw')")
        conn.execute(f"CREATE FOREIGN TABLE runtime_probe ({COLUMNS}) SERVER probe")
        cur = conn.execute("SELECT * FROM runtime_probe")
        row = dict(zip([c.name for c in cur.description], cur.fetchone()))
        row["comment"] = conn.execute(
            "SELECT comment FROM pg_available_extensions WHERE name = 'multicorn'").fetchone()[0]
        row["pkglibdir"] = conn.execute("SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'").fetchone()[0]
    return row


def test_the_cluster_runs_the_binaries_of_the_claimed_runtime(pg):
    assert pg.runtime == throwaway_pg.runtime()
    if pg.runtime == "multicorn2":
        assert pg.bin.resolve().is_relative_to(throwaway_pg.multicorn2_dir().resolve())
    else:  # this checkout's private copy (scripts/bootstrap.sh), never multicorn2's
        assert pg.bin.resolve().is_relative_to(throwaway_pg.bundled_dir().resolve())
        assert not pg.bin.resolve().is_relative_to(throwaway_pg.multicorn2_dir().resolve())


def test_the_backend_has_the_claimed_runtimes_multicorn_library_loaded(pg, probe):
    library = probe["library"]
    assert library and "\n" not in library, f"expected one mapped multicorn.so, got {library!r}"
    assert Path(library).parent == Path(probe["pkglibdir"])
    symbols = exported_functions(library)
    if pg.runtime == "multicorn2":
        assert Path(library).resolve().is_relative_to(throwaway_pg.multicorn2_dir().resolve())
        assert MULTICORN2_SYMBOLS <= symbols, library
    else:
        assert not Path(library).resolve().is_relative_to(throwaway_pg.multicorn2_dir().resolve())
        assert not MULTICORN2_SYMBOLS & symbols, f"{library} is multicorn2's, not the bundled runtime"


def test_the_multicorn_extension_is_the_claimed_runtimes(pg, probe):
    if pg.runtime == "multicorn2":
        assert probe["comment"] == control_comment(vendored_multicorn2_control())
    else:
        assert "multicorn_compat" in probe["comment"]


def test_the_backend_imports_the_claimed_runtimes_python_package(pg, probe):
    files = [Path(probe["multicorn_py"]), Path(probe["base_class_py"])]
    if pg.runtime == "multicorn2":
        package = throwaway_pg.multicorn2_dir() / "python" / "multicorn"
        for f in files:
            assert f.parent == package, f
        # multicorn2's multicorn._utils is a compiled module of its Python package.
        assert probe["utils_file"] and Path(probe["utils_file"]).parent == package
        assert Path(probe["utils_file"]).suffix == ".so"
    else:
        for f in files:
            assert f.resolve().is_relative_to(COMPAT_PYTHON.resolve()), f
        # the bundled runtime's multicorn._utils is built into its multicorn.so
        assert probe["utils_file"] is None
