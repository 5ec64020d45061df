#!/usr/bin/env bash
# fuzz/run.sh: build the libFuzzer harnesses of wfsession.core and run each
# for a bounded time.
#
#   fuzz/run.sh [build|run|all] [harness...]     (default: all, every harness)
#
# Harnesses (fuzz/fuzz_<name>.c, Lua half in fuzz/driver.lua):
#   session  wfs_json_decode + wfs_session_push, every field, tostring, to_table, json
#   pager    core.pager of every provider: request, feed(200, {}, input), pop, cursor
#   cursor   core.cursor_decode(input); the input as a checksummed cursor, resumed
#   time     wfs_time_parse (checked against timegm) and core.time
#   error    wfs_error_http and wfs_error_push
#   headers  the libcurl transport's response-header parser and wfs_transfer_pushfail
#   transfer a transfer's answer cut in arbitrary pieces through libcurl's callbacks
#   scan     the token scan of cursor pages, checked against the decoded object
#   pagecheck page answers, consistent or not, fed with requests in flight
#
# Environment:
#   FUZZ_SECONDS  total run time, split evenly across the harnesses (default 60)
#   FUZZ_CC       clang (default clang); installed with apt-get when missing
#   FUZZ_ARGS     extra libFuzzer flags, e.g. "-jobs=2 -workers=2"
#   FUZZ_OUT      output directory (default build/fuzz)
#   WFZ_GC=stress    keep a GC cycle always running (slower, finds more use-after-free)
#   WFZ_GC=emergency force a full collection at one allocation in WFZ_GC_EVERY (101)
#
# Binaries, the growing corpus and crash reproducers live in build/fuzz/. A
# crash, leak, timeout or out-of-memory fails the run; its input is left as
# build/fuzz/artifacts/<harness>/crash-<sha1> (and so on); reproduce it with
#   build/fuzz/fuzz_<harness> build/fuzz/artifacts/<harness>/crash-<sha1>
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)

