"""The import directions ../shared/STYLE.md asks for, checked in a fresh interpreter."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def loaded_after(module: str) -> set:
    code = f"import sys, {module}; print(' '.join(sorted(m for m in sys.modules if m.startswith('intercom_fdw'))))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_planning_loads_no_http_client():
    loaded = loaded_after("intercom_fdw.planning")
    assert not {m for m in loaded if m.startswith("intercom_fdw.client")}, sorted(loaded)
