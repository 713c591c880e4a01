"""Benchmark: scan rows from a Python generator through the bundled runtime (multicorn_compat),
through real multicorn2 3.2 (the relocated build of scripts/build_multicorn2.sh) and, in the same
run, through a plpython3u set-returning function over the same generator.

Prints rows/s for each (the fastest of --rounds scans, interleaved), their ratios (bundled runtime / plpython3u: target >= 1.0) and the peak
memory (VmHWM) of the backend that ran each scan, at two row counts to show that memory
does not grow with the number of rows.

    .venv/bin/python bench/runtime_scan.py [--rows 1000000]
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.harness.pgcluster import PgCluster  # noqa: E402

COLUMNS = "id int8, name text, score float8, flag bool, created timestamptz"
# Touch every column so that both sides convert all five values of every row.
AGGREGATES = "count(*), max(id), max(name), sum(score), bool_or(flag), max(created)"

SETUP = f"""
CREATE EXTENSION IF NOT EXISTS plpython3u;
CREATE SERVER bench FOREIGN DATA WRAPPER multicorn
    OPTIONS (wrapper 'tests.runtime.testfdw.GeneratorFdw');
CREATE FUNCTION py_rows(n int) RETURNS TABLE ({COLUMNS}) LANGUAGE plpython3u AS $$
from tests.runtime.testfdw import five_column_rows
return five_column_rows(n)
$$;
"""


def peak_memory_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return -1


def timed_scan(pg, db, query):
    """Run query in a fresh backend; return (seconds, backend peak memory in kB)."""
    with pg.connect(db) as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        # Load Python and the runtime in this backend. The FDW first: multicorn2's multicorn._utils
        # (imported by testfdw) links against multicorn.so and fails to import before it is loaded.
        conn.execute("SELECT count(*) FROM bench_1").fetchall()
        conn.execute("SELECT 1 FROM py_rows(1)").fetchall()
        started = time.perf_counter()
        row = conn.execute(query).fetchone()
        elapsed = time.perf_counter() - started
        return elapsed, peak_memory_kb(pid), row[0]


def prepare(pg, rows, small):
    db = pg.create_database("bench", extensions=("multicorn",))
    with pg.connect(db) as conn:
        conn.execute(SETUP)
        for n in (1, small, rows):
            conn.execute(f"CREATE FOREIGN TABLE bench_{n} ({COLUMNS}) SERVER bench OPTIONS (rows '{n}')")
    return db


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3,
                        help="scans of each source, interleaved; the fastest counts (default 3)")
    args = parser.parse_args()
    small = max(args.rows // 10, 1)

    # One cluster per runtime (each runtime is its own PostgreSQL tree), both up for the whole run,
    # and the sources scanned in turn, round after round, so that a busy machine slows all alike.
    clusters = {name: PgCluster(runtime_name=name) for name in ("bundled", "multicorn2")}
    try:
        dbs = {name: prepare(pg.start(), args.rows, small) for name, pg in clusters.items()}
        sources = (("multicorn_compat", "bundled", "bench_{n}"), ("plpython3u", "bundled", "py_rows({n})"),
                   ("multicorn2", "multicorn2", "bench_{n}"))
        results = {}
        for _ in range(args.rounds):
            for n in (small, args.rows):
                for name, runtime_name, table in sources:
                    seconds, peak, count = timed_scan(clusters[runtime_name], dbs[runtime_name],
                                                      f"SELECT {AGGREGATES} FROM {table.format(n=n)}")
                    assert count == n, (name, n, count)
                    best = results.setdefault(name, {}).get(n)
                    results[name][n] = (min(seconds, best[0]) if best else seconds, max(peak, best[1]) if best else peak)
    finally:
        for pg in clusters.values():
            pg.stop()

    def rate(name):
        return args.rows / results[name][args.rows][0]

    print(f"rows: {args.rows:,} five-column rows (int8, text, float8, bool, timestamptz) from a Python generator, "
          f"fastest of {args.rounds} interleaved scans")
    for name in results:
        seconds, peak = results[name][args.rows]
        print(f"{name:>17}: {rate(name):>12,.0f} rows/s  ({seconds:.2f} s)  "
              f"backend VmHWM {peak / 1024:.1f} MB (at {small:,} rows: {results[name][small][1] / 1024:.1f} MB)")
    print(f"ratio multicorn_compat / plpython3u: {rate('multicorn_compat') / rate('plpython3u'):.2f}  (target >= 1.0)")
    print(f"ratio multicorn2 / plpython3u:       {rate('multicorn2') / rate('plpython3u'):.2f}")
    print(f"ratio multicorn_compat / multicorn2: {rate('multicorn_compat') / rate('multicorn2'):.2f}")
    for name in ("multicorn_compat", "multicorn2"):
        growth = results[name][args.rows][1] - results[name][small][1]
        print(f"{name} memory growth from {small:,} to {args.rows:,} rows: {growth / 1024:.1f} MB")


if __name__ == "__main__":
    main()
