--- Shared spec helpers: fixtures, fake transports for pure pager tests, and
-- clients wired to the sandbox (which tests talk to over loopback HTTP).
local helpers = {}

local core_ok, core = pcall(require, "wfsession.core")

--- Run a shell command; returns its stdout and exit status on every Lua
-- (5.1's os.execute and pipe close give no exit status of their own).
function helpers.shell(cmd)
  local out = os.tmpname()
  local ok, _, code = os.execute("(" .. cmd .. ") >" .. out)
  if type(ok) == "number" then code = ok % 256 == 0 and ok / 256 or 128 + ok % 256 end
  if ok == true then code = 0 end
  local f = io.open(out, "rb")
  local text = f and f:read("*a") or ""
  if f then f:close() end
  os.remove(out)
  return text, code
end

--- The whole of a file, or nil.
helpers.slurp = require("wfsession.util").read_file

--- Run a shell command: true when it exited 0 (on every Lua).
helpers.run = require("wfsession.sandbox.nginx").run

--- A shell command's stdout.
function helpers.capture(cmd)
  return (helpers.shell(cmd))
end

--- Contents of spec/fixtures/<name>.
function helpers.fixture(name)
  return assert(helpers.slurp("spec/fixtures/" .. name), "no fixture " .. name)
end

--- A fixture decoded through the core (nulls removed, integers kept).
function helpers.decoded(name)
  assert(core_ok, "wfsession.core is not built")
  return assert(core.decode(helpers.fixture(name)))
end

--- Parse the query string of a url into a table.
function helpers.query_of(url)
  local q = {}
  local qs = url:match("%?(.*)$") or ""
  for k, v in qs:gmatch("([^&=]+)=([^&]*)") do
    q[k] = v:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
  end
  return q
end

--- A transport that answers from a function and records every request.
-- `serve(req, n)` returns status, headers, body (or nil, msg, err).
function helpers.recording(serve)
  local log = {}
  local function transport(req)
    log[#log + 1] = req
    return serve(req, #log)
  end
  return transport, log
end

local function json_string(s) return '"' .. s:gsub('[%c"\\]', function(c)
  return string.format("\\u%04x", c:byte())
end) .. '"' end

--- An in-memory ComplyCube list endpoint over `items` (newest first).
-- `items` is an array of ids; `state.insert(k)` prepends k new sessions.
function helpers.fake_complycube(n)
  local ids = {}
  for i = n, 1, -1 do ids[#ids + 1] = string.format("%024x", i) end
  local state = { ids = ids, next_id = n + 1 }
  function state.insert(k)
    for _ = 1, k do
      table.insert(ids, 1, string.format("%024x", state.next_id))
      state.next_id = state.next_id + 1
    end
  end
  function state.serve(req)
    local q = helpers.query_of(req.url)
    local page, size = tonumber(q.page), tonumber(q.pageSize)
    local parts = {}
    for i = (page - 1) * size + 1, math.min(page * size, #ids) do
      parts[#parts + 1] = '{"id":' .. json_string(ids[i]) .. ',"status":"complete","outcome":"clear",'
        .. '"createdAt":"2025-01-01T00:00:00.000Z","workflowVersion":1}'
    end
    local pages = math.ceil(#ids / size)
    return 200, {}, string.format('{"page":%d,"pageSize":%d,"totalItems":%d,"pages":%d,"items":[%s]}',
      page, size, #ids, pages, table.concat(parts, ","))
  end
  return state
end

--- An in-memory Extend list endpoint with opaque tokens (the offset, disguised).
function helpers.fake_extend(n, opts)
  opts = opts or {}
  local state = {}
  function state.serve(req)
    local q = helpers.query_of(req.url)
    local size = tonumber(q.maxPageSize)
    local from = q.nextPageToken and tonumber(q.nextPageToken:match("^tok(%d+)$") or "0") or 0
    local parts = {}
    for i = from + 1, math.min(from + size, n) do
      parts[#parts + 1] = string.format('{"object":"workflow_run","id":"workflow_run_%d","status":"PROCESSED",'
        .. '"createdAt":"2025-01-01T00:00:00Z"}', i)
    end
    local next_tok = from + size < n and ("tok" .. (from + size)) or nil
    if opts.repeat_token then next_tok = "tokloop" end
    local legacy = req.headers["x-extend-api-version"] == "2025-04-21"
    local body = legacy and '{"success":true,"workflowRuns":[' or '{"object":"list","data":['
    body = body .. table.concat(parts, ",") .. "]"
    if next_tok then body = body .. ',"nextPageToken":"' .. next_tok .. '"' end
    return 200, {}, body .. "}"
  end
  return state
end

--- Ids of an iterator or pager, in order.
function helpers.ids(iter)
  local out = {}
  for s in iter do out[#out + 1] = s.id end
  return out
end

--- Every id a pager yields, or nil, msg, err when it fails. Through
-- `pager:next()`, not a for loop: on PUC Lua 5.1 a task of wfs.multi cannot
-- yield from inside the pager's `__call`.
function helpers.drain(pager)
  local ids = {}
  while true do
    local s, msg, err = pager:next()
    if not s then
      if msg then return nil, msg, err end
      return ids
    end
    ids[#ids + 1] = s.id
  end
end

--- True when the array has no repeated value.
function helpers.unique(list)
  local seen = {}
  for _, v in ipairs(list) do
    if seen[v] then return false end
    seen[v] = true
  end
  return true
end

--- Start the sandbox (nginx on loopback) for a spec file.
function helpers.sandbox(opts)
  return require("wfsession.sandbox").start(opts)
end

--- A client of `provider` wired to a running sandbox; `extra` overrides options.
function helpers.client(sb, provider, extra)
  local wfs = require "wfsession"
  local o = sb:options(provider, { timeout = 10 })
  for k, v in pairs(extra or {}) do
    if v == helpers.NONE then o[k] = nil else o[k] = v end
  end
  return wfs.new(o)
end

--- A ComplyCube client over a fake `transport`, with no retries and no rate
-- budget, for pager and page-check specs; `extra` overrides options.
function helpers.cc_client(transport, extra)
  local o = { provider = "complycube", api_key = "test_key_0123", transport = transport, retry = false,
              rate_limit = false }
  for k, v in pairs(extra or {}) do o[k] = v end
  return require("wfsession").new(o)
end

--- A redis-server on a free loopback port (no persistence), for budgets
-- shared across processes. It is stopped by `:stop()`, and by a watcher
-- shell when this process ends first (a failed or interrupted run).
-- @return `{ port, url, stop }` | nil, why
function helpers.redis()
  local nginx = require "wfsession.sandbox.nginx"
  local exe = (nginx.capture("command -v redis-server 2>/dev/null") or ""):match("%S+")
  if not exe then return nil, "redis-server is not installed" end
  local dir = (nginx.capture("mktemp -d /tmp/wfsession-redis.XXXXXX") or ""):match("%S+")
  if not dir then return nil, "no temporary directory" end
  local q = nginx.shell_quote
  for attempt = 1, 10 do
    local port = 20000 + (nginx.own_pid() * 7919 + attempt * 104729 + os.time()) % 12000
    os.remove(dir .. "/pid")
    nginx.run(("sh -c '%s --port %d --bind 127.0.0.1 --save \"\" --appendonly no --dir %s --daemonize no "
      .. ">%s/log 2>&1 & r=$!; echo $r >%s/pid; "
      .. "while kill -0 %d 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 0.2; done; kill $r 2>/dev/null' "
      .. ">/dev/null 2>&1 &"):format(exe, port, q(dir), q(dir), q(dir), nginx.own_pid()))
    local pid, log
    for _ = 1, 200 do
      pid = (nginx.read_file(dir .. "/pid") or ""):match("%d+")
      log = nginx.read_file(dir .. "/log") or ""
      if log:find("Ready to accept connections", 1, true) or log:find("in use", 1, true) then break end
      nginx.sleep(0.02)
    end
    if pid and log:find("Ready to accept connections", 1, true) then
      local r = { port = port, url = ("redis://127.0.0.1:%d/0"):format(port), pid = pid }
      function r.stop()
        if r.stopped then return end
        r.stopped = true
        nginx.run("kill " .. pid .. " 2>/dev/null")
        for _ = 1, 100 do
          if not nginx.alive(pid) then break end
          nginx.sleep(0.02)
        end
        nginx.run("rm -rf " .. q(dir))
      end
      return r
    end
    if pid then nginx.run("kill " .. pid .. " 2>/dev/null") end
  end
  nginx.run("rm -rf " .. q(dir))
  return nil, "redis-server did not start: " .. (nginx.read_file(dir .. "/log") or "")
end

--- How much slower than normal the specs run: a bound on time in a
-- responsiveness spec is multiplied by it (`WFS_TIME_SCALE`, set by
-- `make check-memory` for valgrind).
helpers.time_scale = tonumber(os.getenv("WFS_TIME_SCALE") or "") or 1

--- The interpreter running the suite (`make LUA=luajit test` runs busted
-- under luajit), for the specs that start Lua processes of their own.
helpers.LUA = arg and arg[-1] or "lua5.4"

--- A shell prefix that makes such a process load this tree's modules and core.
helpers.IN_TREE = 'LUA_PATH="./lua/?.lua;./lua/?/init.lua;;" LUA_CPATH="./?.so;;" '

--- Marker to remove an option in helpers.client's `extra`.
helpers.NONE = setmetatable({}, { __tostring = function() return "NONE" end })

return helpers
