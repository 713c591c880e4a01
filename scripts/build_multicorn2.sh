#!/usr/bin/env bash
# Builds real multicorn2 3.2 from its release tarball (sha256-verified): the C extension with
# PGXS and the Python package (with its C module multicorn._utils) against Debian's python3,
# the libpython the extension links. Used by the suite and by docker/Dockerfile alike:
#
#   scripts/build_multicorn2.sh relocated DIR   # a copy of Debian's PostgreSQL 15 under DIR
#       (DIR/lib/postgresql/15/bin, plpython3u included), multicorn2 and the intercom_fdw
#       extension (sql/) installed into that copy, the Python package in DIR/python. The system's
#       `multicorn` extension is not touched. Built once: DIR/.stamp holds the tarball's sha256,
#       this script's hash and the PostgreSQL version; a second run only checks it.
#   scripts/build_multicorn2.sh system DIR      # into the PostgreSQL of $PG_CONFIG (default
#       /usr/lib/postgresql/15/bin/pg_config) itself, the Python package into DIR (the production
#       image, docker/Dockerfile; replaces any `multicorn` extension there).
#
# The tarball: vendor/multicorn2-3.2.tar.gz of the checkout, else ../shared/vendor/ next to it,
# or $MULTICORN2_TARBALL.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

MULTICORN2_VERSION=3.2
MULTICORN2_SHA256=80f292cc7e62ca28e09ae32afb80681e7654079d4011c3bddd85b11a62e5d84b
# The build tools of multicorn._utils, pinned like constraints.txt pins the suite's packages.
BUILD_TOOLS=(setuptools==80.9.0 wheel==0.45.1)
SYSTEM_PG=/usr/lib/postgresql/15

say() { printf '\033[1mmulticorn2:\033[0m %s\n' "$*"; }
die() { printf 'build_multicorn2.sh: %s\n' "$*" >&2; exit 1; }

mode=${1:-}; dest=${2:-}
{ [ "$mode" = relocated ] || [ "$mode" = system ]; } && [ -n "$dest" ] \
  || die "usage: $0 relocated DIR | system PYTHON_TARGET_DIR"

tarball=${MULTICORN2_TARBALL:-}
if [ -z "$tarball" ]; then
  for t in "$root/vendor/multicorn2-$MULTICORN2_VERSION.tar.gz" \
           "$root/../shared/vendor/multicorn2-$MULTICORN2_VERSION.tar.gz"; do
    if [ -f "$t" ]; then tarball=$t; break; fi
  done
fi
[ -n "$tarball" ] && [ -f "$tarball" ] || die "multicorn2-$MULTICORN2_VERSION.tar.gz not found (vendor/ or ../shared/vendor/)"
echo "$MULTICORN2_SHA256  $tarball" | sha256sum -c --quiet - >/dev/null 2>&1 \
  || die "$tarball: sha256 is not $MULTICORN2_SHA256"
mkdir -p "$dest"; dest=$(cd "$dest" && pwd)

if [ "$mode" = relocated ]; then
  pg_config=$dest/lib/postgresql/15/bin/pg_config
  python_dir=$dest/python
  key="$MULTICORN2_SHA256 $(cat "$0" scripts/relocate_pg.sh | sha256sum | cut -c1-64) $($SYSTEM_PG/bin/pg_config --version)"
  if [ "$(cat "$dest/.stamp" 2>/dev/null)" = "$key" ] && [ -x "$pg_config" ] && [ -d "$python_dir/multicorn" ]; then
    # Built already; the intercom_fdw extension follows sql/ on every run (a copy of two files).
    make -s -C sql PG_CONFIG="$pg_config" install >/dev/null
    exit 0
  fi
  say "building multicorn2 $MULTICORN2_VERSION into a relocated PostgreSQL 15 under $dest"
  started=$SECONDS
  if [ -n "$(ls -A "$dest")" ] && [ ! -e "$dest/.stamp" ] && [ ! -d "$dest/lib/postgresql/15" ]; then
    die "$dest holds something else; give an empty or earlier build directory"
  fi
  bash "$root/scripts/relocate_pg.sh" "$dest"
else
  pg_config=${PG_CONFIG:-$SYSTEM_PG/bin/pg_config}
  python_dir=$dest
  started=$SECONDS
  say "building multicorn2 $MULTICORN2_VERSION into $($pg_config --pkglibdir), its Python package into $python_dir"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/multicorn2-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar -xzf "$tarball" -C "$work"
src=$work/multicorn2-$MULTICORN2_VERSION

# The C extension. `-o python_code`: multicorn2's `install` target also pip-installs the Python
# package into the system Python (with --break-system-packages); that is done below instead.
make -s -C "$src" PG_CONFIG="$pg_config" >/dev/null
make -s -C "$src" -o python_code PG_CONFIG="$pg_config" install >/dev/null

# The Python package, with multicorn._utils compiled against Debian's python3 (setup.py reads the
# server headers' location from the pg_config on PATH).
/usr/bin/python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check "${BUILD_TOOLS[@]}"
mkdir -p "$python_dir"
PATH="$(dirname "$pg_config"):$PATH" "$work/venv/bin/pip" install -q --disable-pip-version-check \
  --no-build-isolation --no-deps --upgrade --target "$python_dir" "$src"
/usr/bin/python3 - "$python_dir" <<'EOF'
import importlib.machinery, pathlib, sys
found = list(pathlib.Path(sys.argv[1], "multicorn").glob("_utils*.so"))
assert found and found[0].name.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)), found
EOF

if [ "$mode" = relocated ]; then
  make -s -C sql PG_CONFIG="$pg_config" install >/dev/null
  # The backend runs as the postgres OS user (throwaway_pg.py) and reads all of it.
  chmod -R a+rX "$dest"
  echo "$key" > "$dest/.stamp"
fi
say "built in $((SECONDS - started)) s"
