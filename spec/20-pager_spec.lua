-- The pager and the driver loop, with fake transports: no network here.
local wfs = require "wfsession"
local core = require "wfsession.core"
local helpers = require "helpers"

local cc_client = helpers.cc_client

local function extend_client(transport, extra)
  local o = { provider = "extend", api_key = "ext_key_0123", transport = transport, retry = false }
  for k, v in pairs(extra or {}) do o[k] = v end
  return wfs.new(o)
end

describe("pager on docs fixtures", function()
  it("lists the ComplyCube docs example with the raw key and page 1", function()
    local t, log = helpers.recording(function()
      return 200, {}, helpers.fixture("complycube_workflow_sessions_list.json")
    end)
    local list = wfs.collect(cc_client(t):sessions())
    assert.equal(1, #list)
    assert.equal("6890d6a9513d1b0002559aa4", list[1].id)
    assert.equal("completed", list[1].status)
    assert.equal("approved", list[1].outcome)
    assert.equal(1, #log)
    assert.equal("test_key_0123", log[1].headers.Authorization)
    local q = helpers.query_of(log[1].url)
    assert.same({ page = "1", pageSize = "1000" }, q)  -- the largest page ComplyCube allows
    assert.equal("https://api.complycube.com/v1/workflowSessions", log[1].url:match("^[^?]+"))
  end)

  it("lists the Extend docs example and stops at a missing token", function()
    local bodies = { helpers.fixture("extend_workflow_runs_list.json"), '{"object":"list","data":[]}' }
    local t, log = helpers.recording(function(_, n) return 200, {}, bodies[n] end)
    local ids = helpers.ids(extend_client(t):sessions())
    assert.same({ "id" }, ids)
    assert.equal(2, #log)
    assert.equal("Bearer ext_key_0123", log[1].headers.Authorization)
    assert.equal("2026-02-09", log[1].headers["x-extend-api-version"])
    assert.equal("xK9mLPqRtN3vS8wF5hB2cQ==:zWvUxYjM4nKpL7aDgE9HbTcR2mAyX3/Q+CNkfBSw1dZ=",
                 helpers.query_of(log[2].url).nextPageToken)
  end)

  it("reads the legacy Extend envelope", function()
    local bodies = { helpers.fixture("extend_legacy_2025-04-21_workflow_runs_list.json"),
                     '{"success":true,"workflowRuns":[]}' }
    local t = helpers.recording(function(_, n) return 200, {}, bodies[n] end)
    local list = wfs.collect(extend_client(t, { api_version = "2025-04-21" }):sessions())
    assert.equal(1, #list)
    assert.equal("completed", list[1].status)
    assert.equal("rejected", list[1].outcome)
    assert.equal("workflow_BMdfq_yWM3sT-ZzvCnA3f", list[1].workflow_id)
  end)

  it("learns IDnow's page base from the first page", function()
    for _, base in ipairs({ 0, 1 }) do
      local t, log = helpers.recording(function(req)
        local q = helpers.query_of(req.url)
        local number = tonumber(q.page or base)
        local idx = number - base
        local body = string.format('{"content":[{"sessionId":"s%d","sessionStatus":"RUNNING"}],'
          .. '"page":{"size":1,"number":%d,"totalElements":3,"totalPages":3}}', idx, number)
        return 200, {}, body
      end)
      local c = wfs.new{ provider = "idnow", token = "tok_abcdef", flow_id = "flow-1",
                         transport = t, retry = false, page_size = 1 }
      assert.same({ "s0", "s1", "s2" }, helpers.ids(c:sessions()))
      assert.is_nil(helpers.query_of(log[1].url).page)
      assert.equal(tostring(base + 1), helpers.query_of(log[2].url).page)
      assert.equal(3, #log)
    end
  end)
end)

describe("pager paging", function()
  it("lists every session once across pages", function()
    local fake = helpers.fake_complycube(250)
    local t, log = helpers.recording(fake.serve)
    local pager = cc_client(t):sessions{ page_size = 100 }
    local ids = helpers.ids(pager)
    assert.equal(250, #ids)
    assert.is_true(helpers.unique(ids))
    assert.equal(3, #log)
    assert.equal(250, pager.total)
  end)

  it("never fetches a page max_items does not need", function()
    local fake = helpers.fake_complycube(1000)
    local t, log = helpers.recording(fake.serve)
    local ids = helpers.ids(cc_client(t):sessions{ page_size = 100, max_items = 200 })
    assert.equal(200, #ids)
    assert.equal(2, #log)
    t, log = helpers.recording(fake.serve)
    ids = helpers.ids(cc_client(t):sessions{ page_size = 100, max_items = 30 })
    assert.equal(30, #ids)
    assert.equal(1, #log)
    assert.equal("30", helpers.query_of(log[1].url).pageSize)
  end)

  it("max_items = 0 sends nothing", function()
    local t, log = helpers.recording(helpers.fake_complycube(5).serve)
    assert.same({}, helpers.ids(cc_client(t):sessions{ max_items = 0 }))
    assert.equal(0, #log)
  end)

  it("never yields an id twice when sessions arrive during the listing", function()
    local fake = helpers.fake_complycube(95)
    local t = helpers.recording(function(req, n)
      if n > 1 then fake.insert(7) end
      return fake.serve(req)
    end)
    local ids = helpers.ids(cc_client(t):sessions{ page_size = 10 })
    assert.is_true(helpers.unique(ids))
    -- every one of the original 95 is there
    assert.equal(95, #ids)
    assert.equal(string.format("%024x", 95), ids[1])
    assert.equal(string.format("%024x", 1), ids[#ids])
  end)

  it("stops with a protocol error when Extend repeats a token", function()
    local t = helpers.recording(helpers.fake_extend(50, { repeat_token = true }).serve)
    local pager = extend_client(t):sessions{ page_size = 10 }
    local n, msg, err = 0, nil, nil
    for _ = 1, 100 do
      local s
      s, msg, err = pager:next()
      if not s then break end
      n = n + 1
    end
    assert.equal(10, n)  -- the second page repeats the token: none of it is handed out
    assert.equal("protocol", err.kind)
    assert.matches("same nextPageToken", msg)
    assert.equal(err, pager:err())
  end)

  it("refuses a page that is not the one asked for", function()
    local t = helpers.recording(function()
      return 200, {}, '{"page":1,"pageSize":2,"totalItems":4,"pages":2,"items":[{"id":"a"},{"id":"b"}]}'
    end)
    local pager = cc_client(t):sessions{ page_size = 2 }
    assert.equal("a", pager:next().id)
    assert.equal("b", pager:next().id)
    local s, msg, err = pager:next()
    assert.is_nil(s)
    assert.equal("protocol", err.kind)
    assert.matches("asked for page 2, got page 1", msg)
  end)
end)

describe("pages", function()
  it("yields arrays of sessions with number, total and cursor", function()
    local fake = helpers.fake_complycube(25)
    local t, log = helpers.recording(fake.serve)
    local numbers, sizes, seen = {}, {}, {}
    for page in cc_client(t):pages{ page_size = 10 } do
      numbers[#numbers + 1] = page.number
      sizes[#sizes + 1] = #page
      assert.equal(25, page.total)
      for _, s in ipairs(page) do seen[#seen + 1] = s.id end
      if page.number < 3 then assert.is_string(page.cursor) else assert.is_nil(page.cursor) end
    end
    assert.same({ 1, 2, 3 }, numbers)
    assert.same({ 10, 10, 5 }, sizes)
    assert.equal(3, #log)
    assert.is_true(helpers.unique(seen))
  end)

  it("cuts the last page at max_items and resumes from a page cursor", function()
    local fake = helpers.fake_complycube(25)
    local it, _, _, pager = cc_client(fake.serve):pages{ page_size = 10, max_items = 15 }
    local first, second = it(), it()
    assert.equal(10, #first)
    assert.equal(5, #second)
    assert.is_nil(it())
    local rest = helpers.ids(cc_client(fake.serve):sessions{ cursor = pager:cursor() })
    assert.equal(10, #rest)
    assert.equal(string.format("%024x", 10), rest[1])
  end)
end)

describe("cursors", function()
  local fake = helpers.fake_complycube(57)
  local all = helpers.ids(cc_client(fake.serve):sessions{ page_size = 10 })

  it("resume item-exactly at any offset", function()
    for _, at in ipairs({ 0, 1, 9, 10, 11, 33, 56 }) do
      local pager = cc_client(fake.serve):sessions{ page_size = 10, outcome = "approved" }
      local head = {}
      for _ = 1, at do head[#head + 1] = pager:next().id end
      local token = assert(pager:cursor())
      pager:close()
      local tail = helpers.ids(cc_client(fake.serve):sessions{ cursor = token, page_size = 7 })
      for _, id in ipairs(tail) do head[#head + 1] = id end
      assert.same(all, head)
    end
  end)

  it("resume Extend tokens item-exactly", function()
    local ex = helpers.fake_extend(23)
    local full = helpers.ids(extend_client(ex.serve):sessions{ page_size = 5 })
    for _, at in ipairs({ 0, 3, 5, 22 }) do
      local pager = extend_client(ex.serve):sessions{ page_size = 5 }
      local head = {}
      for _ = 1, at do head[#head + 1] = pager:next().id end
      local tail = helpers.ids(extend_client(ex.serve):sessions{ cursor = pager:cursor() })
      for _, id in ipairs(tail) do head[#head + 1] = id end
      assert.same(full, head)
    end
  end)

  it("is nil once the listing is exhausted", function()
    local pager = cc_client(fake.serve):sessions{ page_size = 100 }
    for _ in pager do end
    assert.is_nil(pager:cursor())
  end)

  it("is refused with other filters, another provider or damage", function()
    local pager = cc_client(fake.serve):sessions{ outcome = "approved" }
    pager:next()
    local token = pager:cursor()
    local c = cc_client(fake.serve)
    assert.has_error(function() c:sessions{ cursor = token, outcome = "rejected" } end,
      "client:sessions: 'cursor' was made for other filters than these (outcome=approved)")
    assert.has_no_error(function() c:sessions{ cursor = token, outcome = "approved" } end)
    assert.has_error(function() extend_client(fake.serve):sessions{ cursor = token } end,
      "client:sessions: 'cursor' was made by a complycube listing, not extend")
    local damaged = token:sub(1, 10) .. (token:sub(11, 11) == "A" and "B" or "A") .. token:sub(12)
    assert.has_error(function() c:sessions{ cursor = damaged } end,
      "client:sessions: 'cursor' cursor is not a wfsession cursor or is damaged")
  end)
end)

describe("errors and closing", function()
  it("returns nil, msg, err for an HTTP error and a for loop raises msg", function()
    local t = helpers.recording(function()
      return 401, { ["x-request-id"] = "req-1" }, helpers.decoded and
        '{"type":"unauthorized","message":"The \'Authorization\' header is invalid"}'
    end)
    local pager = cc_client(t):sessions()
    local s, msg, err = pager:next()
    assert.is_nil(s)
    assert.equal("auth", err.kind)
    assert.equal(401, err.status)
    assert.equal("unauthorized", err.code)
    assert.equal("req-1", err.request_id)
    assert.equal("GET", err.method)
    assert.is_false(err.retryable)
    assert.equal(1, err.attempts)
    assert.is_string(msg)
    local ok, raised = pcall(function() for _ in cc_client(t):sessions() do end end)
    assert.is_false(ok)
    assert.matches("HTTP 401", raised)
  end)

  it("never shows the key, even when the server echoes it", function()
    local t = helpers.recording(function()
      return 500, {}, '{"type":"internal_server_error","message":"bad key test_key_0123 here"}'
    end)
    local c = cc_client(t)
    local _, msg, err = c:sessions():next()
    assert.not_matches("test_key_0123", msg, 1, true)
    assert.not_matches("test_key_0123", err.message, 1, true)
    assert.not_matches("test_key_0123", tostring(c), 1, true)
    for k, v in pairs(c) do
      assert.not_equal("test_key_0123", v, k)
    end
  end)

  it("retries a retryable failure and counts attempts", function()
    local slept = {}
    local t, log = helpers.recording(function(req, n)
      if n == 1 then return nil, "network: connection reset", { kind = "network" } end
      if n == 2 then return 503, { ["retry-after"] = "2" }, '{"type":"x","message":"busy"}' end
      return helpers.fake_complycube(3).serve(req)
    end)
    local c = cc_client(t, { retry = { max_retries = 2, sleep = function(s) slept[#slept + 1] = s end,
                                       random = function() return 0.5 end } })
    assert.equal(3, #helpers.ids(c:sessions()))
    assert.equal(3, #log)
    assert.equal(2, slept[2])
  end)

  it("closes the pager when a loop breaks (Lua 5.4)", function()
    if _VERSION ~= "Lua 5.4" then return pending("needs the generic-for closing value") end
    -- exactly what `for s in c:sessions{} do` receives: four values, the last one closes
    local it, st, ctl, pager = cc_client(helpers.fake_complycube(30).serve):sessions{ page_size = 10 }
    for s in it, st, ctl, pager do -- luacheck: ignore 512
      assert.is_not_nil(s)
      break
    end
    local s, _, err = pager:next()
    assert.is_nil(s)
    assert.equal("closed", err.kind)
  end)

  it("rejects bad queries by name", function()
    local c = cc_client(function() error("no request expected") end)
    assert.has_error(function() c:sessions{ colour = "red" } end,
      "client:sessions: 'colour' is not a query key")
    assert.has_error(function() c:sessions{ status = "done" } end)
    assert.has_error(function() c:sessions{ sort = "status" } end,
      "client:sessions: 'sort' complycube lists by created_at only")
    assert.has_error(function() c:sessions{ created_after = "yesterday" } end,
      "client:sessions: 'created_after' is not an ISO-8601 timestamp")
    assert.has_error(function() c:sessions{ batch_id = "b1" } end,
      "client:sessions: 'batch_id' does not apply to complycube")
    assert.has_error(function() c:sessions{ status = "completed", server_only = true } end,
      "client:sessions: 'server_only' complycube cannot filter by status on the server")
    assert.has_error(function() c:sessions{ max_items = -1 } end)
    assert.has_error(function() c:sessions{ page_size = 1001 } end)
  end)
end)

describe("core pager", function()
  it("says when a request is due and rejects misuse", function()
    local p = core.pager{ provider = "complycube", url = "http://127.0.0.1/x", page_size = 2,
                          query = "|complycube" }
    local page = assert(p:decode(200, {}, '{"page":1,"pages":1,"totalItems":0,"items":[]}'))
    assert.has_error(function() p:feed(page, {}) end, "pager:feed: no request in flight")
    local req = p:request()
    assert.equal("GET", req.method)
    assert.equal("http://127.0.0.1/x?page=1&pageSize=2", req.url)
    assert.equal(0, req.page)
    assert.equal(2, req.size)
    -- the total is not known yet: nothing more until the first page is fed
    assert.is_nil(p:request())
    local n, msg, err = p:decode(200, {}, "not json")
    assert.is_nil(n)
    assert.equal("decode", err.kind)
    assert.is_string(msg)
    assert.equal(0, p:feed(page, req))
    assert.is_true(p:done())
    p:close()
    p:close()
    assert.has_error(function() p:request() end, "attempt to use a closed wfsession.pager")
  end)

  it("has up to as many page requests as asked for in flight once the total is known", function()
    local p = core.pager{ provider = "complycube", url = "http://127.0.0.1/x", page_size = 2,
                          query = "|complycube" }
    local first = p:request()
    assert.equal(2, p:feed(assert(p:decode(200, {},
      '{"page":1,"pages":3,"totalItems":5,"items":[{"id":"a"},{"id":"b"}]}')), first))
    local second, third = p:request(), p:request()
    assert.equal(1, second.page)
    assert.equal(2, third.page)
    assert.is_nil(p:request())  -- page 4 would start past the total
    assert.equal("a", p:pop().id)
    assert.equal("b", p:pop().id)
    assert.equal(2, p:feed(assert(p:decode(200, {},
      '{"page":2,"pages":3,"totalItems":5,"items":[{"id":"c"},{"id":"d"}]}')), second))
  end)
end)

describe("core pager params (memory-safety regressions)", function()
  local function pager_with(params)
    return core.pager{ provider = "extend", url = "http://127.0.0.1/x", page_size = 5,
                       query = "|extend", params = params }
  end

  it("sends string params escaped", function()
    local p = pager_with{ { "status", "a b&c" } }
    assert.equal("http://127.0.0.1/x?status=a%20b%26c&maxPageSize=5", p:request().url)
  end)

  -- a number was converted to a string that only a popped stack slot kept:
  -- the garbage collector could free it before it was copied (use after free)
  it("rejects a number param instead of reading a collected string", function()
    local params = {}
    for i = 1, 200 do params[i] = { "k" .. i, i + 0.5 } end
    local p = pager_with(params)
    assert.has_error(function() p:request() end,
      "pager config: params[1] must be {name, value} strings")
    assert.has_error(function() pager_with({ { 7, "x" } }):request() end,
      "pager config: params[1] must be {name, value} strings")
  end)

  -- lua_rawgeti on a params entry that is not a table crashed the process
  it("rejects a params entry that is not a {name, value} table", function()
    for _, bad in ipairs{ "status", 42, true } do
      local p = pager_with{ { "ok", "1" }, bad }
      assert.has_error(function() p:request() end,
        "pager config: params[2] must be {name, value} strings")
    end
  end)
end)

describe("core pager forged cursors", function()
  -- a cursor is base64url(JSON) "." fnv1a-32(JSON): anyone can make one
  local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
  -- arithmetic only (no 5.3 bit operators), so the file still loads on 5.1/LuaJIT
  local function xor8(a, b)
    local r, bit = 0, 1
    for _ = 1, 8 do
      if a % 2 ~= b % 2 then r = r + bit end
      a, b, bit = math.floor(a / 2), math.floor(b / 2), bit * 2
    end
    return r
  end
  local function forge(json)
    local out = {}
    for i = 1, #json, 3 do
      local a, b, c = json:byte(i, i + 2)
      local v = a * 65536 + (b or 0) * 256 + (c or 0)
      for k = 1, 2 + (b and 1 or 0) + (c and 1 or 0) do
        local idx = math.floor(v / 2 ^ (18 - 6 * (k - 1))) % 64
        out[#out + 1] = B64:sub(idx + 1, idx + 1)
      end
    end
    local h = 2166136261
    for i = 1, #json do
      local low = h % 256
      h = h - low + xor8(low, json:byte(i))
      h = ((h % 256) * 16777216 + h * 403) % 4294967296  -- h * 16777619 mod 2^32, exactly
    end
    return table.concat(out) .. "." .. string.format("%08x", h)
  end
  local function extend_pager(cursor)
    return core.pager{ provider = "extend", url = "http://127.0.0.1/x", page_size = 5,
                       query = "|extend", cursor = cursor }
  end

  it("takes a well-formed one and gives it back", function()
    local p = extend_pager(forge('{"v":1,"p":"extend","q":"|extend","t":"tok","o":2}'))
    assert.equal("http://127.0.0.1/x?maxPageSize=5&nextPageToken=tok", p:request().url)
    assert.is_string(p:cursor())
  end)

  -- `t` = 1e999 decoded to inf and was kept: cursor() then raised
  -- "Cannot serialise number" from a pager that had been accepted
  it("refuses a token that is not a string when the pager is made", function()
    for _, t in ipairs{ "1e999", "42", "true", '{"a":1}', "[]" } do
      local token = forge('{"v":1,"p":"extend","q":"|extend","t":' .. t .. ',"o":0}')
      assert.has_error(function() extend_pager(token) end,
        "cursor is not a wfsession cursor or is damaged")
    end
  end)
end)
