-- fuzz/driver.lua: the Lua half of the libFuzzer harnesses (fuzz/fuzz_*.c).
--
-- Each function gets one fuzzer input and drives wfsession.core with it. A
-- raise that escapes a function is a finding: the C harness aborts, so that
-- libFuzzer keeps the input. Calls that may raise by contract (creating a
-- pager from a cursor the fuzzer made up) are wrapped in pcall here; a
-- server's answer, a session's fields and a cursor the core itself made must
-- never raise.

local core = require "wfsession.core"

local D = {}

local PROVIDERS = { "complycube", "idnow", "extend" }
local FIELDS = { "id", "workflow_id", "workflow_name", "workflow_version", "subject_id",
                 "subject_name", "created_at", "updated_at", "started_at", "completed_at",
                 "expires_at", "raw_status", "raw_outcome", "provider", "status", "outcome", "raw" }
-- keys that read a normalized field or a method instead of raw[key]
local SHADOWED = { is_terminal = true, checks = true, to_table = true, json = true }
for _, k in ipairs(FIELDS) do SHADOWED[k] = true end
local STATUS, OUTCOME = {}, {}
for _, s in ipairs(core.STATUSES) do STATUS[s] = true end
for _, s in ipairs(core.OUTCOMES) do OUTCOME[s] = true end

local function fail(fmt, ...) error(string.format("invariant: " .. fmt, ...), 2) end

--- Read everything a session offers; check what the contract promises.
-- `light`: only the normalized fields and tostring (the pager harness, where
-- the session harness has done the rest).
local function exercise_session(s, provider, light)
  for _, k in ipairs(FIELDS) do local _ = s[k] end
  if s.provider ~= provider then fail("provider %s ~= %s", tostring(s.provider), provider) end
  local st, oc = s.status, s.outcome
  if st ~= nil and not STATUS[st] then fail("status %q", tostring(st)) end
  if oc ~= nil and not OUTCOME[oc] then fail("outcome %q", tostring(oc)) end
  if light then
    if type(tostring(s)) ~= "string" then fail("tostring") end
    return
  end
  local raw = s.raw
  if type(raw) ~= "table" then fail("raw is a %s", type(raw)) end
  -- any other key reads raw[key]
  local seen = 0
  for k, v in pairs(raw) do
    seen = seen + 1
    if seen > 64 then break end
    if not SHADOWED[k] and s[k] ~= v then fail("s[%q] is not raw[%q]", tostring(k), tostring(k)) end
  end
  local _, _, _ = s[1], s[true], s[0.5]
  local str = tostring(s)
  if type(str) ~= "string" or not str:find("^wfsession%.session: ") then fail("tostring %q", tostring(str)) end
  local t = s:to_table()
  for _, k in ipairs(FIELDS) do
    if t[k] ~= s[k] then fail("to_table().%s differs", k) end
  end
  local checks = s:checks()
  if type(checks) ~= "table" then fail("checks") end
  for i = 1, #checks do if checks[i] == nil then fail("checks has a hole") end end
  local j, msg = s:json()
  if j ~= nil then
    if type(j) ~= "string" then fail("json type") end
    local back, why = core.decode(j)
    if back == nil and j ~= "null" then fail("json does not decode: %s", tostring(why)) end
  elseif type(msg) ~= "string" then
    fail("json failed without a message")
  end
  if type(s:is_terminal()) ~= "boolean" then fail("is_terminal") end
  if pcall(function() s.id = 1 end) then fail("a session accepted an assignment") end
end