MODE=${1:-all}
case "$MODE" in build|run|all) shift ;; *) MODE=all ;; esac
ALL_HARNESSES=(session pager cursor time error headers transfer scan pagecheck)
if [ $# -gt 0 ]; then HARNESSES=("$@"); else HARNESSES=("${ALL_HARNESSES[@]}"); fi

FUZZ_CC=${FUZZ_CC:-clang}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
LUA_PC=${LUA_PC:-lua5.4}
OUT=${FUZZ_OUT:-build/fuzz}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"

# ---------------------------------------------------------------------------
# Toolchain: clang with the libFuzzer runtime (Debian: clang, libclang-rt-14-dev)
# ---------------------------------------------------------------------------
have_libfuzzer() {
  command -v "$FUZZ_CC" >/dev/null 2>&1 || return 1
  mkdir -p "$OUT"
  printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' \
    > "$OUT/probe.c"
  "$FUZZ_CC" -fsanitize=fuzzer,address -o "$OUT/probe" "$OUT/probe.c" >/dev/null 2>&1
}

ensure_toolchain() {
  have_libfuzzer && return 0
  echo "fuzz: clang with libFuzzer missing: installing clang and libclang-rt-dev with apt-get" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      clang libclang-rt-dev >/dev/null
  have_libfuzzer || { echo "fuzz: still no working '$FUZZ_CC -fsanitize=fuzzer'" >&2; return 1; }
}

# ---------------------------------------------------------------------------
# Build: the csrc objects and wfz.c once, one binary per harness
# ---------------------------------------------------------------------------
build() {
  local lua_cflags lua_libs curl_cflags curl_libs src obj objs=() h
  ensure_toolchain || return 1
  lua_cflags=${LUA_CFLAGS:-$($PKG_CONFIG --cflags "$LUA_PC")}
  lua_libs=$($PKG_CONFIG --libs "$LUA_PC" 2>/dev/null || echo -llua5.4)
  curl_cflags=$($PKG_CONFIG --cflags libcurl 2>/dev/null)
  curl_libs=$($PKG_CONFIG --libs libcurl 2>/dev/null || echo -lcurl)
  mkdir -p "$OUT/obj"
  local cflags="-g -O1 -std=c99 -Wall -Wextra -Wno-unused-parameter -D_POSIX_C_SOURCE=200809L -fsanitize=fuzzer-no-link $SAN $lua_cflags $curl_cflags -Icsrc"
  for src in csrc/*.c fuzz/wfz.c; do
    obj="$OUT/obj/$(basename "${src%.c}").o"
    # shellcheck disable=SC2086
    "$FUZZ_CC" $cflags -DWFZ_DRIVER="\"$ROOT/fuzz/driver.lua\"" -c -o "$obj" "$src" || return 1
    objs+=("$obj")
  done
  for h in "${HARNESSES[@]}"; do
    [ -f "fuzz/fuzz_$h.c" ] || { echo "fuzz: no harness fuzz/fuzz_$h.c" >&2; return 1; }
    # fuzz_headers.c and fuzz_transfer.c include wfs_transfer.c itself (to reach its statics)
    local link=() o
    for o in "${objs[@]}"; do
      { [ "$h" = headers ] || [ "$h" = transfer ]; } && [ "$o" = "$OUT/obj/wfs_transfer.o" ] && continue
      link+=("$o")
    done
    # shellcheck disable=SC2086
    "$FUZZ_CC" $cflags -c -o "$OUT/obj/fuzz_$h.o" "fuzz/fuzz_$h.c" || return 1
    # shellcheck disable=SC2086
    "$FUZZ_CC" -fsanitize=fuzzer $SAN -o "$OUT/fuzz_$h" "$OUT/obj/fuzz_$h.o" "${link[@]}" \
      $lua_libs $curl_libs -lm || return 1
  done
  echo "fuzz: built ${HARNESSES[*]} in $OUT/"
}

# ---------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------
seeds_of() {
  case "$1" in
    session) echo spec/fixtures ;;
    pager) echo spec/fixtures fuzz/seeds/pager ;;
    *) echo "fuzz/seeds/$1" ;;
  esac
}

run() {
  local n=${#HARNESSES[@]} per h rc failed=0 lines=()
  per=$(( FUZZ_SECONDS / n ))
  [ "$per" -lt 5 ] && per=5
  for h in "${HARNESSES[@]}"; do
    local bin="$OUT/fuzz_$h" corpus="$OUT/corpus/$h" art="$OUT/artifacts/$h/" log="$OUT/$h.log"
    [ -x "$bin" ] || { echo "fuzz: $bin missing: run '$0 build' first" >&2; return 1; }
    mkdir -p "$corpus" "$art"
    local before
    before=$(find "$art" -type f | wc -l)
    echo "== fuzz $h: ${per}s ($log)"
    # shellcheck disable=SC2046,SC2086
    "$bin" -max_total_time="$per" -max_len=65536 -rss_limit_mb=2048 -timeout=25 \
      -dict=fuzz/wfs.dict -artifact_prefix="$art" -print_final_stats=1 ${FUZZ_ARGS:-} \
      "$corpus" $(seeds_of "$h") > "$log" 2>&1
    rc=$?
    local execs speed cov arts
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1)
    speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1)
    arts=$(find "$art" -type f | wc -l)
    if [ "$rc" -ne 0 ] || [ "$arts" -gt "$before" ]; then
      failed=1
      grep -E 'ERROR: |runtime error|wfz[: ]|SUMMARY|Test unit written|panic' "$log" | head -n 12
      lines+=("$h: FAILED (exit $rc) after ${execs:-?} execs; reproducer(s) in $art; log $log")
    else
      lines+=("$h: ok, ${per}s, ${execs:-?} execs, ${speed:-?} exec/s, ${cov:-?}, corpus $(find "$corpus" -type f | wc -l) files")
    fi
  done
  echo "== fuzz summary"
  for l in "${lines[@]}"; do echo "  $l"; done
  return "$failed"
}

case "$MODE" in
  build) build ;;
  run) run ;;
  all) build && run ;;
esac
