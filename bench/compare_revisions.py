"""One query's backend CPU per row, side by side: this checkout's Python code against a git revision's.

Two throwaway PostgreSQL clusters of one runtime read the same emulator (its own process, 0 ms);
one backend's PYTHONPATH holds this checkout, the other's a worktree of `--base` (made in a
temporary folder, removed after). The query runs in alternate rounds on each, so a slow spell of
this machine's shared cores weighs on both alike; the script prints each round's backend CPU per
row and the medians. Only Python differs: both clusters load the runtime (multicorn.so) this
checkout built, so a revision's C changes are not compared here.

    .venv/bin/python bench/compare_revisions.py --base REV [--query "SELECT count(c) FROM intercom.contacts c"]
        [--contacts 20000] [--rounds 10] [--runtime bundled|multicorn2] [--server-options "scan_mode 'partitioned'"]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.profile_scan import contacts_table, cpu_seconds, start_emulator  # noqa: E402
from intercom_fdw.tools import throwaway_pg  # noqa: E402


def cluster(runtime: str, root: Path, url: str, server_options: str = ""):
    """A started cluster whose backends import intercom_fdw from `root`, and (conn, backend pid)."""
    own = throwaway_pg.backend_pythonpath
    throwaway_pg.backend_pythonpath = lambda name=None: own(name).replace(str(ROOT), str(root), 1)
    try:
        pg = throwaway_pg.PgCluster(runtime_name=runtime).start()
    finally:
        throwaway_pg.backend_pythonpath = own
    pg.create_database("compare")
    conn = pg.connect("compare")
    return pg, conn, contacts_table(conn, url, server_options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the git revision to compare this checkout with")
    parser.add_argument("--query", default="SELECT count(c) FROM intercom.contacts c")
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--runtime", default="bundled", choices=["bundled", "multicorn2"])
    parser.add_argument("--server-options", default="",
                        help="more options of the server, SQL text: \"scan_mode 'partitioned'\"")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        Path(folder).chmod(0o755)  # (the clusters' backends run as another OS user, and read the worktree)
        worktree = Path(folder) / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(worktree), args.base],
                       check=True)
        emulator, url = start_emulator(args.contacts)
        sides = {}
        try:
            sides["this checkout"] = cluster(args.runtime, ROOT, url, args.server_options)
            sides[f"base {args.base}"] = cluster(args.runtime, worktree, url, args.server_options)
            per_row = {label: [] for label in sides}
            for _ in range(args.rounds):
                for label, (_, conn, pid) in sides.items():
                    before = cpu_seconds(pid)
                    rows = conn.execute(args.query).fetchone()[0]
                    per_row[label].append((cpu_seconds(pid) - before) / max(rows, 1) * 1e6)
        finally:
            for pg, conn, _ in sides.values():
                conn.close()
                pg.stop()
            emulator.terminate()
            emulator.wait(timeout=30)
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)], check=False)
    options = f", server options {args.server_options}" if args.server_options else ""
    print(f"{args.query} [{args.runtime}{options}], {args.contacts:,} contacts at 0 ms, {args.rounds} alternate rounds: "
          f"backend CPU us a row")
    for label, values in per_row.items():
        print(f"  {label:<24} median {statistics.median(values):6.1f}   " + " ".join(f"{v:.1f}" for v in values))


if __name__ == "__main__":
    main()
