#!/usr/bin/env bash
# `make test`: the whole suite on the bundled runtime, then everything that touches PostgreSQL on
# real multicorn2 3.2 (tests/conftest.py selects those; tests/runtime stay bundled-only), one
# pytest run per runtime. Fails when either fails or runs no tests (pytest's exit 5).
#   PYTEST_ARGS='tests/integration -x'   arguments for every run (parsed as a shell would)
#   RUNTIMES='bundled'                   the runtimes to run, in order (default: bundled multicorn2)
set -uo pipefail
cd "$(dirname "$0")/.."
eval "args=(${PYTEST_ARGS:-})"
read -r -a runtimes <<< "${RUNTIMES:-bundled multicorn2}"
summary=$(mktemp -d)
trap 'rm -rf "$summary"' EXIT
failed=0
for runtime in "${runtimes[@]}"; do
  printf '\n\033[1mmake test: runtime %s\033[0m\n' "$runtime"
  started=$SECONDS
  INTERCOM_FDW_RUNTIME=$runtime INTERCOM_FDW_TEST_SUMMARY="$summary/$runtime" .venv/bin/python -m pytest "${args[@]}"
  rc=$?
  line=$(cat "$summary/$runtime" 2>/dev/null || echo "runtime $runtime: pytest exit $rc before its summary")
  [ "$rc" != 5 ] || line="$line: no tests ran, which counts as a failure (see PYTEST_ARGS, RUNTIMES)"
  echo "$line, $((SECONDS - started)) s" >> "$summary/all"
  [ "$rc" = 0 ] || failed=1
done
printf '\n\033[1mmake test:\033[0m\n'
cat "$summary/all"
exit $failed
