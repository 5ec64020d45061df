-- luacheck: std +busted

local F = require "wfsession.filter"

-- asserts that fn raises an error whose message contains `text`
local function raises(fn, text)
  local ok, msg = pcall(fn)
  assert.is_false(ok, "expected an error containing: " .. text)
  assert.truthy(tostring(msg):find(text, 1, true), "got: " .. tostring(msg))
  return msg
end

-- a pager over `items` that counts next() calls and can fail at a position
local function pager(items, fail_at)
  local p = { calls = 0, i = 0 }
  function p:next()
    self.calls = self.calls + 1
    if fail_at and self.i + 1 == fail_at then
      return nil, "wfsession: complycube: http 500", { kind = "server", status = 500 }
    end
    self.i = self.i + 1
    return items[self.i]
  end
  return p
end

local function ids(list)
  local out = {}
  for i, s in ipairs(list) do out[i] = s.id end
  return out
end

local SESSIONS = {
  { id = "a", status = "completed", outcome = "approved", workflow_id = "w1",
    created_at = "2025-01-01T00:00:00.000Z" },
  { id = "b", status = "completed", outcome = "rejected", workflow_id = "w2",
    created_at = "2025-01-02T12:00:00Z" },
  { id = "c", status = "running", workflow_id = "w1", created_at = "2025-01-03T00:00:00Z" },
  { id = "d", status = "review", outcome = "needs_attention", workflow_id = "w3",
    created_at = "not a date" },
  { id = "e", status = "completed", outcome = "approved", workflow_id = "w2" },
  { id = "f", status = "expired", workflow_id = "w1", created_at = "2025-01-04" },
}