--- (a) the decoded value and the sessions the C side made from it.
-- `v` is what wfs_json_decode gave; `...` are sessions, one per provider.
function D.session(v, ...)
  for i = 1, select("#", ...) do
    exercise_session((select(i, ...)), PROVIDERS[i])
  end
  -- the same text through the Lua API, then an encode/decode round trip
  local enc, msg = core.encode(v)
  if enc == nil then
    if type(msg) ~= "string" then fail("encode failed without a message") end
  else
    local back, why = core.decode(enc)
    if back == nil and enc ~= "null" then fail("encode gave text decode refuses: %s", tostring(why)) end
  end
  if type(v) ~= "table" then return end
  -- list envelopes: every element that is an object becomes a session too
  for _, key in ipairs{ "items", "content", "data", "workflowRuns", "allRelatedChecks", "stepRuns" } do
    local a = rawget(v, key)
    if type(a) == "table" then
      for i = 1, math.min(#a, 16) do
        local e = rawget(a, i)
        if type(e) == "table" then
          for _, p in ipairs(PROVIDERS) do exercise_session(core.session(p, e), p) end
        end
      end
    end
  end
  for _, p in ipairs(PROVIDERS) do
    local st, oc = core.normalize(p, type(v.status) == "string" and v.status or nil,
                                  type(v.outcome) == "string" and v.outcome or nil)
    if st ~= nil and not STATUS[st] then fail("normalize status") end
    if oc ~= nil and not OUTCOME[oc] then fail("normalize outcome") end
  end
end

-- ----------------------------------------------------------------------
-- Pager
-- ----------------------------------------------------------------------

local VARIANTS = {
  { provider = "complycube", drift = true },
  { provider = "complycube" },
  { provider = "idnow" },                -- page base learnt from the first page
  { provider = "idnow", page_base = 0 },
  { provider = "idnow", page_base = 1, drift = true },
  { provider = "extend" },
  { provider = "extend", legacy = true },
}
local SIZES = { 1, 2, 3, 5, 10, 100 }
local MAX_PAGES = 8
local SEP = "\30"  -- ASCII RS: splits one input into successive page bodies

local function config(variant, size, cursor)
  local cfg = { url = "https://127.0.0.1/v1/list", query = "status=x|scope",
                page_size = size, params = { { "sortBy", "createdAt" } },
                headers = { Accept = "application/json" }, timeout = 5, cursor = cursor }
  for k, v in pairs(variant) do cfg[k] = v end
  return cfg
end

local function split(input)
  local pieces, pos = {}, 1
  while #pieces < MAX_PAGES do
    local at = input:find(SEP, pos, true)
    if not at then pieces[#pieces + 1] = input:sub(pos); break end
    pieces[#pieces + 1] = input:sub(pos, at - 1)
    pos = at + 1
  end
  return pieces
end

-- A cursor the core made must decode and must resume without raising.
local function check_cursor(variant, size, cur)
  if cur == nil then return end
  if type(cur) ~= "string" then fail("cursor is a %s", type(cur)) end
  local info, msg = core.cursor_decode(cur)
  if not info then fail("own cursor does not decode: %s", tostring(msg)) end
  if info.provider ~= variant.provider then fail("cursor provider %s", tostring(info.provider)) end
  local q = core.pager(config(variant, size, cur))
  local req = q:request()
  if req ~= nil and type(req.url) ~= "string" then fail("resumed request has no url") end
  q:close()
end

local function drain(p, variant, size, budget)
  local n = 0
  while true do
    local s = p:pop()
    if s == nil then break end
    n = n + 1
    if n > budget then fail("pop handed out more than the page held") end
    exercise_session(s, variant.provider, true)
    if n == 1 then check_cursor(variant, size, p:cursor()) end  -- mid-page cursor
  end
  return n
end

--- Feed the pieces of `input` to one pager, page after page.
local function run_pager(variant, size, pieces)
  local p = core.pager(config(variant, size))
  for _, body in ipairs(pieces) do
    local want = (body:byte(1) or 0) % 7  -- 0: no hint
    local req = p:request(want > 0 and want or nil)
    if req == nil then
      if not p:done() then fail("request() is nil but done() is false") end
      break
    end
    if type(req.url) ~= "string" or req.method ~= "GET" or type(req.headers) ~= "table" then
      fail("bad request table")
    end
    -- a leading TAB or CR (JSON whitespace) turns the page into an error answer
    local lead = body:byte(1)
    local status = lead == 9 and 503 or lead == 13 and 404 or 200
    local n, msg, err = p:decode(status, { ["x-request-id"] = "rid" }, body)
    if n ~= nil then
      local page = n
      if type(page) ~= "table" or math.type(page.count) ~= "integer" then fail("decode returned %s", tostring(n)) end
      n, msg, err = p:feed(page, req)
      if n == false then n = 0 end  -- the listing moved: it asks again
    else
      p:drop(req)  -- as the listing does: a page that failed to decode is never fed
    end
    if n == nil then
      if type(msg) ~= "string" or type(err) ~= "table" or type(err.kind) ~= "string" then
        fail("decode or feed failed without msg, err")
      end
      if #msg > 300 or msg:find("[%c]") then fail("feed message %q", msg) end
    else
      if math.type(n) ~= "integer" or n < 0 then fail("feed returned %s", tostring(n)) end
      local got = drain(p, variant, size, n)
      if got > n then fail("popped %d of %d", got, n) end
    end
    local _, _, _, _ = p:total(), p:done(), p:pages(), tostring(p)
    check_cursor(variant, size, p:cursor())
  end
  p:close()
  p:close()
  if pcall(p.request, p) then fail("a closed pager answered request()") end
end

--- (b) one input, split on RS into successive pages, through every pager variant.
function D.pager(input)
  local pieces = split(input)
  local size = SIZES[(input:byte(-1) or 0) % #SIZES + 1]
  for _, variant in ipairs(VARIANTS) do run_pager(variant, size, pieces) end
  local info, msg = core.cursor_decode(input)
  if info == nil and type(msg) ~= "string" then fail("cursor_decode without a message") end
end

-- ----------------------------------------------------------------------
-- Cursors
-- ----------------------------------------------------------------------

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

local function b64url(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local v = a * 65536 + (b or 0) * 256 + (c or 0)
    local chars = 2 + (b and 1 or 0) + (c and 1 or 0)
    for k = 1, chars do
      local idx = (v >> (18 - 6 * (k - 1))) & 63
      out[#out + 1] = B64:sub(idx + 1, idx + 1)
    end
  end
  return table.concat(out)
end

local function fnv1a(s)
  local h = 2166136261
  for i = 1, #s do h = ((h ~ s:byte(i)) * 16777619) & 0xffffffff end
  return h
end

local PAGES = {
  complycube = '{"page":%d,"pages":9,"totalItems":40,"items":[{"id":"a"},{"id":"b"},{"id":"c"}]}',
  idnow = '{"content":[{"sessionId":"a"},{"sessionId":"b"}],"page":{"number":%d,"totalPages":9,"totalElements":40}}',
  extend = '{"data":[{"id":"a"},{"id":"b"}],"nextPageToken":"t%d"}',
}

--- (b') a cursor made up by the fuzzer, as given and with a valid checksum.
function D.cursor(input)
  local info, msg = core.cursor_decode(input)
  if info == nil and type(msg) ~= "string" then fail("cursor_decode without a message") end
  local token = b64url(input) .. "." .. string.format("%08x", fnv1a(input))
  info = core.cursor_decode(token)
  for _, variant in ipairs(VARIANTS) do
    local ok, p = pcall(core.pager, config(variant, 3, token))
    if ok then
      if not info then fail("a pager took a cursor cursor_decode refuses") end
      -- what a pager took must come back out, before and after any request
      check_cursor(variant, 3, p:cursor())
      for page = 1, 3 do
        local req = p:request()
        if req == nil then break end
        check_cursor(variant, 3, p:cursor())
        local pg = p:decode(200, {}, PAGES[variant.provider]:format(page))
        local n = pg and p:feed(pg, req)
        if n then drain(p, variant, 3, n) end
        check_cursor(variant, 3, p:cursor())
      end
      p:close()
    elseif type(p) ~= "string" then
      fail("core.pager raised a %s", type(p))
    end
  end
end

-- ----------------------------------------------------------------------
-- The token scan of cursor pages
-- ----------------------------------------------------------------------

local scan_pager

--- (g) pager:peek(input): when the input is a JSON object, what the scan
-- found must be its own top-level nextPageToken (or nothing).
function D.scan(input)
  scan_pager = scan_pager or core.pager{ provider = "extend", url = "http://127.0.0.1/x", page_size = 5,
                                         query = "|extend" }
  local tok = scan_pager:peek(input)
  if tok ~= nil and (type(tok) ~= "string" or tok == "" or tok:find("\\", 1, true)) then
    fail("peek gave %s", tostring(tok))
  end
  if tok == nil then return end
  local doc = core.decode(input)
  if type(doc) == "table" and doc.nextPageToken ~= tok then
    fail("peek found %q, the object's own token is %s", tok, tostring(doc.nextPageToken))
  end
end

-- ----------------------------------------------------------------------
-- Page checks across a listing
-- ----------------------------------------------------------------------

local function page_body(provider, number, total, pages, ids)
  local items = {}
  local key = provider == "idnow" and "sessionId" or "id"
  for i = 1, #ids do items[i] = string.format('{"%s":"%s","status":"x"}', key, ids[i]) end
  local list = "[" .. table.concat(items, ",") .. "]"
  if provider == "idnow" then
    return string.format('{"content":%s,"page":{"number":%d,"totalPages":%d,"totalElements":%d}}',
      list, number, pages, total)
  end
  return string.format('{"page":%d,"pages":%d,"totalItems":%d,"items":%s}', number, pages, total, list)
end

--- (h) a script of page answers, fed in request order with several
-- requests in flight: no id twice, nothing raised, and a consistent server
-- (no perturbation, insertions only as the ordering expects) lists all.
function D.pagecheck(input)
  local b = { input:byte(1, 8) }
  for i = 1, 8 do b[i] = b[i] or 0 end
  local provider = b[1] % 2 == 0 and "complycube" or "idnow"
  local size, total, conc = 1 + b[2] % 5, b[3] % 23, 1 + b[4] % 4
  local drift = b[5] % 2 == 0
  local base = provider == "complycube" and 1 or (b[6] % 2)
  local learn = provider == "idnow" and b[6] % 4 >= 2
  -- the server's list: newest first when drift (new ones at the head), else new ones at the tail
  local list, originals, next_id = {}, {}, 1
  for _ = 1, total do
    local id = "s" .. next_id
    next_id = next_id + 1
    list[#list + 1] = id
    originals[#originals + 1] = id
  end
  local p = core.pager{ provider = provider, url = "http://127.0.0.1/x", page_size = size,
                        query = "|" .. provider, drift = drift,
                        page_base = (provider == "idnow" and not learn) and base or nil }
  local pos, consistent, failed = 9, true, false
  local seen, inflight = {}, {}
  for _ = 1, 300 do
    while #inflight < conc do
      local req = p:request()
      if not req then break end
      if type(req.page) ~= "number" or type(req.size) ~= "number" then fail("bad request fields") end
      inflight[#inflight + 1] = req
    end
    local req = table.remove(inflight, 1)
    if not req then break end
    local op = input:byte(pos) or 255
    pos = pos + 1
    -- sessions arrive as the ordering expects: not a fault
    if op % 16 == 5 then
      local id = "s" .. next_id
      next_id = next_id + 1
      if drift then table.insert(list, 1, id) else list[#list + 1] = id end
    end
    local q = req.page < 0 and 0 or req.page
    local ids = {}
    for i = q * req.size + 1, math.min(#list, q * req.size + req.size) do ids[#ids + 1] = list[i] end
    local number, t = q + base, #list
    local pages = math.ceil(t / req.size)
    local kind = op % 16
    if kind == 0 then number = number + 1 + op % 3
    elseif kind == 1 then t = t + (op % 7) - 3
    elseif kind == 2 then ids = { list[1], list[1] }
    elseif kind == 3 then ids[#ids] = nil
    elseif kind == 4 then ids[#ids + 1] = "extra" .. op
    elseif kind == 6 then t = t * 1000000007
    end
    if kind <= 4 or kind == 6 then consistent = false end
    if t < 0 then t = 0 end
    local page, msg = p:decode(200, {}, page_body(provider, number, t, pages, ids))
    local n
    if page then n, msg = p:feed(page, req) else p:drop(req) end
    if page and n == nil and type(msg) ~= "string" then fail("feed failed without a message") end
    if not page or n == nil then
      failed = true
      break
    end
    if n == false then
      for i = #inflight, 1, -1 do p:drop(inflight[i]); inflight[i] = nil end
    else
      while true do
        local s = p:pop()
        if not s then break end
        if seen[s.id] then fail("%s yielded twice", tostring(s.id)) end
        seen[s.id] = true
      end
    end
  end
  local _, _ = p:cursor(), p:total()   -- both answer at any point
  if consistent and not failed and p:done() then
    for _, id in ipairs(originals) do
      if not seen[id] then fail("a consistent listing ended without %s (total %d, size %d)", id, total, size) end
    end
  end
  p:close()
end

-- ----------------------------------------------------------------------
-- Time
-- ----------------------------------------------------------------------

--- (c) core.time on the input; `t` is what wfs_time_parse gave in C (or nil).
function D.time(input, t)
  local v, msg = core.time(input)
  if (v == nil) ~= (t == nil) then fail("core.time and wfs_time_parse disagree on %q", input) end
  if v == nil then
    if type(msg) ~= "string" or #msg > 120 or msg:find("[%c]") then fail("time message %q", tostring(msg)) end
    return
  end
  if v ~= t then fail("core.time %s ~= wfs_time_parse %s", tostring(v), tostring(t)) end
  if not input:find(".", 1, true) and math.type(v) ~= "integer" then fail("no fraction but a float") end
end

return D
