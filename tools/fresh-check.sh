#!/usr/bin/env bash
# tools/fresh-check.sh: the README's quick start on a truly fresh Debian 12.
#
#   tools/fresh-check.sh            (make fresh-check; root, or sudo)
#
# Builds a minimal Debian 12 root with `debootstrap --variant=minbase` from the
# mirror this machine's apt sources name, mounts /proc and /dev into it,
# clones the commit under test (HEAD: uncommitted changes are not part of it),
# installs only `make`, then runs `make demo` and `make test` inside it with
# chroot. Any failure fails the check. Every process still running inside the
# root is killed, the mounts are undone and the root is removed afterwards,
# also when interrupted.
#
# Environment: FRESH_DIR (parent of the temporary root, default /tmp),
# FRESH_MIRROR (default: the first bookworm mirror of /etc/apt), FRESH_KEEP=1
# (keep the root for a look afterwards; the mounts still go).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
SRC=$(pwd)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

say() { printf 'fresh-check: %s\n' "$*" >&2; }

# The first "deb" mirror serving bookworm, from one-line or deb822 sources.
mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    awk '$1 == "deb" && $0 ~ / bookworm / { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    # stanzas are separated by blank lines; take the URIs of one whose Suites name bookworm
    awk 'BEGIN { RS = "" } /Suites:[^\n]*bookworm([ \n]|$)/ && /Types:[^\n]*deb([ \n]|$)/ {
           if (match($0, /URIs:[ \t]*[^ \t\n]+/)) { u = substr($0, RSTART, RLENGTH); sub(/URIs:[ \t]*/, "", u); print u; exit } }' "$f"
  done
}

MIRROR=${FRESH_MIRROR:-$(mirror | head -n 1)}
[ -n "$MIRROR" ] || MIRROR=http://deb.debian.org/debian
COMMIT=$(git rev-parse HEAD) || { say "not a git checkout"; exit 2; }

if ! command -v debootstrap >/dev/null 2>&1; then
  say "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends debootstrap >/dev/null ||
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        $SUDO apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; } ||
    { say "cannot install debootstrap"; exit 1; }
fi

TOP=$(mktemp -d "${FRESH_DIR:-/tmp}/wfsession-fresh.XXXXXXXX") || exit 2
ROOT=$TOP/root

# Kill whatever still runs inside the root (a sandbox nginx a failing spec left).
kill_inside() {
  local p r
  for p in /proc/[0-9]*; do
    r=$($SUDO readlink "$p/root" 2>/dev/null) || continue
    case "$r" in "$ROOT"|"$ROOT"/*) $SUDO kill -KILL "${p#/proc/}" 2>/dev/null ;; esac
  done
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  kill_inside
  sleep 0.2
  # innermost first; a busy mount is detached lazily rather than left behind
  local m
  for m in $(awk -v r="$ROOT" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/mounts | sort -r); do
    $SUDO umount "$m" 2>/dev/null || $SUDO umount -l "$m" 2>/dev/null
  done
  if awk -v r="$ROOT" '$2 == r || index($2, r "/") == 1 { found = 1 } END { exit !found }' /proc/mounts; then
    say "mounts under $ROOT remain; not removing it"
  elif [ "${FRESH_KEEP:-0}" = 1 ]; then
    say "kept $ROOT"
  else
    # --one-file-system: even a mount that escaped the loop above is never descended into
    $SUDO rm -rf --one-file-system "$TOP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

t0=$(date +%s)
say "debootstrap --variant=minbase bookworm from $MIRROR"
$SUDO debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >"$TOP/debootstrap.log" 2>&1 ||
  { tail -n 20 "$TOP/debootstrap.log" >&2; say "debootstrap failed"; exit 1; }

# The same package sources as this machine (updates and security included), so
# the fresh root installs what a fresh machine of this kind would.
if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1 || [ -s /etc/apt/sources.list ]; then
  $SUDO rm -f "$ROOT/etc/apt/sources.list"
  [ -s /etc/apt/sources.list ] && $SUDO cp /etc/apt/sources.list "$ROOT/etc/apt/sources.list"
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] && $SUDO cp "$f" "$ROOT/etc/apt/sources.list.d/"
  done
fi
[ -r /etc/resolv.conf ] && $SUDO cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
$SUDO mount -t proc proc "$ROOT/proc" || { say "cannot mount /proc"; exit 1; }
$SUDO mount --bind /dev "$ROOT/dev" || { say "cannot mount /dev"; exit 1; }

$SUDO git clone -q --no-hardlinks "$SRC" "$ROOT/src/wfsession" &&
  $SUDO git -C "$ROOT/src/wfsession" checkout -q --detach "$COMMIT" ||
  { say "cannot clone $COMMIT"; exit 1; }
say "root ready in $(( $(date +%s) - t0 )) s; commit $COMMIT"

# In the background and waited for: a TERM to this script then runs the
# cleanup at once instead of after the command inside has finished.
inside() {
  $SUDO chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive /bin/sh -c "$1" &
  wait $!
}

inside 'apt-get update -qq && apt-get install -y -qq --no-install-recommends make >/dev/null' ||
  { say "cannot install make"; exit 1; }
say "make demo"
inside 'cd /src/wfsession && make demo' || { say "make demo failed"; exit 1; }
say "make test"
inside 'cd /src/wfsession && make test' || { say "make test failed"; exit 1; }
say "passed in $(( $(date +%s) - t0 )) s"
