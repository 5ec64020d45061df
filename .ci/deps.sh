#!/bin/sh
# Install the Debian packages wfsession needs to build, test and run its sandbox.
# Only what is missing is installed; nothing happens when all are present.
#
# A minimal Debian 12 (debootstrap --variant=minbase, then only make) has the
# Essential set: sh, coreutils (cat, mktemp, sleep, rm, date, timeout, readlink,
# cut, printf), dpkg and apt. Everything else the code and the specs call is
# here, by what needs it (`make fresh-check` proves the list complete):
#   build        gcc make pkg-config liblua5.4-dev libcurl4-openssl-dev
#   run time     lua5.4 lua-cjson ca-certificates (libcurl's CA bundle: without it
#                every HTTPS request to a real provider fails), lua-argparse (the
#                wfsession command)
#   sandbox      nginx-light libnginx-mod-http-lua, curl (its control requests),
#                openssl (the TLS knob's certificate)
#   tests        lua-busted, lua-check (make lint), valgrind (make check-memory),
#                lua-cqueues and lua-luv (the event-loop hosts of wfs.multi),
#                libluajit2-5.1-dev (the core the nginx specs load: OpenResty's LuaJIT),
#                chromium (renders the HTML report headless), redis-server and lua-redis
#                (rate budgets shared through Redis; lua-socket comes with lua-redis),
#                and the one Lua file of lua-nginx-redis (resty.redis inside nginx),
#                unpacked into build/vendor/: the package itself depends on
#                nginx-extras, which would replace nginx-light
#   packaging    luarocks (make install-check), lua-ldoc + lua-discount (make docs)
#   WFS_LUA      the Lua target of `make LUA=...`: lua5.1, lua5.3 or luajit add
#                their interpreter and headers (luajit2 is OpenResty's branch:
#                Debian's own luajit conflicts with nginx's Lua module)
#   WFS_DEPS     "run" (make demo): build, run time and sandbox only; "test" (the
#                default): everything
set -eu
PKGS="gcc make pkg-config liblua5.4-dev libcurl4-openssl-dev
lua5.4 lua-cjson ca-certificates lua-argparse
nginx-light libnginx-mod-http-lua curl openssl ${EXTRA_PKGS:-}"
case "${WFS_DEPS:-test}" in
  run) ;;
  test) PKGS="$PKGS lua-busted lua-check valgrind lua-cqueues lua-luv libluajit2-5.1-dev chromium
redis-server lua-redis luarocks lua-ldoc lua-discount" ;;
  *) echo "deps: WFS_DEPS is run or test, not '$WFS_DEPS'" >&2; exit 2 ;;
esac
case "${WFS_LUA:-lua5.4}" in
  lua5.4) ;;
  lua5.3) PKGS="$PKGS lua5.3 liblua5.3-dev" ;;
  lua5.1) PKGS="$PKGS lua5.1 liblua5.1-0-dev" ;;
  luajit) PKGS="$PKGS luajit2" ;;
  *) echo "deps: unknown Lua target '$WFS_LUA' (lua5.4, lua5.3, lua5.1 or luajit)" >&2; exit 2 ;;
esac
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
updated=""
if [ -n "$missing" ]; then
  echo "deps: installing$missing" >&2
  $SUDO apt-get update -qq
  updated=1
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
vendor="$(cd "$(dirname "$0")/.." && pwd)/build/vendor"
if [ "${WFS_DEPS:-test}" = test ] && [ ! -f "$vendor/nginx/redis.lua" ]; then
  echo "deps: unpacking resty.redis (lua-nginx-redis) into build/vendor/" >&2
  tmp=$(mktemp -d)
  # apt-get download needs the package lists, which a fresh machine may not have yet
  (cd "$tmp" && { apt-get download lua-nginx-redis >/dev/null 2>&1 ||
    { [ -z "$updated" ] && $SUDO apt-get update -qq && apt-get download lua-nginx-redis >/dev/null; }; })
  dpkg-deb -x "$tmp"/lua-nginx-redis_*.deb "$tmp/x"
  mkdir -p "$vendor/nginx"
  cp "$tmp/x/usr/share/lua/5.1/nginx/redis.lua" "$vendor/nginx/redis.lua"
  rm -rf "$tmp"
fi
