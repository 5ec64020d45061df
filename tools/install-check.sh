#!/bin/bash
# Installs wfsession into temporary trees both ways, `make install` (PREFIX,
# and DESTDIR staging) and `luarocks make`, and runs the installed command
# against its own sandbox from each: `wfsession --sandbox list`.
#   LUA=lua5.4 bash tools/install-check.sh        (make install-check)
set -euo pipefail
LUA=${LUA:-lua5.4}
case "$LUA" in luajit) V=5.1 ;; *) V=${LUA#lua} ;; esac
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/wfsession-install.XXXXXX)
trap 'rm -rf --one-file-system "$tmp"' EXIT
fail() { echo "install-check: $*" >&2; exit 1; }

# The installed command, run from / with no help from the environment or the tree.
listed() {
  (cd / && env -u LUA_PATH -u LUA_CPATH "$@" --sandbox --sandbox-sessions 40 list -p all --format jsonl) | wc -l
}

echo "== make install PREFIX=$tmp/prefix ($LUA)"
make -C "$here" --no-print-directory LUA="$LUA" install PREFIX="$tmp/prefix" >/dev/null
head -1 "$tmp/prefix/bin/wfsession" | grep -qx "#!/usr/bin/env $LUA" || fail "the command's first line does not name $LUA"
n=$(listed "$tmp/prefix/bin/wfsession")
echo "   wfsession --sandbox list: $n sessions"
[ "$n" = 120 ] || fail "expected 120 sessions from the make-installed command, got $n"
(cd / && env -u LUA_PATH -u LUA_CPATH "$tmp/prefix/bin/wfsession-sandbox" --help) | grep -q "Usage: wfsession sandbox" \
  || fail "the installed wfsession-sandbox does not run"

echo "== make install DESTDIR=$tmp/stage PREFIX=/opt/wfs"
make -C "$here" --no-print-directory LUA="$LUA" install DESTDIR="$tmp/stage" PREFIX=/opt/wfs >/dev/null
for f in bin/wfsession bin/wfsession-sandbox "lib/lua/$V/wfsession/core.so" "share/lua/$V/wfsession/init.lua" \
         "share/lua/$V/wfsession/cli.lua" "share/lua/$V/wfsession/sandbox/init.lua"; do
  [ -e "$tmp/stage/opt/wfs/$f" ] || fail "DESTDIR install lacks /opt/wfs/$f"
done
echo "   staged under $tmp/stage/opt/wfs: $(find "$tmp/stage" -type f | wc -l) files"

if [ "$LUA" = luajit ]; then
  echo "== luarocks make: skipped for luajit (LuaRocks' 5.1 is PUC Lua 5.1)"
  exit 0
fi
echo "== luarocks --lua-version $V make --tree $tmp/rocks"
mkdir "$tmp/src"
(cd "$here" && git ls-files -co --exclude-standard | grep -v '^wfsession/' | tar cf - -T -) | tar xf - -C "$tmp/src"
# Debian's lua-cjson and lua-argparse are packages, not rocks: LuaRocks cannot see them
(cd "$tmp/src" && luarocks --lua-version "$V" make --deps-mode=none --tree "$tmp/rocks" \
   rockspec/wfsession-scm-1.rockspec >"$tmp/luarocks.log" 2>&1) || { cat "$tmp/luarocks.log"; fail "luarocks make failed"; }
eval "$(luarocks --lua-version "$V" --tree "$tmp/rocks" path)"
export LUA_PATH LUA_CPATH
n=$( (cd / && "$tmp/rocks/bin/wfsession" --sandbox --sandbox-sessions 40 list -p all --format jsonl) | wc -l)
echo "   wfsession --sandbox list: $n sessions"
[ "$n" = 120 ] || fail "expected 120 sessions from the rock's command, got $n"
echo "install-check: ok"
