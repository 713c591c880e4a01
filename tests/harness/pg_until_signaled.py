"""Not collected by the suite (no test_ prefix): tests/test_harness.py runs it in a pytest of its own,
which it ends with a signal. The test writes the `pg` cluster's directory to PG_UNTIL_SIGNALED_FILE and
waits for the signal."""
import os
import time
from pathlib import Path


def test_waits_for_a_signal(pg):
    Path(os.environ["PG_UNTIL_SIGNALED_FILE"]).write_text(str(pg.dir))
    time.sleep(120)