describe("filter.iterator", function()
  it("walks an array, a function and a pager the same way", function()
    assert.same({ "a", "b", "c", "d", "e", "f" }, ids(F.collect(F.iterator(SESSIONS))))
    local i = 0
    local fn = function() i = i + 1; return SESSIONS[i] end
    assert.same({ "a", "b", "c", "d", "e", "f" }, ids(F.collect(fn)))
    assert.same({ "a", "b", "c", "d", "e", "f" }, ids(F.collect(pager(SESSIONS))))
  end)

  it("stops at the end and never pulls the source again", function()
    local p = pager({ { id = "x" } })
    local it = F.iterator(p)
    assert.equal("x", it().id)
    assert.is_nil(it())
    assert.is_nil(it())
    assert.equal(2, p.calls)
  end)

  it("ends an array at its first hole, for good", function()
    local it = F.iterator({ "a", nil, "c" })
    assert.equal("a", it())
    assert.is_nil(it())
    assert.is_nil(it())
  end)

  it("raises a pager failure's message, like io.lines", function()
    local p = pager(SESSIONS, 3)
    local seen = {}
    local msg = raises(function()
      for s in F.iterator(p) do seen[#seen + 1] = s.id end
    end, "wfsession: complycube: http 500")
    assert.equal("wfsession: complycube: http 500", msg) -- the message itself, no position prefix
    assert.same({ "a", "b" }, seen)
  end)

  it("raises err.message when a failure has no msg", function()
    local fn = function() return nil, nil, { message = "closed pager" } end
    raises(function() F.collect(fn) end, "closed pager")
  end)

  it("accepts a userdata-like object whose next is reached through __index", function()
    local items = { { id = 1 }, { id = 2 } }
    local obj = setmetatable({}, { __index = { n = 0, next = function(self)
      self.n = self.n + 1
      return items[self.n]
    end } })
    assert.same({ 1, 2 }, ids(F.collect(obj)))
  end)

  it("rejects anything else, naming the argument", function()
    raises(function() F.iterator(42) end,
      "bad argument #1 to 'iterator' (pager, iterator function or array expected, got number)")
    raises(function() F.collect("abc") end,
      "bad argument #1 to 'collect' (pager, iterator function or array expected, got string)")
    raises(function() F.filter(nil, {}) end, "bad argument #1 to 'filter'")
    raises(function() F.take(true, 1) end, "bad argument #1 to 'take'")
  end)
end)

describe("filter.filter", function()
  it("keeps the items a predicate accepts", function()
    local got = F.collect(F.filter(SESSIONS, function(s) return s.workflow_id == "w1" end))
    assert.same({ "a", "c", "f" }, ids(got))
  end)

  it("matches fields by equality, all fields at once", function()
    assert.same({ "a", "e" }, ids(F.collect(F.filter(SESSIONS, { outcome = "approved" }))))
    assert.same({ "e" }, ids(F.collect(F.filter(SESSIONS, { outcome = "approved", workflow_id = "w2" }))))
    assert.same({}, ids(F.collect(F.filter(SESSIONS, { outcome = "approved", status = "running" }))))
    -- a missing field never equals anything
    assert.same({ "a", "b", "d", "e" },
      ids(F.collect(F.filter(SESSIONS, { outcome = { "approved", "rejected", "needs_attention" } }))))
  end)

  it("matches a field against a list of values", function()
    assert.same({ "c", "d", "f" },
      ids(F.collect(F.filter(SESSIONS, { status = { "running", "review", "expired" } }))))
    assert.same({}, ids(F.collect(F.filter(SESSIONS, { status = {} }))))
  end)

  it("matches numbers and booleans, integer and float alike", function()
    local list = { { id = 1, version = 3, live = true }, { id = 2, version = 4, live = false } }
    assert.same({ 1 }, ids(F.collect(F.filter(list, { version = 3.0 }))))
    assert.same({ 2 }, ids(F.collect(F.filter(list, { live = false }))))
    assert.same({}, ids(F.collect(F.filter(list, { version = "3" }))))
  end)

  it("bounds created_at with since (inclusive) and until (exclusive)", function()
    local since = { since = "2025-01-02T12:00:00Z" }
    assert.same({ "b", "c", "f" }, ids(F.collect(F.filter(SESSIONS, since))))
    local window = { since = "2025-01-01", ["until"] = "2025-01-03T00:00:00Z" }
    assert.same({ "a", "b" }, ids(F.collect(F.filter(SESSIONS, window))))
    -- epoch seconds work too: 2025-01-03T00:00:00Z = 1735862400
    assert.same({ "c", "f" }, ids(F.collect(F.filter(SESSIONS, { since = 1735862400 }))))
    assert.same({ "f" }, ids(F.collect(F.filter(SESSIONS, { since = 1735862400, status = "expired" }))))
  end)

  it("leaves out sessions whose created_at is missing or unparseable from a date range", function()
    local all = F.collect(F.filter(SESSIONS, { since = "1970-01-01" }))
    assert.same({ "a", "b", "c", "f" }, ids(all))
    local numeric = { { id = 1, created_at = 100 }, { id = 2, created_at = {} }, { id = 3 } }
    assert.same({ 1 }, ids(F.collect(F.filter(numeric, { ["until"] = 101 }))))
  end)

  it("is lazy: reads one item per match asked for", function()
    local p = pager(SESSIONS)
    local it = F.filter(p, { outcome = "rejected" })
    assert.equal(0, p.calls)
    assert.equal("b", it().id)
    assert.equal(2, p.calls)
  end)

  it("checks the spec before reading anything", function()
    local p = pager(SESSIONS)
    local cases = {
      { 42, "bad argument #2 to 'filter' (spec table or predicate function expected, got number)" },
      { { status = { { "x" } } },
        "bad argument #2 to 'filter' (status[1]: string, number or boolean expected, got table)" },
      { { status = { x = "completed" } }, "status: list of values expected" },
      { { status = print }, "status: value or list of values expected, got function" },
      { { outcome = 0 / 0 }, "outcome: NaN never matches" },
      { { [1] = "completed" }, "field names must be strings, got number" },
      { { since = "yesterday" }, "since: cannot parse timestamp \"yesterday\"" },
      { { ["until"] = true }, "until: timestamp string or epoch seconds expected, got boolean" },
      { { since = math.huge }, "since: cannot parse timestamp" },
    }
    for _, c in ipairs(cases) do raises(function() F.filter(p, c[1]) end, c[2]) end
    assert.equal(0, p.calls)
  end)

  it("reports a bad spec at the caller's line", function()
    local msg = raises(function() F.filter(SESSIONS, { status = print }) end, "bad argument #2")
    assert.truthy(msg:match("31%-filter_spec%.lua:%d+: bad argument #2 to 'filter'"), msg)
  end)

  it("raises a pager failure met while filtering", function()
    raises(function()
      for _ in F.filter(pager(SESSIONS, 4), { outcome = "approved" }) do end
    end, "http 500")
  end)

  it("skips items that cannot be indexed instead of failing", function()
    assert.same({ { status = "x" } }, F.collect(F.filter({ 1, "s", true, { status = "x" } }, { status = "x" })))
  end)
end)

describe("filter.take", function()
  it("returns at most n items and never pulls item n + 1", function()
    local p = pager(SESSIONS)
    assert.same({ "a", "b", "c" }, ids(F.collect(F.take(p, 3))))
    assert.equal(3, p.calls)

    p = pager(SESSIONS)
    assert.same({}, F.collect(F.take(p, 0)))
    assert.equal(0, p.calls)
  end)

  it("stops early when the source ends, without pulling it again", function()
    local p = pager({ { id = "x" } })
    local it = F.take(p, 10)
    assert.equal("x", it().id)
    assert.is_nil(it())
    assert.is_nil(it())
    assert.equal(2, p.calls)
  end)

  it("composes with filter: pulls only what the matches need", function()
    local p = pager(SESSIONS)
    local got = F.collect(F.take(F.filter(p, { status = "completed" }), 2))
    assert.same({ "a", "b" }, ids(got))
    assert.equal(2, p.calls)
  end)

  it("accepts an integral float and rejects bad counts", function()
    assert.equal(2, #F.collect(F.take(SESSIONS, 2.0)))
    raises(function() F.take(SESSIONS, -1) end, "bad argument #2 to 'take' (integer >= 0 expected, got -1)")
    raises(function() F.take(SESSIONS, 1.5) end, "bad argument #2 to 'take' (integer >= 0 expected, got 1.5)")
    raises(function() F.take(SESSIONS, math.huge) end, "bad argument #2 to 'take'")
    raises(function() F.take(SESSIONS) end, "bad argument #2 to 'take' (integer >= 0 expected, got nil)")
  end)
end)

describe("filter.collect", function()
  it("returns a new array", function()
    local got = F.collect(SESSIONS)
    assert.are_not.equal(SESSIONS, got)
    assert.same(SESSIONS, got)
    assert.same({}, F.collect({}))
    assert.same({}, F.collect(function() return nil end))
  end)
end)

describe("filter.epoch", function()
  it("parses strings through core.time and passes numbers through", function()
    assert.equal(1735689600, F.epoch("2025-01-01T00:00:00Z"))
    assert.equal(1735689600.5, F.epoch("2025-01-01T00:00:00.500Z"))
    assert.equal(12.5, F.epoch(12.5))
    assert.is_nil(F.epoch("garbage"))
    assert.is_nil(F.epoch(0 / 0))
    assert.is_nil(F.epoch(nil))
    assert.is_nil(F.epoch({}))
  end)
end)
