#!/usr/bin/env bash
# `make test`: the whole suite on the bundled runtime and everything that touches PostgreSQL on
# real multicorn2 3.2 (tests/conftest.py selects those; tests/runtime stay bundled-only), one
# pytest run per runtime, the runs side by side: most of the suite waits on emulator latency,
# timeouts and sleeps rather than on the CPU, so both take little longer than the longer one.
# - Each run writes to its own log, .cache/test-logs/RUNTIME.log (kept after the run), and has a
#   temp directory of its own (TMPDIR: its clusters, pytest's tmp_path, and the rate-budget and
#   scroll-lock files that client/shared_budget.py and client/scroll_lock.py name by a hash of
#   URL and token, which a test of fixed URL and token would otherwise share with the other run),
#   and a pytest cache of its own (.pytest_cache/RUNTIME: `PYTEST_ARGS=--lf` reruns each one's failures).
# - Every TEST_PROGRESS_SECONDS (60) a line tells how far each run is; at the end each log is
#   printed, whole for a run that failed, from its closing sections (slowest tests, short summary)
#   otherwise; then one summary line per runtime, with its counts and seconds.
# - Fails when either run fails or runs no tests (pytest's exit 5).
#   PYTEST_ARGS='tests/integration -x'   arguments for every run (parsed as a shell would)
#   RUNTIMES='bundled'                   the runtimes to run (default: bundled multicorn2)
set -uo pipefail
cd "$(dirname "$0")/.."
eval "args=(${PYTEST_ARGS:-})"
read -r -a runtimes <<< "${RUNTIMES:-bundled multicorn2}"
every=${TEST_PROGRESS_SECONDS:-60}
logs=.cache/test-logs
mkdir -p "$logs"
work=$(mktemp -d)
chmod 755 "$work"  # run as root, the backends are the OS user postgres: they write in each run's TMPDIR
pids=()

stop_runs() {
  # Each run is a process group of its own (set -m below: otherwise a background pytest ignores
  # SIGINT). An interrupt reaches it as Ctrl-C would, so its fixtures still stop their clusters.
  for pid in "${pids[@]}"; do kill -INT -- "-$pid" 2>/dev/null; done
  wait
}
trap 'stop_runs; echo "make test: interrupted; the logs so far are in $logs/"; rm -rf "$work"; exit 130' INT TERM HUP
trap 'rm -rf "$work"' EXIT

started=$SECONDS
set -m
for runtime in "${runtimes[@]}"; do
  mkdir -m 1777 "$work/$runtime"  # like /tmp: backends and this user both create files there
  TMPDIR="$work/$runtime" INTERCOM_FDW_RUNTIME=$runtime INTERCOM_FDW_TEST_SUMMARY="$work/$runtime.summary" \
    .venv/bin/python -m pytest -o cache_dir=".pytest_cache/$runtime" --durations=15 "${args[@]}" \
    > "$logs/$runtime.log" 2>&1 < /dev/null &
  pids+=($!)
done
set +m
printf '\033[1mmake test:\033[0m runtimes %s side by side; logs in %s/\n' "${runtimes[*]}" "$logs"

progress() {  # the last percentage pytest printed
  local percent
  percent=$(grep -o '\[ *[0-9]*%\]' "$1" 2>/dev/null | tail -n 1 | tr -d '[] ')
  echo "${percent:-collecting}"
}

declare -A rc finished
next=$every
while :; do
  running=0
  for i in "${!runtimes[@]}"; do
    runtime=${runtimes[$i]}
    [ -z "${rc[$runtime]:-}" ] || continue
    if kill -0 "${pids[$i]}" 2>/dev/null; then
      running=1
    else
      wait "${pids[$i]}"
      rc[$runtime]=$?
      finished[$runtime]=$((SECONDS - started))
      echo "make test: runtime $runtime finished after ${finished[$runtime]} s (pytest exit ${rc[$runtime]})"
    fi
  done
  [ "$running" = 1 ] || break
  sleep 1
  if [ $((SECONDS - started)) -ge "$next" ]; then
    line="make test: $((SECONDS - started)) s:"
    for runtime in "${runtimes[@]}"; do
      [ -n "${rc[$runtime]:-}" ] || line="$line $runtime $(progress "$logs/$runtime.log")"
    done
    echo "$line"
    next=$((next + every))
  fi
done

failed=0
summary=()
for runtime in "${runtimes[@]}"; do
  code=${rc[$runtime]}
  log=$logs/$runtime.log
  if [ "$code" = 0 ]; then
    printf '\n\033[1mmake test: runtime %s, the end of %s\033[0m\n' "$runtime" "$log"
    # From pytest's first section after the progress lines (warnings, slowest durations, short summary).
    awk 'NR > 1 && !start && /^=+ .+ =+$/ { start = NR } start { print }' "$log"
  else
    printf '\n\033[1mmake test: runtime %s, all of %s\033[0m\n' "$runtime" "$log"
    cat "$log"
  fi
  line=$(cat "$work/$runtime.summary" 2>/dev/null || echo "runtime $runtime: pytest exit $code before its summary")
  [ "$code" != 5 ] || line="$line: no tests ran, which counts as a failure (see PYTEST_ARGS, RUNTIMES)"
  summary+=("$line, ${finished[$runtime]} s")
  [ "$code" = 0 ] || failed=1
done
printf '\n\033[1mmake test:\033[0m the runs took %s s\n' "$((SECONDS - started))"
printf '%s\n' "${summary[@]}"
exit $failed
