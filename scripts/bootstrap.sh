#!/usr/bin/env bash
# Installs everything intercom_fdw needs on a Debian bookworm machine, idempotently:
# PostgreSQL 15 with its server headers and plpython3u, the Multicorn runtime (our
# multicorn_compat unless real multicorn2 is installed), real multicorn2 in a relocated copy
# of PostgreSQL under .cache/ (the second runtime of `make test`), chromium and chromedriver (the
# browser of the sign-in test), and .venv/ with the package, the emulator and the test tools.
# A second run only checks and returns.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

say() { printf '\033[1mbootstrap:\033[0m %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- Debian packages -------------------------------------------------------------
apt_packages=(postgresql-15 postgresql-server-dev-15 postgresql-plpython3-15 python3-dev python3-venv make gcc
              chromium chromium-driver)  # the headless browser of the Sign in with Intercom test
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
export PG_CONFIG

# --- The Multicorn runtime -------------------------------------------------------
# Real multicorn2 (built from its release, as in docker/) is used when present; our
# runtime marks its control file so that we never overwrite someone else's build.
control="$($PG_CONFIG --sharedir)/extension/multicorn.control"
if [ -f "$control" ] && ! grep -q multicorn_compat "$control"; then
  say "real multicorn2 found at $control: using it"
  real_multicorn=1
else
  real_multicorn=0
  if [ -f multicorn_compat/Makefile ]; then
    make -s -C multicorn_compat PG_CONFIG="$PG_CONFIG" >/dev/null
    as_root make -s -C multicorn_compat PG_CONFIG="$PG_CONFIG" install >/dev/null
  fi
fi
# The intercom_fdw extension: the action functions (sql/, generated from intercom_fdw/actions/).
as_root make -s -C sql PG_CONFIG="$PG_CONFIG" install >/dev/null

# --- The bundled runtime of `make test`, in a private copy of this PostgreSQL --------
# The suite's clusters run from .cache/bundled/ (intercom_fdw/tools/throwaway_pg.py), so that what
# another checkout installs into the system's PostgreSQL never changes what this one tests.
bundled=.cache/bundled
bundled_key="$(sha256sum < scripts/relocate_pg.sh | cut -c1-16) $($PG_CONFIG --version)"
if [ "$(cat "$bundled/.stamp" 2>/dev/null)" != "$bundled_key" ]; then
  say "copying PostgreSQL 15 to $bundled for the bundled runtime"
  bash scripts/relocate_pg.sh "$bundled"
  echo "$bundled_key" > "$bundled/.stamp"
fi
if [ -f multicorn_compat/Makefile ]; then
  make -s -C multicorn_compat PG_CONFIG="$root/$bundled/lib/postgresql/15/bin/pg_config" >/dev/null
  make -s -C multicorn_compat PG_CONFIG="$root/$bundled/lib/postgresql/15/bin/pg_config" install >/dev/null
fi
make -s -C sql PG_CONFIG="$root/$bundled/lib/postgresql/15/bin/pg_config" install >/dev/null
chmod -R a+rX "$bundled"

# --- Real multicorn2, the second runtime of `make test` ----------------------------
# Built from the vendored release (vendor/) into a relocated copy of this PostgreSQL under
# .cache/multicorn2/, never into the system's; a second run only checks its stamp.
bash scripts/build_multicorn2.sh relocated .cache/multicorn2

# --- The virtual environment ------------------------------------------------------
# Made from Debian's python3: the backend embeds Debian's libpython3.11, so the packages
# it imports must be built for that same interpreter.
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(sys.base_prefix != "/usr")'; then
  rm -rf .venv
  say "creating .venv from /usr/bin/python3"
  /usr/bin/python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
fi
stamp=.venv/.bootstrap-stamp
want=$( (cat setup.py constraints.txt multicorn_compat/python/setup.py 2>/dev/null || true) | sha256sum | cut -c1-16)-$real_multicorn
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "installing intercom_fdw and its test dependencies into .venv"
  # constraints.txt pins the versions the suite last passed with, so a new release cannot turn CI red.
  .venv/bin/pip install -q -c constraints.txt -e ".[emulator,test]"
  if [ "$real_multicorn" = 0 ] && [ -f multicorn_compat/python/setup.py ]; then
    .venv/bin/pip install -q -e multicorn_compat/python
  fi
  echo "$want" > "$stamp"
fi

# The backend runs as an unprivileged OS user and must read the checkout and .venv.
if [ "$(id -u)" = 0 ]; then
  d="$root"
  while [ "$d" != / ]; do
    if ! runuser -u postgres -- test -x "$d" 2>/dev/null; then
      say "making $d traversable for the postgres OS user"
      chmod o+x "$d"
    fi
    d=$(dirname "$d")
  done
fi
say "ready"
