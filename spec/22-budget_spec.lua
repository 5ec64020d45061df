-- The rate budget's slot algorithm on a store of its own (a clock the spec
-- moves), its options, its defaults per provider, and its key.
local wfs = require "wfsession"
local core = require "wfsession.core"
local budget = require "wfsession.budget"
local slots = budget.slots

-- A store over a table, with the spec's clock.
local function store()
  local s = { taken = {}, vars = {}, t = 1000 }
  function s.claim(k)
    if s.taken[k] then return false end
    s.taken[k] = true
    return true
  end
  function s.get(name) return s.vars[name] end
  function s.set(name, v) s.vars[name] = v end
  return s
end

local function params(rps, burst)
  return { interval = (1 + budget.MARGIN) / rps, burst = burst or 1, recover = budget.RECOVER,
           decrease = budget.DECREASE, floor = budget.FLOOR, scan = slots.SCAN }
end

local function near(expected, got, eps)
  assert.is_true(math.abs(expected - got) <= (eps or 1e-6), ("expected %.6f, got %.6f"):format(expected, got))
end

describe("rate budget", function()
  it("hashes with SHA-256", function()
    assert.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", core.sha256(""))
    assert.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", core.sha256("abc"))
    assert.equal("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
      core.sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
    assert.equal("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
      core.sha256(("a"):rep(1000000)))
  end)

  it("starts requests one interval apart, on slot boundaries, however many ask at once", function()
    local s, p = store(), params(10)
    local now = 1000.03
    local waits = {}
    for i = 1, 20 do waits[i] = slots.acquire(s, now, p) end
    local first = math.ceil(now / p.interval) * p.interval - now
    near(first, waits[1])
    for i = 2, 20 do near(p.interval, waits[i] - waits[i - 1]) end
    -- 20 starts take 19 intervals: never more than rps / (1 + MARGIN) in any second
    assert.is_true(waits[20] - waits[1] >= 19 * 0.1)
  end)

  it("lets a burst start at once, then paces", function()
    local s, p = store(), params(10, 3)
    local now = 2000.5
    local waits = {}
    for i = 1, 5 do waits[i] = slots.acquire(s, now, p) end
    assert.same({ 0, 0 }, { waits[1], waits[2] })
    assert.is_true(waits[3] >= 0 and waits[3] < p.interval)
    near(p.interval, waits[4] - waits[3])
  end)

  it("slows everyone down on a 429, holds them back, and recovers", function()
    local s, p = store(), params(10)
    local now = 3000
    local share = slots.penalize(s, now, p, 2)
    assert.equal(0.5, share)
    near(2, slots.held(s, now))
    local a, b, c = slots.acquire(s, now, p), slots.acquire(s, now, p), slots.acquire(s, now, p)
    assert.is_true(a >= 2, "the Retry-After holds back the next request")
    -- at half the rate, every other slot
    near(2 * p.interval, b - a, 1e-6)
    near(2 * p.interval, c - b, 1e-6)
    -- a second 429 halves again, down to the floor
    for _ = 1, 10 do share = slots.penalize(s, now, p, 0) end
    assert.equal(budget.FLOOR, share)
    -- the share grows back by RECOVER a second: full after (1 - FLOOR) / RECOVER seconds
    local later = now + (1 - budget.FLOOR) / budget.RECOVER + 1
    local x, y = slots.acquire(s, later, p), slots.acquire(s, later, p)
    near(p.interval, y - x)
  end)

  it("never claims a slot twice, and says when every slot in reach is taken", function()
    local s, p = store(), params(1000)
    p.scan = 8
    local seen = {}
    for _ = 1, 9 do
      local w = slots.acquire(s, 5000, p)
      assert.is_true(w >= 0)
      assert.is_nil(seen[w])
      seen[w] = true
    end
    assert.equal(-1, slots.acquire(s, 5000, p))
  end)

  it("parses Redis URLs", function()
    assert.same({ host = "127.0.0.1", port = 6380, db = 2 }, budget.parse_redis("redis://127.0.0.1:6380/2"))
    assert.same({ host = "cache.internal", port = 6379, db = 0 }, budget.parse_redis("redis://cache.internal"))
    assert.same({ host = "::1", port = 6379, db = 3 }, budget.parse_redis("redis://[::1]/3"))
    for _, bad in ipairs({ "redis://", "http://h", "redis://h:0", "redis://h:99999", "redis://h/x",
                           "redis://user:pw@h", 42 }) do
      assert.is_nil(budget.parse_redis(bad), tostring(bad))
    end
  end)

  it("checks rate_limit, naming what is wrong", function()
    local function new(rl, provider)
      return pcall(wfs.new, { provider = provider or "complycube", api_key = "k", rate_limit = rl })
    end
    for rl, pattern in pairs({
      [0] = "'rate_limit' must be a number", [-1] = "'rate_limit' must be a number",
      [1e9] = "'rate_limit' must be a number",
      ["fast"] = "'rate_limit' must be requests per second",
    }) do
      local ok, err = new(rl)
      assert.is_false(ok)
      assert.matches(pattern, err, 1, true)
    end
    local cases = {
      { { rps = 0 }, "'rate_limit.rps' must be" },
      { { burst = 0 }, "'rate_limit.burst' must be an integer 1..1000" },
      { { burst = 1.5 }, "'rate_limit.burst' must be an integer" },
      { { rps = 5, shared = "process" }, "'rate_limit.shared' is not a rate_limit setting" },
      { { share = "memcache://h" }, "'rate_limit.share' must be" },
      { { share = {} }, "'rate_limit.share' must be" },
    }
    for _, case in ipairs(cases) do
      local ok, err = new(case[1])
      assert.is_false(ok)
      assert.matches(case[2], err, 1, true)
    end
    local ok, err = pcall(wfs.new, { provider = "idnow", token = "t", flow_id = "f", rate_limit = { burst = 2 } })
    assert.is_false(ok)
    assert.matches("'rate_limit' needs rps: idnow publishes no rate limit", err, 1, true)
    assert.is_true((new(false)))
    assert.is_true((new(25)))
    assert.is_true((new({ rps = 5, burst = 2, share = "redis://127.0.0.1:6379/0" })))
  end)

  -- The waits a client asks its sleep for, over a fake transport.
  -- the waits a client asked for, and when each request starts: the clock at the
  -- wait plus the wait (the sleep returns at once, so the run's speed drops out)
  local function paced_waits(opts, n)
    local waits, starts = {}, {}
    local o = { transport = function() return 200, {}, '{"type":"x"}' end,
                sleep = function(s)
                  waits[#waits + 1] = s
                  starts[#starts + 1] = core.monotonic() + s
                end }
    for k, v in pairs(opts) do o[k] = v end
    local c = wfs.new(o)
    for i = 1, n do c:session("id" .. i) end
    return waits, starts
  end

  local function spacing(times)
    local gaps = {}
    for i = 2, #times do gaps[#gaps + 1] = times[i] - times[i - 1] end
    return gaps
  end

  it("paces ComplyCube (10/s live, 5/s test keys) and Extend (10/s) on their own hosts only", function()
    local cases = {
      { { provider = "complycube", api_key = "live_budget_spec_1" }, 10 },
      { { provider = "complycube", api_key = "test_budget_spec_2" }, 5 },
      { { provider = "extend", api_key = "budget_spec_3" }, 10 },
      { { provider = "extend", api_key = "budget_spec_4", rate_limit = 25 }, 25 },
    }
    for _, case in ipairs(cases) do
      local waits, starts = paced_waits(case[1], 6)
      assert.is_true(#waits >= 5, case[1].api_key)
      for _, gap in ipairs(spacing(starts)) do
        -- one slot after another: starts one interval apart, however fast this run goes
        local interval = (1 + budget.MARGIN) / case[2]
        assert.is_true(math.abs(gap - interval) < 0.005, case[1].api_key .. ": " .. gap)
      end
    end
    -- no pacing: another host (a sandbox, a test server), IDnow, or rate_limit = false
    for _, o in ipairs({
      { provider = "complycube", api_key = "live_budget_spec_5", base_url = "http://127.0.0.1:9" },
      { provider = "idnow", token = "budget_spec_6", flow_id = "f" },
      { provider = "extend", api_key = "budget_spec_7", rate_limit = false },
    }) do
      assert.same({}, (paced_waits(o, 4)))
    end
  end)

  it("shares one budget between the clients of one account, and only theirs", function()
    local waits, starts = {}, {}
    local function client(key)
      return wfs.new{ provider = "extend", api_key = key,
                      sleep = function(s)
                        waits[#waits + 1] = s
                        starts[#starts + 1] = core.monotonic() + s
                      end,
                      transport = function() return 200, {}, '{"id":"x"}' end }
    end
    local a, b, other = client("shared_budget_key"), client("shared_budget_key"), client("another_key")
    for i = 1, 3 do
      a:session("a" .. i)
      b:session("b" .. i)
    end
    -- six requests of one account: six slots of one grid, one interval apart
    assert.equal(6, #waits)
    for _, gap in ipairs(spacing(starts)) do assert.is_true(gap > (1 + budget.MARGIN) / 10 - 0.005, gap) end
    waits = {}
    other:session("c1")
    assert.is_true(#waits <= 1 and (waits[1] or 0) < 0.11, "another account has a budget of its own")
  end)

  it("keeps the credential out of the budget's key", function()
    local seen
    local c = wfs.new{ provider = "extend", api_key = "super-secret-api-key-0123", sleep = function() end,
                       transport = function() return 200, {}, '{"id":"x"}' end }
    seen = rawget(c, "_budget")
    assert.is_table(seen)
    assert.is_nil(seen.key:find("super-secret", 1, true))
    assert.matches(core.sha256("super-secret-api-key-0123"):sub(1, 16), seen.key, 1, true)
    assert.is_nil(tostring(c):find("super-secret", 1, true))
  end)

  it("falls back to a local budget when Redis cannot be reached, and says so once", function()
    local notices, waits = {}, {}
    local c = wfs.new{ provider = "extend", api_key = "redis_fallback_key",
                       rate_limit = { rps = 10, share = "redis://127.0.0.1:1/0" },
                       sleep = function(s) waits[#waits + 1] = s end,
                       transport = function() return 200, {}, '{"id":"x"}' end,
                       on_request = function(info) if info.notice then notices[#notices + 1] = info.notice end end }
    for i = 1, 4 do assert.is_not_nil((c:session("r" .. i))) end
    assert.equal(1, #notices)
    assert.matches("rate_limit: ", notices[1], 1, true)
    assert.matches("local budget of the same rate", notices[1], 1, true)
    assert.is_nil(notices[1]:find("redis_fallback_key", 1, true))
    assert.is_true(#waits >= 3, "still paced")
  end)
end)
