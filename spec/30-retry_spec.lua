-- luacheck: std +busted
local retry = require "wfsession.retry"

-- asserts that fn raises an error whose message contains `text` (position prefix allowed)
local function raises(fn, text)
  local ok, msg = pcall(fn)
  assert.is_false(ok, "expected an error containing: " .. text)
  assert.is_string(msg)
  assert.truthy(msg:find(text, 1, true), "got: " .. msg)
end

-- A fake host: a clock that only moves when the policy sleeps.
local function fake_host(opts)
  local host = { t = opts and opts.start or 1000, sleeps = {} }
  host.clock = function() return host.t end
  host.sleep = function(s)
    host.sleeps[#host.sleeps + 1] = s
    host.t = host.t + s
  end
  host.random = function() return opts and opts.r or 1 end
  return host
end

local function policy(host, extra)
  local p = { sleep = host.sleep, clock = host.clock, random = host.random }
  for k, v in pairs(extra or {}) do p[k] = v end
  return p
end

-- fails `n` times with `err` (a fresh copy each time), then succeeds
local function flaky(n, err)
  local calls = 0
  local fn = function(...)
    calls = calls + 1
    if calls <= n then
      local e = {}
      for k, v in pairs(err) do e[k] = v end
      return nil, "boom " .. calls, e
    end
    return ...
  end
  return fn, function() return calls end
end

describe("retry.policy", function()
  it("fills the documented defaults", function()
    local p = retry.policy()
    assert.same({ 2, 0.5, 20, 60 }, { p.max_retries, p.base, p.cap, p.retry_after_max })
    assert.is_nil(p.deadline)
    assert.is_function(p.sleep)
    assert.is_function(p.clock)
    assert.equal(math.random, p.random)
    assert.same({ max_retries = 2, base = 0.5, cap = 20, retry_after_max = 60 }, retry.DEFAULTS)
  end)

  it("false means no retries, a table is copied with defaults filled", function()
    assert.equal(0, retry.policy(false).max_retries)
    assert.equal(2, retry.policy(true).max_retries)
    local opts = { max_retries = 5, deadline = 30 }
    local p = retry.policy(opts)
    assert.are_not.equal(opts, p)
    assert.same({ 5, 30, 0.5, 20 }, { p.max_retries, p.deadline, p.base, p.cap })
    assert.is_nil(opts.base)  -- the caller's table is left alone
  end)

  it("accepts an integral float for max_retries", function()
    assert.equal(3, retry.policy({ max_retries = 3.0 }).max_retries)
    if math.type then assert.equal("integer", math.type(retry.policy({ max_retries = 3.0 }).max_retries)) end
  end)

  it("rejects bad values with a message naming the key", function()
    local cases = {
      { { max_retries = -1 }, "retry.max_retries: expected an integer 0..100, got -1" },
      { { max_retries = 1.5 }, "retry.max_retries: expected an integer 0..100, got 1.5" },
      { { max_retries = "2" }, "retry.max_retries: expected an integer 0..100, got string" },
      { { max_retries = math.huge }, "retry.max_retries: expected an integer 0..100" },
      { { max_retries = 1e308 }, "retry.max_retries: expected an integer 0..100" },
      { { cap = 1e9 }, "retry.cap: expected a number of seconds > 0, at most 1000000, got 1" },
      { { base = 0 }, "retry.base: expected a number of seconds > 0, at most 1000000, got 0" },
      { { base = 0 / 0 }, "retry.base: expected a number of seconds > 0" },
      { { cap = -3 }, "retry.cap: expected a number of seconds > 0, at most 1000000, got -3" },
      { { retry_after_max = -1 }, "retry.retry_after_max: expected a number of seconds >= 0, at most 1000000, got -1" },
      { { deadline = 0 }, "retry.deadline: expected nil or a number of seconds > 0, at most 1000000, got 0" },
      { { sleep = 5 }, "retry.sleep: expected a function, got 5" },
      { { clock = "now" }, "retry.clock: expected a function, got string" },
      { { random = {} }, "retry.random: expected a function, got table" },
      { { retries = 3 }, "retry.retries: unknown option" },
      { { [1] = 3 }, "retry.1: unknown option" },
    }
    for _, c in ipairs(cases) do
      local ok, msg = pcall(retry.policy, c[1])
      assert.is_false(ok)
      assert.truthy(msg:find(c[2], 1, true), msg)
    end
    raises(function() retry.policy("fast") end,
      "retry: policy must be a table, false or nil (got string)")
  end)

  it("points the error at the caller's line", function()
    local ok, msg = pcall(function() retry.policy({ cap = 0 }) end)
    assert.is_false(ok)
    assert.truthy(msg:match("^[^:]*30%-retry_spec%.lua:%d+: retry%.cap"), msg)
  end)

  it("accepts a callable table for sleep", function()
    local s = setmetatable({}, { __call = function() end })
    assert.equal(s, retry.policy({ sleep = s }).sleep)
  end)
end)

describe("retry.backoff", function()
  it("is random() * min(cap, base * 2^n)", function()
    local p = retry.policy({ base = 0.5, cap = 20, random = function() return 1 end })
    local got = {}
    for n = 0, 7 do got[#got + 1] = retry.backoff(p, n) end
    assert.same({ 0.5, 1, 2, 4, 8, 16, 20, 20 }, got)
    p.random = function() return 0.25 end
    assert.equal(0.5, retry.backoff(p, 2))
    assert.equal(5, retry.backoff(p, 100))
    assert.equal(5, retry.backoff(p, 5000)) -- 2^5000 overflows to inf; cap still wins
  end)

  it("clamps a random source outside [0, 1] and rejects a non-number", function()
    local p = retry.policy({ random = function() return 7 end })
    assert.equal(0.5, retry.backoff(p, 0))
    p.random = function() return -1 end
    assert.equal(0, retry.backoff(p, 0))
    p.random = function() return "x" end
    raises(function() retry.backoff(p, 0) end, "retry.random: expected a number in [0, 1), got string")
  end)

  it("rejects a bad retry number", function()
    local p = retry.policy()
    raises(function() retry.backoff(p, -1) end,
      "bad argument #2 to 'backoff' (number >= 0 expected, got -1)")
    raises(function() retry.backoff(nil, 1) end,
      "bad argument #1 to 'backoff' (policy table expected, got nil)")
  end)
end)

describe("retry.server_wait", function()
  local NOW = 1445412480 -- Wed, 21 Oct 2015 07:28:00 GMT

  it("reads Retry-After as delta seconds", function()
    assert.equal(120, retry.server_wait({ ["retry-after"] = "120" }, NOW))
    assert.equal(0, retry.server_wait({ ["retry-after"] = "0" }, NOW))
    assert.equal(1.5, retry.server_wait({ ["retry-after"] = " 1.5 " }, NOW))
    assert.equal(7, retry.server_wait({ ["retry-after"] = 7 }, NOW))
    assert.equal(3, retry.server_wait({ ["retry-after"] = { "3", "9" } }, NOW))
  end)

  it("reads Retry-After as an HTTP date, in all three RFC 9110 forms", function()
    assert.equal(30, retry.server_wait({ ["retry-after"] = "Wed, 21 Oct 2015 07:28:30 GMT" }, NOW))
    assert.equal(30, retry.server_wait({ ["retry-after"] = "Wednesday, 21-Oct-15 07:28:30 GMT" }, NOW))
    assert.equal(30, retry.server_wait({ ["retry-after"] = "Wed Oct 21 07:28:30 2015" }, NOW))
    assert.equal(86400 + 3661,
      retry.server_wait({ ["retry-after"] = "Thu, 22 Oct 2015 08:29:01 GMT" }, NOW))
    -- leap day and year boundary
    assert.equal(951782400, retry.server_wait({ ["retry-after"] = "Tue, 29 Feb 2000 00:00:00 GMT" }, 0))
    assert.equal(946684800, retry.server_wait({ ["retry-after"] = "Sat, 01 Jan 2000 00:00:00 GMT" }, 0))
  end)

  it("floors a date in the past at 0", function()
    assert.equal(0, retry.server_wait({ ["retry-after"] = "Wed, 21 Oct 2015 07:00:00 GMT" }, NOW))
  end)

  it("falls back to retry-after-ms, then x-ratelimit-reset", function()
    assert.equal(1.5, retry.server_wait({ ["retry-after-ms"] = "1500" }, NOW))
    assert.equal(2, retry.server_wait({ ["retry-after"] = "2", ["retry-after-ms"] = "9000",
                                         ["x-ratelimit-reset"] = "50" }, NOW))
    assert.equal(9, retry.server_wait({ ["retry-after-ms"] = "9000", ["x-ratelimit-reset"] = "50" }, NOW))
    -- an unparseable header does not hide the next one
    assert.equal(0.25, retry.server_wait({ ["retry-after"] = "soon", ["retry-after-ms"] = "250" }, NOW))
  end)

  it("reads x-ratelimit-reset as delta seconds, epoch seconds or epoch milliseconds", function()
    assert.equal(42, retry.server_wait({ ["x-ratelimit-reset"] = "42" }, NOW))
    assert.equal(15, retry.server_wait({ ["x-ratelimit-reset"] = tostring(NOW + 15) }, NOW))
    assert.equal(0, retry.server_wait({ ["x-ratelimit-reset"] = tostring(NOW - 15) }, NOW))
    assert.equal(15.5, retry.server_wait({ ["x-ratelimit-reset"] = tostring((NOW + 15.5) * 1000) }, NOW))
  end)

  it("ignores x-ratelimit-reset while quota remains or on a status other than 429", function()
    local h = { ["x-ratelimit-reset"] = "42", ["x-ratelimit-remaining"] = "10" }
    assert.is_nil(retry.server_wait(h, NOW))
    h["x-ratelimit-remaining"] = "0"
    assert.equal(42, retry.server_wait(h, NOW, 429))
    assert.is_nil(retry.server_wait(h, NOW, 503))
    assert.equal(5, retry.server_wait({ ["retry-after"] = "5" }, NOW, 503))
  end)

  it("returns nil for missing or garbage headers", function()
    assert.is_nil(retry.server_wait(nil, NOW))
    assert.is_nil(retry.server_wait({}, NOW))
    local garbage = { "", "-5", "1e3", "0x10", "soon", "5 seconds", "inf", "nan",
                      "Wed, 32 Oct 2015 07:28:00 GMT", "Wed, 30 Feb 2015 07:28:00 GMT",
                      "Thu, 29 Feb 2001 00:00:00 GMT", "Wed, 21 Oct 2015 25:28:00 GMT",
                      "Wed, 21 Foo 2015 07:28:00 GMT", "Wed, 21 Oct 2015 07:28:00 PST",
                      string.rep("9", 100) }
    for _, v in ipairs(garbage) do
      assert.is_nil(retry.server_wait({ ["retry-after"] = v }, NOW), v)
      assert.is_nil(retry.server_wait({ ["retry-after-ms"] = v }, NOW), v)
      assert.is_nil(retry.server_wait({ ["x-ratelimit-reset"] = v }, NOW), v)
    end
    assert.is_nil(retry.server_wait({ ["retry-after"] = true }, NOW))
    assert.is_nil(retry.server_wait({ ["retry-after"] = 0 / 0 }, NOW))
  end)

  it("defaults now to the wall clock and rejects bad arguments", function()
    local w = retry.server_wait({ ["x-ratelimit-reset"] = tostring(os.time() + 100) })
    assert.truthy(w >= 98 and w <= 100, tostring(w))
    raises(function() retry.server_wait("retry-after: 5") end,
      "bad argument #1 to 'server_wait' (table expected, got string)")
    raises(function() retry.server_wait({}, "now") end,
      "bad argument #2 to 'server_wait' (number expected, got string)")
  end)
end)

describe("retry.run", function()
  it("returns every value of a first success, without sleeping", function()
    local host = fake_host()
    local n = select("#", retry.run(policy(host), function(a, b) return a, nil, b, nil end, 1, 2))
    assert.equal(4, n)
    local a, b, c = retry.run(policy(host), function(...) return ... end, "x", nil, "z")
    assert.same({ "x", nil, "z" }, { a, b, c })
    assert.same({}, host.sleeps)
  end)

  it("retries a retryable failure with full-jitter backoff and counts attempts", function()
    local host = fake_host({ r = 1 })
    local fn, calls = flaky(2, { kind = "server", retryable = true })
    local v = retry.run(policy(host, { max_retries = 3, base = 0.5 }), fn, "done")
    assert.equal("done", v)
    assert.equal(3, calls())
    assert.same({ 0.5, 1 }, host.sleeps)
  end)

  it("gives up after max_retries retries: attempts counts every try", function()
    local host = fake_host({ r = 0.5 })
    local fn, calls = flaky(10, { kind = "server", retryable = true })
    local v, msg, err = retry.run(policy(host, { max_retries = 1 }), fn)
    assert.is_nil(v)
    assert.equal("boom 2", msg)
    assert.equal(2, err.attempts)
    assert.equal(2, calls())
    assert.same({ 0.25 }, host.sleeps)
  end)

  it("caps the backoff", function()
    local host = fake_host({ r = 1 })
    local fn = flaky(10, { retryable = true })
    retry.run(policy(host, { max_retries = 6, base = 1, cap = 5 }), fn)
    assert.same({ 1, 2, 4, 5, 5, 5 }, host.sleeps)
  end)

  it("does not retry a failure that is not retryable", function()
    local host = fake_host()
    local fn, calls = flaky(10, { kind = "auth", retryable = false, status = 401 })
    local v, msg, err = retry.run(policy(host), fn)
    assert.is_nil(v)
    assert.equal("boom 1", msg)
    assert.same({ kind = "auth", retryable = false, status = 401, attempts = 1 }, err)
    assert.equal(1, calls())
    assert.same({}, host.sleeps)
  end)

  it("with retries off still reports attempts and retryable", function()
    local host = fake_host()
    local fn, calls = flaky(10, { retryable = true })
    local _, _, err = retry.run(false, fn)
    assert.equal(1, err.attempts)
    assert.is_true(err.retryable)
    assert.equal(1, calls())
    local p = retry.policy(false)
    p.sleep = host.sleep
    assert.equal(1, select(3, retry.run(p, (flaky(10, { retryable = true })))).attempts)
  end)

  it("passes through a failure whose error is not a table", function()
    local host = fake_host()
    local calls = 0
    local res = { retry.run(policy(host), function() calls = calls + 1; return nil, "no such file", 2 end) }
    assert.same({ nil, "no such file", 2 }, res)
    assert.equal(1, calls)
  end)

  it("waits err.retry_after instead of the backoff", function()
    local host = fake_host({ r = 1 })
    local fn, calls = flaky(2, { kind = "rate_limited", retryable = true, retry_after = 7 })
    assert.equal("ok", retry.run(policy(host), fn, "ok"))
    assert.equal(3, calls())
    assert.same({ 7, 7 }, host.sleeps)
  end)

  it("retries at once on retry_after = 0", function()
    local host = fake_host({ r = 1 })
    local fn, calls = flaky(1, { retryable = true, retry_after = 0 })
    assert.equal("ok", retry.run(policy(host), fn, "ok"))
    assert.equal(2, calls())
    assert.same({}, host.sleeps)
  end)

  it("returns at once when the server wait is above retry_after_max", function()
    local host = fake_host()
    local fn, calls = flaky(5, { kind = "rate_limited", retryable = true, retry_after = 61 })
    local v, msg, err = retry.run(policy(host, { retry_after_max = 60 }), fn)
    assert.is_nil(v)
    assert.equal("boom 1", msg)
    assert.equal(61, err.retry_after)
    assert.equal(1, err.attempts)
    assert.equal(1, calls())
    assert.same({}, host.sleeps)
    -- exactly retry_after_max is still honoured
    fn, calls = flaky(1, { retryable = true, retry_after = 60 })
    assert.equal("ok", retry.run(policy(host, { retry_after_max = 60 }), fn, "ok"))
    assert.equal(2, calls())
    assert.same({ 60 }, host.sleeps)
  end)

  it("never sleeps past the deadline", function()
    local host = fake_host({ start = 100, r = 1 })
    local fn, calls = flaky(100, { retryable = true })
    local v, msg, err = retry.run(policy(host, { max_retries = 10, base = 1, deadline = 5 }), fn)
    assert.is_nil(v)
    assert.equal("boom 3", msg)
    assert.equal(3, err.attempts)
    assert.equal(3, calls())
    assert.same({ 1, 2 }, host.sleeps) -- the next wait (4 s) would end at 107 > 105
    assert.equal(103, host.t)
  end)

  it("counts the time spent inside fn against the deadline", function()
    local host = fake_host({ start = 0, r = 1 })
    local calls = 0
    local fn = function()
      calls = calls + 1
      host.t = host.t + 3 -- a slow request
      return nil, "slow", { retryable = true, retry_after = 1 }
    end
    local _, _, err = retry.run(policy(host, { max_retries = 10, deadline = 10 }), fn)
    -- t: 3 +1 sleep, 7 +1 sleep, 11 -> stop (11 + 1 > 10)
    assert.equal(3, err.attempts)
    assert.same({ 1, 1 }, host.sleeps)
  end)

  it("propagates errors raised by fn and validates its arguments", function()
    raises(function() retry.run(nil, function() error("bug", 0) end) end, "bug")
    raises(function() retry.run(nil, 42) end,
      "bad argument #2 to 'run' (function expected, got number)")
    raises(function() retry.run({ max_retries = -2 }, print) end,
      "retry.max_retries: expected an integer 0..100, got -2")
  end)
end)

describe("retry.call", function()
  it("is run(policy(opts), fn)", function()
    local host = fake_host({ r = 1 })
    local fn, calls = flaky(2, { retryable = true })
    -- flaky returns its arguments on success: the wrapper passes one
    local ok_fn = function() return fn("yes") end
    assert.equal("yes", retry.call(ok_fn, policy(host)))
    assert.equal(3, calls())
    assert.same({ 0.5, 1 }, host.sleeps)
  end)

  it("uses ngx.sleep by default inside OpenResty", function()
    local slept = {}
    local saved = rawget(_G, "ngx")
    rawset(_G, "ngx", { sleep = function(s) slept[#slept + 1] = s end })
    local ok, err = pcall(function()
      local fn = flaky(1, { retryable = true, retry_after = 2 })
      return retry.call(function() return fn("v") end)
    end)
    rawset(_G, "ngx", saved)
    assert.is_true(ok, err)
    assert.same({ 2 }, slept)
  end)

  it("names its arguments in errors", function()
    raises(function() retry.call(nil) end,
      "bad argument #1 to 'retry' (function expected, got nil)")
    raises(function() retry.call(print, { cap = "big" }) end,
      "retry.cap: expected a number of seconds > 0, at most 1000000, got string")
  end)
end)
