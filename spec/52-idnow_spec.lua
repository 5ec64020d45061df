-- IDnow specifics over loopback HTTP: OAuth tokens, the page base, sorting.
local wfs = require "wfsession"
local core = require "wfsession.core"
local helpers = require "helpers"

describe("idnow", function()
  local sb
  setup(function() sb = helpers.sandbox{ sessions = 200, seed = 21, token_ttl = 3600 } end)
  teardown(function() if sb then sb:stop() end end)

  local function client(extra) return helpers.client(sb, "idnow", extra) end

  it("fetches one token for a whole listing and reuses it", function()
    local c = client()
    sb:reset_stats()
    assert.equal(200, #wfs.collect(c:sessions{ page_size = 20 }))
    assert.is_userdata(c:session(c:sessions{ max_items = 1 }:next().id))
    local st = sb:stats()
    assert.equal(1, st.token_requests)
    assert.equal(10 + 1, st.list_requests.idnow)
  end)

  it("renews a revoked token once on a 401", function()
    local c = client()
    assert.is_userdata(c:sessions{ max_items = 1 }:next())
    sb:reset_stats()
    sb:configure{ revoke_tokens = true }
    local ids = helpers.ids(c:sessions{ page_size = 50 })
    assert.equal(200, #ids)
    assert.equal(1, sb:stats().token_requests)
  end)

  it("renews a token before it expires", function()
    local short = helpers.sandbox{ sessions = 10, seed = 21, token_ttl = 1 }
    local ok, err = pcall(function()
      local c = helpers.client(short, "idnow")
      assert.equal(10, #wfs.collect(c:sessions()))
      core.sleep(1.2)
      assert.equal(10, #wfs.collect(c:sessions()))
      assert.equal(2, short:stats().token_requests)
    end)
    short:stop()
    assert(ok, err)
  end)

  it("supports client_secret_basic", function()
    assert.equal(200, #wfs.collect(client{ idnow_auth = "basic" }:sessions{ page_size = 100 }))
  end)

  it("reports a wrong secret as auth and never shows it", function()
    local c = client{ client_secret = "wrong_secret_xyz" }
    local s, msg, err = c:sessions():next()
    assert.is_nil(s)
    assert.equal("auth", err.kind)
    assert.not_matches("wrong_secret_xyz", msg, 1, true)
    assert.not_matches("wrong_secret_xyz", tostring(err.message), 1, true)
  end)

  it("does not renew a ready token it was given", function()
    local c = client{ token = "not-a-token", client_id = helpers.NONE, client_secret = helpers.NONE }
    sb:reset_stats()
    local _, _, err = c:sessions():next()
    assert.equal("auth", err.kind)
    assert.equal(0, sb:stats().token_requests)
  end)

  it("never yields a duplicate from a 1-based server, whatever the option", function()
    local one = helpers.sandbox{ sessions = 95, seed = 21, idnow_page_base = 1 }
    local ok, err = pcall(function()
      for _, base in ipairs({ "auto", 1 }) do
        local ids = helpers.ids(helpers.client(one, "idnow", { idnow_page_base = base }):sessions{ page_size = 10 })
        assert.equal(95, #ids)
        assert.is_true(helpers.unique(ids))
        assert.same(one:truth("idnow", {}), ids)
      end
    end)
    one:stop()
    assert(ok, err)
  end)

  it("sorts on the server and stops at a date bound once it is passed", function()
    local all = wfs.collect(client():sessions{ sort = "created_at", order = "desc", page_size = 20 })
    local bound = all[30].created_at
    sb:reset_stats()
    local want = sb:truth("idnow", { sort = "created_at", order = "desc", created_after = bound })
    local ids = helpers.ids(client{ concurrency = 1 }:sessions{ sort = "created_at", order = "desc",
                                                                page_size = 20, created_after = bound })
    assert.same(want, ids)
    assert.equal(29, #ids)
    assert.equal(2, sb:stats().list_requests.idnow)
    -- with pages in flight, those past the bound are cancelled: still far from all of them
    sb:reset_stats()
    ids = helpers.ids(client{ concurrency = 4 }:sessions{ sort = "created_at", order = "desc",
                                                          page_size = 20, created_after = bound })
    assert.same(want, ids)
    assert.is_true(sb:stats().list_requests.idnow <= 2 + 4)
  end)

  it("sorts by status and refuses a sort it cannot do", function()
    local ids = helpers.ids(client():sessions{ sort = "status", order = "asc", page_size = 50 })
    assert.same(sb:truth("idnow", { sort = "status", order = "asc" }), ids)
    assert.has_error(function() client():sessions{ sort = "updated_at" } end,
      "client:sessions: 'sort' idnow sorts by created_at or status only")
  end)

  it("keeps live and staging apart", function()
    local live = helpers.ids(client():sessions{ max_items = 5 })
    local staging = helpers.ids(client{ environment = "staging" }:sessions{ max_items = 5 })
    assert.equal(5, #staging)
    assert.not_same(live, staging)
  end)
end)
