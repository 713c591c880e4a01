#!/usr/bin/env bash
# A private copy of Debian's PostgreSQL 15 under DIR, for a runtime the suite builds into it
# without touching the system's: DIR/lib/postgresql/15 (binaries, plpython3u), DIR/share/postgresql/15,
# DIR/include/postgresql (a link to the server headers). Debian's PostgreSQL finds its files
# relative to its binaries, so the copy runs from there and its pg_config names the copy. multicorn*
# files of the system (whichever runtime is installed there) stay behind.
#   scripts/relocate_pg.sh DIR    (DIR empty, absent, or an earlier copy: that is replaced)
set -euo pipefail
SYSTEM_PG=/usr/lib/postgresql/15
SYSTEM_SHARE=/usr/share/postgresql/15
dest=${1:?usage: $0 DIR}
die() { printf 'relocate_pg.sh: %s\n' "$*" >&2; exit 1; }
mkdir -p "$dest"; dest=$(cd "$dest" && pwd)
if [ -n "$(ls -A "$dest")" ] && [ ! -d "$dest/lib/postgresql/15" ]; then
  die "$dest holds something else; give an empty directory or an earlier copy"
fi
find "$dest" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
mkdir -p "$dest/lib/postgresql" "$dest/share/postgresql" "$dest/include"
cp -a "$SYSTEM_PG" "$dest/lib/postgresql/15"
cp -a "$SYSTEM_SHARE" "$dest/share/postgresql/15"
rm -rf "$dest"/lib/postgresql/15/lib/multicorn.so "$dest"/lib/postgresql/15/lib/bitcode/multicorn* \
       "$dest"/share/postgresql/15/extension/multicorn[.-]*
ln -s /usr/include/postgresql "$dest/include/postgresql"
[ -f "$dest/share/postgresql/15/extension/plpython3u.control" ] || die "plpython3u missing: install postgresql-plpython3-15"
