"""scripts/build_multicorn2.sh, the one recipe of the suite's multicorn2 and of docker/: it refuses
a tarball whose sha256 is not the pinned one, and once built, a second run only checks."""
import os
import subprocess
import time
from pathlib import Path

from intercom_fdw.tools import throwaway_pg

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "build_multicorn2.sh"


def build(*args, **env):
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=600)


def test_a_tarball_that_is_not_the_pinned_release_is_refused(tmp_path):
    fake = tmp_path / "multicorn2-3.2.tar.gz"
    fake.write_bytes(b"not the release")
    result = build("relocated", str(tmp_path / "out"), MULTICORN2_TARBALL=str(fake))
    assert result.returncode != 0
    assert "sha256 is not 80f292cc7e62ca28e09ae32afb80681e7654079d4011c3bddd85b11a62e5d84b" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_second_run_only_checks():
    target = str(throwaway_pg.multicorn2_dir())
    first = build("relocated", target)   # bootstrap has built it: this only checks, unless stale
    assert first.returncode == 0, first.stderr
    started = time.monotonic()
    second = build("relocated", target)
    elapsed = time.monotonic() - started
    assert second.returncode == 0, second.stderr
    assert "building" not in second.stdout
    assert elapsed < 2, f"a checking run took {elapsed:.1f} s"
