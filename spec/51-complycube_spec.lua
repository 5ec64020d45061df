-- ComplyCube specifics and wfs.new's option checks, over loopback HTTP.
local wfs = require "wfsession"
local helpers = require "helpers"

describe("complycube", function()
  local sb
  setup(function() sb = helpers.sandbox{ sessions = 300, seed = 9 } end)
  teardown(function() if sb then sb:stop() end end)

  it("reports a wrong key as auth, for listing and get-one, without the key", function()
    local c = helpers.client(sb, "complycube", { api_key = "test_wrong_key_987" })
    local s, msg, err = c:sessions():next()
    assert.is_nil(s)
    assert.equal("auth", err.kind)
    assert.equal(401, err.status)
    assert.equal("unauthorized", err.code)
    assert.not_matches("test_wrong_key_987", msg, 1, true)
    s, msg, err = c:session("000000000000000000000001")
    assert.is_nil(s)
    assert.equal("auth", err.kind)
    assert.not_matches("test_wrong_key_987", msg, 1, true)
  end)

  it("sends outcome to the server and keeps status client-side", function()
    local seen = {}
    local c = helpers.client(sb, "complycube", { on_request = function(info) seen[#seen + 1] = info.url end })
    wfs.collect(c:sessions{ outcome = "rejected", status = "completed", max_items = 5 })
    assert.matches("outcome=rejected", seen[1], 1, true)
    assert.not_matches("status=", seen[1], 1, true)
  end)

  it("stops a newest-first listing at a client-side date bound", function()
    -- created_after is a server filter at ComplyCube; the listing must still be exact
    local all = wfs.collect(helpers.client(sb, "complycube"):sessions{ page_size = 100 })
    local bound = all[50].created_at
    local ids = helpers.ids(helpers.client(sb, "complycube"):sessions{ created_after = bound })
    assert.same(sb:truth("complycube", { created_after = bound }), ids)
    assert.equal(49, #ids)
  end)

  it("reads JSON null and dropped fields as nil", function()
    for s in helpers.client(sb, "complycube"):sessions{ status = "running", max_items = 3 } do
      assert.is_nil(s.outcome)
      assert.is_nil(s.raw_outcome)
      assert.is_nil(s.completed_at)
      assert.is_false(s:is_terminal())
    end
  end)

  it("gets checks of one session", function()
    local first = helpers.client(sb, "complycube"):sessions{ status = "completed" }:next()
    local s = assert(helpers.client(sb, "complycube"):session(first.id))
    local checks = s:checks()
    assert.is_true(#checks > 0)
    assert.is_string(checks[1].type)
    assert.is_string(s.completed_at)
  end)
end)

describe("client helpers", function()
  local sb
  setup(function() sb = helpers.sandbox{ sessions = 50, seed = 9 } end)
  teardown(function() if sb then sb:stop() end end)

  it("reads sessions by id, in order, with not_found for unknown ids", function()
    local c = helpers.client(sb, "complycube")
    local ids = helpers.ids(c:sessions{ max_items = 3 })
    ids[4] = "0000000000000000deadbeef"
    local got = {}
    for id, s, _, err in c:sessions_by_id(ids, { concurrency = 2 }) do
      got[#got + 1] = s and s.id or err.kind
      assert.is_string(id)
    end
    assert.same({ ids[1], ids[2], ids[3], "not_found" }, got)
    assert.has_error(function() c:sessions_by_id({ "a", 3 }) end)
  end)

  it("waits for a terminal status, or times out with kind timeout", function()
    local c = helpers.client(sb, "complycube")
    local done = c:sessions{ status = "completed" }:next()
    local s = assert(c:wait(done.id, { timeout = 5, interval = 0.05 }))
    assert.equal(done.id, s.id)
    local running = c:sessions{ status = "running" }:next()
    local none, msg, err = c:wait(running.id, { timeout = 0.2, interval = 0.05 })
    assert.is_nil(none)
    assert.equal("timeout", err.kind)
    assert.matches("not terminal", msg)
  end)

  it("exposes retry and time", function()
    local calls = 0
    local v = wfs.retry(function()
      calls = calls + 1
      if calls < 3 then return nil, "flaky", { kind = "network", retryable = true } end
      return "ok"
    end, { max_retries = 2, sleep = function() end })
    assert.equal("ok", v)
    assert.equal(3, calls)
    assert.equal(1736245800, wfs.time("2025-01-07T10:30:00Z"))
    assert.is_nil((wfs.time("2025-13-01T00:00:00Z")))
  end)
end)

describe("wfs.new", function()
  local function new(o) return function() return wfs.new(o) end end

  it("names the option that is wrong", function()
    assert.has_error(new{ provider = "onfido" },
      "wfsession: 'provider' must be \"complycube\", \"idnow\" or \"extend\"")
    assert.has_error(new{ provider = "complycube" }, "wfsession: 'api_key' is required for complycube")
    assert.has_error(new{ provider = "complycube", api_key = 42 }, "wfsession: 'api_key' must be a string, got number")
    assert.has_error(new{ provider = "complycube", api_key = "k", colour = 1 },
      "wfsession: 'colour' is not a wfsession option")
    assert.has_error(new{ provider = "complycube", api_key = "k", flow_id = "f" },
      "wfsession: 'flow_id' is an option of idnow, not complycube")
    assert.has_error(new{ provider = "complycube", api_key = "k", page_size = 0 },
      "wfsession: 'page_size' must be an integer 1..1000")
    assert.has_error(new{ provider = "complycube", api_key = "k", page_size = 2.5 })
    assert.has_error(new{ provider = "complycube", api_key = "k", timeout = -1 },
      "wfsession: 'timeout' must be a positive number of seconds, at most 1000000")
    assert.has_error(new{ provider = "complycube", api_key = "k", timeout = 1e300 },
      "wfsession: 'timeout' must be a positive number of seconds, at most 1000000")
    assert.has_error(new{ provider = "complycube", api_key = "k", base_url = "ftp://x" },
      "wfsession: 'base_url' must be an http:// or https:// URL")
    assert.has_error(new{ provider = "complycube", api_key = "k\r\nX-Evil: 1" },
      "wfsession: 'api_key' must not contain CR, LF or NUL")
    assert.has_error(new{ provider = "complycube", api_key = "k", retry = "yes" },
      "wfsession: 'retry' must be a table of retry settings or false")
    assert.has_error(new{ provider = "complycube", api_key = "k", transport = 3 })
    assert.has_error(new{ provider = "extend", api_key = "k", api_version = "2024-01-01" },
      "wfsession: 'api_version' must be \"2026-02-09\" or \"2025-04-21\" (the legacy envelope)")
    assert.has_error(new{ provider = "idnow", token = "t" }, "wfsession: 'flow_id' is required for idnow")
    assert.has_error(new{ provider = "idnow", flow_id = "f", environment = "prod", token = "t" },
      "wfsession: 'environment' must be \"live\" or \"staging\"")
    assert.has_error(new{ provider = "idnow", flow_id = "f", token = "t", client_id = "c" })
    assert.has_error(function() wfs.new("complycube") end)
  end)

  it("keeps secrets out of tostring and out of the client table", function()
    local c = wfs.new{ provider = "idnow", flow_id = "f", client_id = "cid_123456", client_secret = "sec_abcdef" }
    assert.equal("wfsession.client: idnow (https://api.eu.platform.idnow.io/api)", tostring(c))
    for _, v in pairs(c) do
      assert.not_equal("sec_abcdef", v)
    end
  end)

  it("refuses ids with CR, LF or NUL before any request", function()
    local c = wfs.new{ provider = "complycube", api_key = "k",
                       transport = function() error("no request expected") end }
    assert.has_error(function() c:session("a\nb") end, "wfsession: 'id' must not contain CR, LF or NUL")
    assert.has_error(function() c:session("") end, "wfsession: 'id' must not be empty")
    assert.has_error(function() c:session(12) end, "wfsession: 'id' must be a string, got number")
  end)
end)
