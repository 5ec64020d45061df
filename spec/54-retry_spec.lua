-- Retries over loopback HTTP, with the sandbox's fault and rate-limit knobs.
local core = require "wfsession.core"
local helpers = require "helpers"

describe("retries against the sandbox", function()
  local sb
  setup(function() sb = helpers.sandbox{ sessions = 120, seed = 12 } end)
  teardown(function() if sb then sb:stop() end end)
  before_each(function()
    sb:configure{ fault_rate = 0, rate_limit = 0 }
    sb:reset_stats()
  end)

  local function recording_sleep(slept)
    return function(s)
      slept[#slept + 1] = s
      core.sleep(s)
    end
  end

  it("rides out 500, 503, dropped and truncated answers on every provider", function()
    sb:configure{ fault_rate = 0.25, faults = { "500", "503", "drop", "truncate" } }
    for _, provider in ipairs({ "complycube", "idnow", "extend" }) do
      local slept = {}
      local c = helpers.client(sb, provider, {
        retry = { max_retries = 4, base = 0.01, cap = 0.05, sleep = recording_sleep(slept) } })
      local ids = helpers.ids(c:sessions{ page_size = 10 })
      assert.same(sb:truth(provider, {}), ids)
      assert.is_true(#slept > 0, provider)
    end
    assert.is_true(sb:stats().faults >= 9)
  end)

  it("honours Retry-After on 429", function()
    sb:configure{ rate_limit = 3 }
    local slept = {}
    local c = helpers.client(sb, "extend", { retry = { max_retries = 5, sleep = recording_sleep(slept) } })
    assert.equal(120, #helpers.ids(c:sessions{ page_size = 15 }))
    assert.is_true(sb:stats().rate_limited > 0)
    assert.is_true(#slept > 0)
    for _, s in ipairs(slept) do assert.is_true(s >= 1, "slept " .. s) end
  end)

  it("returns at once, with retry_after, when the server asks for too long", function()
    sb:configure{ rate_limit = 1 }
    local slept = {}
    local c = helpers.client(sb, "complycube", { retry = { retry_after_max = 0.5, sleep = recording_sleep(slept) } })
    assert.is_userdata(c:sessions{ max_items = 1 }:next())
    local s, msg, err = c:sessions{ max_items = 1 }:next()
    assert.is_nil(s)
    assert.equal("rate_limited", err.kind, msg)
    assert.equal(429, err.status)
    assert.is_true(err.retry_after >= 1)
    assert.equal(1, err.attempts)
    assert.same({}, slept)
  end)

  it("says a failure is retryable even when retries are off", function()
    sb:configure{ fault_rate = 1, faults = { "503" } }
    local _, _, err = helpers.client(sb, "extend", { retry = false }):sessions():next()
    assert.equal("server", err.kind)
    assert.equal(503, err.status)
    assert.is_true(err.retryable)
    assert.equal(1, err.attempts)
    assert.equal("GET", err.method)
    assert.matches("/workflow_runs?", err.url, 1, true)
  end)

  it("counts every try in attempts", function()
    sb:configure{ fault_rate = 1, faults = { "500" } }
    local c = helpers.client(sb, "complycube", { retry = { max_retries = 1, base = 0.01, sleep = core.sleep } })
    local _, _, err = c:sessions():next()
    assert.equal(2, err.attempts)
    assert.equal(2, sb:stats().faults)
  end)

  it("does not retry a body that is not JSON", function()
    sb:configure{ fault_rate = 1, faults = { "malformed" } }
    local _, msg, err = helpers.client(sb, "complycube"):sessions():next()
    assert.equal("decode", err.kind, msg)
    assert.is_false(err.retryable)
    assert.equal(1, err.attempts)
  end)

  it("times out a body that trickles, within the timeout", function()
    sb:configure{ fault_rate = 1, faults = { "slow" }, slow_seconds = 3 }
    local c = helpers.client(sb, "complycube", { timeout = 0.5, retry = false })
    local t0 = core.now()
    local _, msg, err = c:sessions():next()
    assert.equal("timeout", err.kind, msg)
    assert.is_true(core.now() - t0 < 2)
  end)
end)
