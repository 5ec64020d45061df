#!/bin/sh
# Install the Debian packages wfsession needs to build, test and run its sandbox.
# Only what is missing is installed; nothing happens when all are present.
set -eu
PKGS="lua5.4 liblua5.4-dev lua-cjson libcurl4-openssl-dev lua-busted nginx-light
libnginx-mod-http-lua lua-check curl openssl valgrind pkg-config make gcc ${EXTRA_PKGS:-}"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
