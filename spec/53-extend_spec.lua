-- Extend specifics over loopback HTTP: versions, cursors, server filters.
local wfs = require "wfsession"
local core = require "wfsession.core"
local helpers = require "helpers"

describe("extend", function()
  local sb
  setup(function() sb = helpers.sandbox{ sessions = 250, seed = 33 } end)
  teardown(function() if sb then sb:stop() end end)

  local function client(extra) return helpers.client(sb, "extend", extra) end

  it("reads the legacy 2025-04-21 envelopes to the same sessions", function()
    local new = wfs.collect(client():sessions{ page_size = 100 })
    local old = wfs.collect(client{ api_version = "2025-04-21" }:sessions{ page_size = 100 })
    assert.equal(#new, #old)
    for i = 1, #new do
      assert.equal(new[i].id, old[i].id)
      assert.equal(new[i].status, old[i].status)
      assert.equal(new[i].workflow_id, old[i].workflow_id)
      assert.equal(new[i].workflow_name, old[i].workflow_name)
    end
    local s = assert(client{ api_version = "2025-04-21" }:session(new[1].id))
    assert.equal(new[1].id, s.id)
  end)

  it("answers 400 without the version header", function()
    local transport, close = require("wfsession.transport.curl").new()
    local status, headers, body = transport{ method = "GET", url = sb.extend.base_url .. "/workflow_runs",
      headers = { Authorization = "Bearer " .. sb.extend.api_key }, timeout = 5 }
    close()
    assert.equal(400, status)
    local _, err = core.http_error("extend", status, headers, body)
    assert.equal("http", err.kind)
    assert.equal("INVALID_REQUEST", err.code)
  end)

  it("sends one raw status to the server when one matches", function()
    local urls = {}
    local c = client{ on_request = function(info) urls[#urls + 1] = info.url end }
    wfs.collect(c:sessions{ outcome = "approved", max_items = 3 })
    assert.matches("status=PROCESSED", urls[1], 1, true)
    urls = {}
    wfs.collect(c:sessions{ status = "completed", max_items = 3 })
    assert.not_matches("status=", urls[1], 1, true)
    urls = {}
    assert.same({}, wfs.collect(c:sessions{ status = "expired" }))
    assert.equal(0, #urls)
  end)

  it("stops an ascending listing at a created_before bound", function()
    local all = wfs.collect(client():sessions{ sort = "created_at", order = "asc", page_size = 25 })
    local bound = all[40].created_at
    sb:reset_stats()
    local want = sb:truth("extend", { sort = "created_at", order = "asc", created_before = bound })
    for _, conc in ipairs({ 1, 4 }) do
      sb:reset_stats()
      local ids = helpers.ids(client{ concurrency = conc }:sessions{ sort = "created_at", order = "asc",
                                                                     page_size = 25, created_before = bound })
      assert.same(want, ids)
      assert.equal(39, #ids)
      -- the page with the bound, and at most `concurrency` pages ahead of it
      local made = sb:stats().list_requests.extend
      if conc == 1 then assert.equal(2, made) else assert.is_true(made >= 2 and made <= 2 + conc, made) end
    end
  end)

  it("keeps the request id of an error", function()
    local s, msg, err = client():session("workflow_run_nope")
    assert.is_nil(s)
    assert.equal("not_found", err.kind)
    assert.equal("NOT_FOUND", err.code)
    assert.is_string(err.request_id)
    assert.is_false(err.retryable)
    assert.is_string(msg)
  end)

  it("reports a wrong key as auth", function()
    local _, _, err = client{ api_key = "bad_key_123" }:sessions():next()
    assert.equal("auth", err.kind)
  end)

  it("sends the workspace header when given", function()
    assert.equal(250, #wfs.collect(client{ workspace_id = "ws_1" }:sessions{ page_size = 250 }))
  end)
end)

describe("drift", function()
  it("never yields an id twice while sessions arrive, on page-number providers", function()
    local sb = helpers.sandbox{ sessions = 300, seed = 44, insert_every = 1, insert_count = 7 }
    local ok, err = pcall(function()
      for _, provider in ipairs({ "complycube", "idnow" }) do
        local before = sb:truth(provider, { sort = "created_at", order = "desc" })
        local q = { page_size = 25 }
        if provider == "idnow" then q.sort, q.order = "created_at", "desc" end
        local ids = helpers.ids(helpers.client(sb, provider):sessions(q))
        assert.is_true(helpers.unique(ids), provider)
        local got = {}
        for _, id in ipairs(ids) do got[id] = true end
        for _, id in ipairs(before) do assert.is_true(got[id], provider .. " lost " .. id) end
      end
    end)
    sb:stop()
    assert(ok, err)
  end)
end)
