#!/usr/bin/env bash
# tools/check-memory.sh: run the specs against the C core under AddressSanitizer
# + UndefinedBehaviorSanitizer, then under valgrind's memcheck.
#
#   tools/check-memory.sh [asan|valgrind|all]      (default: all)
#
# asan      builds the core with -fsanitize=address,undefined into
#           build/asan/wfsession/core.so (the normal wfsession/core.so is
#           never touched) and runs the specs with the ASan runtime preloaded.
# valgrind  runs the same specs under memcheck against the normal build
#           (wfsession/core.so, built with `make all` first unless
#           WFS_NO_BUILD=1): definite leaks and invalid accesses fail.
#
# Both also run build/memcheck/exercise.lua (written by this script): the
# json/time/session/error/pager/curl paths, failure paths included, and a
# loopback HTTP server (python3, when present) for the transport.
#
# Specs: spec/1[0-3]*, spec/20*, spec/3* (no network); WFS_ALL=1 runs every
# spec (the 15/5x ones need the sandbox). Any sanitizer report, memcheck
# error or failing spec fails the run. Exit 0 only when everything passed.
#
# Environment: ASAN_CC (gcc: its libasan is the one preloaded), LUA (lua5.4),
# BUSTED_BIN (/usr/bin/busted), VALGRIND (valgrind), WFS_ALL, WFS_NO_BUILD,
# MAKE (make).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)

MODE=${1:-all}
case "$MODE" in asan|valgrind|all) ;; *) echo "usage: $0 [asan|valgrind|all]" >&2; exit 2;; esac

CC=${ASAN_CC:-gcc}
LUA=${LUA:-lua5.4}
BUSTED=${BUSTED_BIN:-/usr/bin/busted}
VALGRIND=${VALGRIND:-valgrind}
MAKE=${MAKE:-make}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
LUA_PC=${LUA_PC:-lua5.4}

ASAN_DIR=build/asan
MC_DIR=build/memcheck
mkdir -p "$ASAN_DIR/obj" "$ASAN_DIR/wfsession" "$MC_DIR"

