"""Benchmark: scan rows from a Python generator through the multicorn_compat runtime and,
in the same run, through a plpython3u set-returning function over the same generator.

Prints rows/s for both, their ratio (runtime / plpython3u; target >= 1.0) and the peak
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
        conn.execute("SELECT 1 FROM py_rows(1)").fetchall()   # load Python in this backend
        conn.execute("SELECT count(*) FROM bench_1").fetchall()
        started = time.perf_counter()
        row = conn.execute(query).fetchone()
        elapsed = time.perf_counter() - started
        return elapsed, peak_memory_kb(pid), row[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    small = max(args.rows // 10, 1)

    pg = PgCluster().start()
    try:
        db = pg.create_database("bench", extensions=("multicorn",))
        with pg.connect(db) as conn:
            conn.execute(SETUP)
            for n in (1, small, args.rows):
                conn.execute(f"CREATE FOREIGN TABLE bench_{n} ({COLUMNS}) SERVER bench OPTIONS (rows '{n}')")

        results = {}
        for name, table in (("multicorn_compat", "bench_{n}"), ("plpython3u", "py_rows({n})")):
            for n in (small, args.rows):
                seconds, peak, count = timed_scan(pg, db, f"SELECT {AGGREGATES} FROM {table.format(n=n)}")
                assert count == n, (name, n, count)
                results[name, n] = (seconds, peak)

        print(f"rows: {args.rows:,} five-column rows (int8, text, float8, bool, timestamptz) from a Python generator")
        for name in ("multicorn_compat", "plpython3u"):
            seconds, peak = results[name, args.rows]
            print(f"{name:>17}: {args.rows / seconds:>12,.0f} rows/s  ({seconds:.2f} s)  "
                  f"backend VmHWM {peak / 1024:.1f} MB (at {small:,} rows: {results[name, small][1] / 1024:.1f} MB)")
        ratio = results["plpython3u", args.rows][0] / results["multicorn_compat", args.rows][0]
        print(f"ratio multicorn_compat / plpython3u: {ratio:.2f}  (target >= 1.0)")
        growth = results["multicorn_compat", args.rows][1] - results["multicorn_compat", small][1]
        print(f"runtime memory growth from {small:,} to {args.rows:,} rows: {growth / 1024:.1f} MB")
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