if [ "${WFS_ALL:-0}" = 1 ]; then
  SPECS=(spec/*_spec.lua)
else
  # the offline specs, and wfs.multi under real event loops (sandbox on loopback)
  SPECS=(spec/1[0-3]*_spec.lua spec/2*_spec.lua spec/3*_spec.lua spec/56*_spec.lua)
fi

SUMMARY=()
FAILED=0
note() { SUMMARY+=("$1"); }
fail() { SUMMARY+=("$1"); FAILED=1; }
now() { date +%s; }

# ---------------------------------------------------------------------------
# The focused exercise script: every area of the core, failure paths first.
# ---------------------------------------------------------------------------
cat > "$MC_DIR/exercise.lua" <<'LUA'
-- Written by tools/check-memory.sh: drives every area of wfsession.core
-- through good and bad input so that ASan/valgrind see those paths. It checks
-- only what it must to stay on the intended path; the specs check behaviour.
local core = require "wfsession.core"
local port = tonumber(arg[1])          -- loopback test server, or nil
local n = 0
local function check(cond, what) n = n + 1; if not cond then error("exercise: " .. what, 2) end end
local function raises(f, ...) return not pcall(f, ...) end

-- json
for _, s in ipairs{ '{"a":null,"b":[1,null,2.5,3],"c":{"d":null}}', '[', '', 'null', '1e999',
                    string.rep('[', 1100) .. string.rep(']', 1100), '"\\u00e9"', '{"a":1}x' } do
  local v, msg = core.decode(s)
  check(v ~= nil or msg ~= nil or s == 'null', "decode " .. s:sub(1, 10))
end
check(core.encode({ a = 1, b = { 1, 2 } }) ~= nil, "encode")
check(core.encode({ [1] = 1, [1000] = 2 }) == nil, "encode sparse fails")
check(core.encode(function() end) == nil, "encode function fails")
check(raises(core.decode, 42), "decode 42 raises")

-- time
for _, s in ipairs{ "2024-02-29T12:00:00Z", "2024-02-30", "2024-01-01T00:00:00.123456789+05:30",
                    "x", "2024-01-01T00:00:00", string.rep("\xe2\x82\xac", 30), "" } do
  core.time(s)
end
check(core.time("1970-01-01T00:00:00Z") == 0, "time epoch")
check(raises(core.time, nil), "time nil raises")
check(raises(core.sleep, -1), "sleep -1 raises")
core.sleep(0)
check(type(core.now()) == "number", "now")

-- sessions
local raws = {
  complycube = core.decode('{"id":"c1","status":"complete","outcome":"clear","allRelatedChecks":[{"id":1},{"id":2}],"createdAt":"2024-01-01T00:00:00.000Z"}'),
  idnow = core.decode('{"sessionId":"i1","sessionStatus":"COMPLETED","outcome":"ACCEPTED","lastStep":{"name":"x"},"metadata":{"subjectId":"s"}}'),
  extend = core.decode('{"id":"e1","status":"NEEDS_REVIEW","workflow":{"id":"w","name":"n","version":"3"},"stepRuns":[{"a":1}]}'),
}
for p, raw in pairs(raws) do
  local s = core.session(p, raw)
  for _, k in ipairs{ "id", "workflow_id", "workflow_name", "workflow_version", "subject_id",
                      "subject_name", "created_at", "updated_at", "started_at", "completed_at",
                      "expires_at", "raw_status", "raw_outcome", "provider", "status", "outcome",
                      "raw", "unknown_key" } do
    local _ = s[k]
  end
  check(type(tostring(s)) == "string", "tostring")
  check(type(s:to_table()) == "table" and type(s:checks()) == "table", "to_table/checks")
  check(s:json() ~= nil, "json")
  s:is_terminal()
  check(raises(function() s.id = 1 end), "read-only")
  local empty = core.session(p, {})
  local _ = tostring(empty), empty:to_table(), empty:checks()
end
check(raises(core.session, "nope", {}), "bad provider raises")
check(raises(core.session, "extend", "x"), "bad raw raises")
core.normalize("complycube", "COMPLETE", "clear")
core.normalize("extend", string.rep("x", 100))

-- errors
for _, p in ipairs{ "complycube", "idnow", "extend" } do
  for _, st in ipairs{ 400, 401, 404, 429, 500, 302, 0, -5 } do
    core.http_error(p, st, { ["x-request-id"] = "r1" }, '{"type":"t","code":"C","message":"m\\nline","retryable":true}')
    core.http_error(p, st, nil, "<html>" .. string.rep("\xc3\xa9", 300))
    core.http_error(p, st, nil, '{"error":"invalid_client","error_description":"' .. string.rep("y", 400) .. '"}')
    core.http_error(p, st)
  end
  core.error(p, "network", "refused")
end
core.error(nil, "decode", nil, false)
check(raises(core.error, nil, "nope"), "bad kind raises")
check(raises(core.http_error, "idnow", "404"), "string status raises")

-- pager: every provider, a good page, a bad page, a resumed cursor, close
local pages = {
  complycube = '{"page":1,"pageSize":2,"totalItems":3,"pages":2,"items":[{"id":"a"},{"id":"b"}]}',
  idnow = '{"content":[{"sessionId":"a"},{"sessionId":"b"}],"page":{"number":0,"size":2,"totalElements":3,"totalPages":2}}',
  extend = '{"data":[{"id":"a"},{"id":"b"}],"nextPageToken":"tok1"}',
}
for p, body in pairs(pages) do
  local cfg = { provider = p, url = "https://example.invalid/list", query = "q|s", page_size = 2,
                params = { { "status", "x y&z" } }, headers = { Accept = "application/json" },
                drift = (p == "complycube") }
  local pg = core.pager(cfg)
  local function feed(pager, status, headers, text)
    local req = pager:request()
    local page, msg, err = pager:decode(status, headers, text)
    if not page then return nil, msg, err end
    return pager:feed(page, req)
  end
  check(pg:peek(body) == (p == "extend" and "tok1" or nil), "peek " .. p)
  check(feed(pg, 200, {}, body) == 2, "feed " .. p)
  check(pg:pop() ~= nil, "pop")
  local cur = pg:cursor()
  check(cur and core.cursor_decode(cur), "cursor")
  check(pg:pop() ~= nil and pg:pop() == nil, "pop rest")
  cfg.cursor = pg:cursor()
  local again = core.pager(cfg)
  check(feed(again, 200, {}, "not json") == nil, "bad body")
  again:drop({})
  check(feed(again, 200, {}, '{"items":5,"content":5,"data":5}') == nil, "bad envelope")
  again:drop({})
  check(feed(again, 200, {}, '[1,2,3]') == nil, "an array")
  again:drop({})
  check(feed(again, 503, { ["retry-after"] = "1" }, '{"message":"busy"}') == nil, "503")
  again:drop({})
  feed(again, 200, {}, '{"items":[1],"content":[1],"data":[1]}')
  local _ = again:total(), again:done(), again:pages(), tostring(again), again:available()
  again:close(); again:close()
  check(raises(again.request, again), "closed pager raises")
  check(raises(pg.feed, pg, {}, {}), "feed without request raises")
  pg:close()
end
check(core.cursor_decode("garbage") == nil and core.cursor_decode("a.12345678") == nil, "bad cursors")
check(raises(core.pager, { provider = "complycube", url = "u", query = "q", page_size = 2,
                           cursor = "bad.00000000" }), "bad cursor raises")
check(raises(core.pager, { provider = "complycube", url = "u", query = "q", page_size = 0 }), "page_size raises")
do  -- params that are not strings must raise, not read freed memory
  local pg = core.pager{ provider = "extend", url = "u", query = "q", page_size = 5,
                         params = { { "limit", 10 }, { 7, "x" } } }
  local ok = pcall(pg.request, pg)
  collectgarbage()
  pg:close()
  check(not ok, "non-string params raise")
end

-- curl: argument errors, refused connections, use after close
check(raises(core.easy, { nope = 1 }), "easy unknown option")
check(raises(core.easy, { timeout = 0 / 0 }), "easy nan")
local e = core.easy{ proxy = "", timeout = 5, connect_timeout = 2, user_agent = "memcheck" }
check(raises(e.perform, e, { url = "ftp://127.0.0.1/" }), "ftp url raises")
check(raises(e.perform, e, { url = "http://127.0.0.1/\r\n" }), "CRLF url raises")
check(raises(e.perform, e, { url = "http://127.0.0.1:1/", headers = { ["X-A"] = "a\nb" } }), "CRLF header raises")
check(raises(e.perform, e, { url = "http://127.0.0.1:1/", headers = { ["bad name"] = "v" } }), "bad header name raises")
check(raises(e.perform, e, { url = "http://127.0.0.1:1/", body = "x" }), "GET with body raises")
local st, msg, err = e:perform{ url = "http://127.0.0.1:1/", headers = { A = "1", B = false, C = "" } }
check(st == nil and type(msg) == "string" and err.kind == "network", "refused: " .. tostring(msg))
if port then
  local base = "http://127.0.0.1:" .. port
  local s, h, b = e:perform{ url = base .. "/ok", headers = { ["X-Test"] = "1", Expect = "" } }
  check(s == 200 and h["x-multi"] == "a, b" and h["x-folded"] == "one two" and #b == 5000, "ok: " .. tostring(h))
  s, h, b = e:perform{ url = base .. "/gzip" }
  check(s == 200 and b == string.rep("gzip!", 1000), "gzip")
  s, h = e:perform{ method = "POST", url = base .. "/post", body = "a\0b", timeout = 5 }
  check(s == 201, "post")
  s, h, b = e:perform{ url = base .. "/status404" }
  check(s == 404, "404")
  local small = core.easy{ proxy = "", max_body = 100, timeout = 5 }
  s, msg, err = small:perform{ url = base .. "/ok" }
  check(s == nil and msg:find("max_body", 1, true), "max_body: " .. tostring(msg))
  -- libcurl 7.88 stops at 300 KiB of headers itself, before the core's own 1 MiB cap
  s, msg, err = small:perform{ url = base .. "/bighead" }
  check(s == nil and err.kind == "network", "big headers: " .. tostring(msg))
  s, msg, err = small:perform{ url = base .. "/slow", timeout = 0.2 }
  check(s == nil and err.kind == "timeout", "timeout: " .. tostring(msg))
  small:close()
end
e:close(); e:close()
check(raises(e.perform, e, { url = "http://127.0.0.1:1/" }), "closed easy raises")
check(tostring(e) == "wfsession.easy (closed)", "closed tostring")

-- multi: bad requests raise before anything starts, refused and cancelled
-- transfers, answers handed over in any order, close with transfers in flight
local mu = core.multi()
check(raises(mu.add, mu, { url = "ftp://127.0.0.1/" }), "multi ftp raises")
check(raises(mu.add, mu, { url = "http://127.0.0.1:1/", headers = { ["X"] = "a\r\nb" } }), "multi CRLF raises")
check(raises(mu.add, mu, { url = "http://127.0.0.1:1/" }, { timeout = -1 }), "multi bad option raises")
local refused = mu:add({ url = "http://127.0.0.1:1/" }, { proxy = "", connect_timeout = 2 })
local function drain_multi(m, want)
  local got = {}
  for _ = 1, 400 do
    m:wait(0.05)
    while true do
      local r = table.pack(m:result())
      if r.n == 0 then break end
      got[r[1]] = r
    end
    local k = 0
    for _ in pairs(got) do k = k + 1 end
    if k >= want then break end
  end
  return got
end
local got = drain_multi(mu, 1)
check(got[refused] and got[refused][2] == nil and got[refused][4].kind == "network", "multi refused")
check(mu:timeout() == nil and select(1, mu:count()) == 0, "multi idle")
if port then
  local base = "http://127.0.0.1:" .. port
  local ids = {}
  for i = 1, 6 do ids[i] = mu:add({ url = base .. (i % 2 == 0 and "/ok" or "/gzip") }, { proxy = "", timeout = 5 }) end
  local slow = mu:add({ url = base .. "/slow" }, { proxy = "", timeout = 5 })
  check(mu:cancel(slow) and not mu:cancel(slow), "multi cancel")
  got = drain_multi(mu, 6)
  for i = 1, 6 do check(got[ids[i]] and got[ids[i]][2] == 200, "multi answer " .. i) end
  mu:add({ method = "POST", url = base .. "/post", body = "a\0b" }, { proxy = "", timeout = 5 })
  mu:add({ url = base .. "/slow" }, { proxy = "", timeout = 5 })
  mu:step()
end
mu:close(); mu:close()   -- with transfers in flight
check(raises(mu.add, mu, { url = "http://127.0.0.1:1/" }), "closed multi raises")
check(tostring(mu) == "wfsession.curlmulti (closed)", "closed multi tostring")
collectgarbage()
print(string.format("exercise: %d checks passed%s", n, port and " (with loopback HTTP)" or " (no loopback HTTP: python3 missing)"))
LUA

cat > "$MC_DIR/server.py" <<'PY'
# Loopback-only HTTP server for exercise.lua; stops by itself after 120 s.
import gzip, http.server, sys, threading, time
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def send(self, code, body, extra=()):
        self.send_response(code)
        for k, v in extra: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.path == "/ok":
            self.send_response(200)
            self.send_header("X-Multi", "a"); self.send_header("X-Multi", "b")
            self._headers_buffer.append(b"X-Folded: one\r\n two\r\n")
            self.send_header("Content-Length", "5000"); self.end_headers()
            self.wfile.write(b"x" * 5000)
        elif self.path == "/gzip":
            self.send(200, gzip.compress(b"gzip!" * 1000), [("Content-Encoding", "gzip")])
        elif self.path == "/bighead":
            self.send_response(200)
            for i in range(1100): self.send_header("X-Big-%d" % i, "v" * 1000)
            self.send_header("Content-Length", "0"); self.end_headers()
        elif self.path == "/slow":
            time.sleep(1.5); self.send(200, b"late")
        else:
            self.send(404, b'{"message":"no"}')
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0")); self.rfile.read(n)
        self.send(201, b"created")
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
print(srv.server_address[1], flush=True)
threading.Timer(120, srv.shutdown).start()
srv.serve_forever()
PY

# Start the loopback server (if python3 is there); sets PORT, SERVER_PID.
PORT=""
SERVER_PID=""
start_server() {
  PORT=""
  SERVER_PID=""
  command -v python3 >/dev/null 2>&1 || return 0
  python3 "$MC_DIR/server.py" > "$MC_DIR/server.port" 2>/dev/null &
  SERVER_PID=$!
  for _ in $(seq 1 50); do
    PORT=$(head -n 1 "$MC_DIR/server.port" 2>/dev/null)
    [ -n "$PORT" ] && return 0
    sleep 0.1
  done
  stop_server
}
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  SERVER_PID=""
}
trap stop_server EXIT

# ---------------------------------------------------------------------------
# ASan + UBSan
# ---------------------------------------------------------------------------
run_asan() {
  local t0 lua_cflags curl_cflags curl_libs src obj objs=() asan_rt logdir rc log
  t0=$(now)
  lua_cflags=${LUA_CFLAGS:-$($PKG_CONFIG --cflags "$LUA_PC" 2>/dev/null)}
  curl_cflags=$($PKG_CONFIG --cflags libcurl 2>/dev/null)
  curl_libs=$($PKG_CONFIG --libs libcurl 2>/dev/null || echo -lcurl)
  local san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
  echo "== asan: building $ASAN_DIR/wfsession/core.so ($CC $san)"
  for src in csrc/*.c; do
    obj="$ASAN_DIR/obj/$(basename "${src%.c}").o"
    # shellcheck disable=SC2086
    $CC -O1 -g $san -std=c99 -Wall -Wextra -Wno-unused-parameter -fPIC \
        -D_POSIX_C_SOURCE=200809L $lua_cflags $curl_cflags -c -o "$obj" "$src" \
      || { fail "asan: FAILED to compile $src"; return 1; }
    objs+=("$obj")
  done
  # shellcheck disable=SC2086
  $CC -shared $san -o "$ASAN_DIR/wfsession/core.so" "${objs[@]}" $curl_libs \
    || { fail "asan: FAILED to link"; return 1; }

  asan_rt=$($CC -print-file-name=libasan.so)
  if [ ! -e "$asan_rt" ]; then
    fail "asan: no ASan runtime ($CC -print-file-name=libasan.so gave '$asan_rt')"
    return 1
  fi
  logdir="$ASAN_DIR/log"
  rm -rf "$logdir"
  mkdir -p "$logdir"
  # Sanitizer reports go to files, so that one from a child process counts too.
  local asan_opts="detect_leaks=0:halt_on_error=1:abort_on_error=0:log_path=$ROOT/$logdir/asan:strict_string_checks=1:check_initialization_order=1"
  local ubsan_opts="halt_on_error=1:print_stacktrace=1:log_path=$ROOT/$logdir/ubsan"
  # LUA_INIT: package.preload makes every `require "wfsession.core"` take the
  # ASan build, whatever cpath busted sets up; and the commands Lua starts
  # (the sandbox's nginx, curl, pgrep...) run without the preloaded runtime,
  # which procps tools hang under, and so with the normal build.
  cat > "$ASAN_DIR/init.lua" <<INIT
package.preload["wfsession.core"] =
  assert(package.loadlib("$ROOT/$ASAN_DIR/wfsession/core.so", "luaopen_wfsession_core"))
local function q(s) return "'" .. s:gsub("'", "'\\\\''") .. "'" end
local plain = "env -u LD_PRELOAD -u LUA_INIT -u ASAN_OPTIONS -u UBSAN_OPTIONS /bin/sh -c "
local popen, execute = io.popen, os.execute
io.popen = function(cmd, ...) return popen(plain .. q(cmd), ...) end
os.execute = function(cmd) if cmd == nil then return execute() end return execute(plain .. q(cmd)) end
INIT
  local init="@$ROOT/$ASAN_DIR/init.lua"
  log="$ASAN_DIR/busted.log"
  echo "== asan: ${#SPECS[@]} spec files (log: $log)"
  env LD_PRELOAD="$asan_rt" ASAN_OPTIONS="$asan_opts" UBSAN_OPTIONS="$ubsan_opts" LUA_INIT="$init" \
    "$LUA" "$BUSTED" -o utfTerminal "${SPECS[@]}" > "$log" 2>&1
  rc=$?
  tail -n 3 "$log" | grep -E 'successes|error' || tail -n 5 "$log"
  local counts
  counts=$(grep -E '^[0-9]+ successes? / ' "$log" | tail -n 1)

  start_server
  echo "== asan: exercise.lua${PORT:+ (loopback server on port $PORT)}"
  env LD_PRELOAD="$asan_rt" ASAN_OPTIONS="$asan_opts" UBSAN_OPTIONS="$ubsan_opts" LUA_INIT="$init" \
    LUA_PATH="./lua/?.lua;./lua/?/init.lua;;" \
    "$LUA" "$MC_DIR/exercise.lua" ${PORT:+"$PORT"} > "$ASAN_DIR/exercise.log" 2>&1
  local xrc=$?
  stop_server
  cat "$ASAN_DIR/exercise.log"

  local reports
  reports=$(find "$logdir" -type f | sort)
  if [ -n "$reports" ]; then
    echo "== asan: sanitizer reports:"
    for f in $reports; do echo "--- $f"; head -n 60 "$f"; done
    fail "asan: FAILED, $(echo "$reports" | wc -l) sanitizer report(s) in $logdir ($(( $(now) - t0 ))s)"
  elif [ "$rc" -ne 0 ] || [ "$xrc" -ne 0 ]; then
    fail "asan: FAILED, busted exit $rc (${counts:-no counts}), exercise exit $xrc ($(( $(now) - t0 ))s)"
  else
    note "asan: ok, ${#SPECS[@]} spec files (${counts:-?}) + exercise.lua, no sanitizer report ($(( $(now) - t0 ))s)"
  fi
}

# ---------------------------------------------------------------------------
# valgrind memcheck
# ---------------------------------------------------------------------------
run_valgrind() {
  local t0 vg rc log xrc
  t0=$(now)
  if ! command -v "$VALGRIND" >/dev/null 2>&1; then
    fail "valgrind: FAILED, '$VALGRIND' not installed (apt-get install valgrind)"
    return 1
  fi
  if [ "${WFS_NO_BUILD:-0}" != 1 ]; then
    "$MAKE" --no-print-directory all >/dev/null || { fail "valgrind: FAILED, make all failed"; return 1; }
  fi
  [ -f wfsession/core.so ] || { fail "valgrind: FAILED, no wfsession/core.so"; return 1; }
  vg=("$VALGRIND" -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
      --show-leak-kinds=definite --num-callers=30)
  log="$MC_DIR/busted.log"
  echo "== valgrind: ${#SPECS[@]} spec files against wfsession/core.so (log: $log)"
  # memcheck runs code some 30 times slower: responsiveness specs widen their bounds
  WFS_TIME_SCALE=25 "${vg[@]}" "$LUA" "$BUSTED" -o utfTerminal "${SPECS[@]}" > "$log" 2>&1
  rc=$?
  tail -n 3 "$log" | grep -E 'successes|error' || tail -n 5 "$log"
  local counts
  counts=$(grep -E '^[0-9]+ successes? / ' "$log" | tail -n 1)

  start_server
  echo "== valgrind: exercise.lua${PORT:+ (loopback server on port $PORT)}"
  LUA_PATH="./lua/?.lua;./lua/?/init.lua;;" LUA_CPATH="./?.so;;" \
    "${vg[@]}" "$LUA" "$MC_DIR/exercise.lua" ${PORT:+"$PORT"} > "$MC_DIR/exercise.log" 2>&1
  xrc=$?
  stop_server
  cat "$MC_DIR/exercise.log"

  if [ "$rc" -eq 99 ] || [ "$xrc" -eq 99 ] || grep -q '^==[0-9]*==' "$log" "$MC_DIR/exercise.log"; then
    grep -h -A 30 '^==[0-9]*==' "$log" "$MC_DIR/exercise.log" | head -n 120
    fail "valgrind: FAILED, memcheck errors (busted exit $rc, exercise exit $xrc) ($(( $(now) - t0 ))s)"
  elif [ "$rc" -ne 0 ] || [ "$xrc" -ne 0 ]; then
    fail "valgrind: FAILED, busted exit $rc (${counts:-no counts}), exercise exit $xrc ($(( $(now) - t0 ))s)"
  else
    note "valgrind: ok, ${#SPECS[@]} spec files (${counts:-?}) + exercise.lua, no memcheck error ($(( $(now) - t0 ))s)"
  fi
}

case "$MODE" in
  asan) run_asan ;;
  valgrind) run_valgrind ;;
  all) run_asan; run_valgrind ;;
esac

echo "== check-memory summary"
for s in "${SUMMARY[@]}"; do echo "  $s"; done
exit "$FAILED"
