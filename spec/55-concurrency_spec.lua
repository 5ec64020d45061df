-- Pages and lookups in flight, over loopback HTTP to the sandbox: the same
-- sessions, in the same order, as one page at a time; drift, faults and
-- max_items with several requests out at once.
local helpers = require "helpers"

local N = 1500
local PROVIDERS = { "complycube", "idnow", "extend" }

describe("concurrent listings", function()
  local sb
  setup(function() sb = assert(helpers.sandbox{ sessions = N, seed = 11 }) end)
  teardown(function() if sb then sb:stop() end end)
  local function client(provider, extra) return helpers.client(sb, provider, extra) end

  for _, provider in ipairs(PROVIDERS) do
    describe(provider, function()
      it("lists the same sessions in the same order at every concurrency", function()
        local truth = sb:truth(provider, {})
        for _, conc in ipairs({ 1, 4, 8 }) do
          local ids = helpers.ids(client(provider, { concurrency = conc }):sessions{ page_size = 100 })
          assert.same(truth, ids, "concurrency " .. conc)
        end
      end)

      it("asks for no page max_items does not need, counting those in flight", function()
        local c = client(provider, { concurrency = 4 })
        sb:reset_stats()
        assert.equal(250, #helpers.ids(c:sessions{ page_size = 100, max_items = 250 }))
        assert.equal(3, sb:stats().list_requests[provider])
        sb:reset_stats()
        assert.equal(30, #helpers.ids(c:sessions{ max_items = 30 }))
        assert.equal(1, sb:stats().list_requests[provider])
      end)

      it("rides out faults with pages in flight, each page in its place", function()
        sb:configure{ fault_rate = 0.2, faults = { "500", "503", "drop", "truncate" } }
        finally(function() sb:configure{ fault_rate = 0 } end)
        local c = client(provider, { concurrency = 4, retry = { max_retries = 6, base = 0.01, cap = 0.05 } })
        assert.same(sb:truth(provider, {}), helpers.ids(c:sessions{ page_size = 50 }))
        assert.is_true(sb:stats().faults > 0)
      end)
    end)
  end

  describe("while sessions arrive", function()
    after_each(function() sb:configure{ insert_every = 0 }; sb:reset_drift() end)

    for _, case in ipairs({ { "complycube", {} }, { "idnow", { sort = "created_at", order = "desc" } },
                            { "extend", {} } }) do
      local provider, query = case[1], case[2]
      it(provider .. " yields every session that was there once, none twice", function()
        local truth = sb:truth(provider, query)
        sb:configure{ insert_every = 2, insert_count = 3 }
        for _, conc in ipairs({ 4, 8 }) do
          local q = { page_size = 40 }
          for k, v in pairs(query) do q[k] = v end
          local ids = helpers.ids(client(provider, { concurrency = conc }):sessions(q))
          assert.is_true(helpers.unique(ids), "a duplicate at concurrency " .. conc)
          -- the sessions of the start, in their order; the new ones only before them
          local at = {}
          for i, id in ipairs(ids) do at[id] = i end
          local last = 0
          for _, id in ipairs(truth) do
            assert.is_not_nil(at[id], id .. " missing at concurrency " .. conc)
            assert.is_true(at[id] > last, "out of order at concurrency " .. conc)
            last = at[id]
          end
        end
        local inserted = 0
        for _, k in pairs(sb:stats().inserted) do inserted = inserted + k end
        assert.is_true(inserted > 0, "no session arrived")
      end)
    end
  end)

  describe("sessions_by_id", function()
    it("answers in input order, each failure for its own id", function()
      for _, provider in ipairs(PROVIDERS) do
        local all = sb:truth(provider, {})
        local ids, want = {}, {}
        for i = 1, 40 do
          local id = all[i * 7]
          if i % 13 == 0 then id = "no-such-session-" .. i end
          ids[i], want[i] = id, id:sub(1, 3) ~= "no-"
        end
        local got = 0
        for id, s, msg, err in client(provider):sessions_by_id(ids, { concurrency = 8 }) do
          got = got + 1
          assert.equal(ids[got], id)
          if want[got] then
            assert.equal(id, s and s.id, msg)
          else
            assert.is_nil(s)
            assert.equal("not_found", err.kind)
          end
        end
        assert.equal(40, got)
      end
    end)

    it("stops the lookups in flight when a loop breaks (Lua 5.4)", function()
      if _VERSION ~= "Lua 5.4" then return pending("needs the generic-for closing value") end
      local c = helpers.client(sb, "complycube", {})
      sb:configure{ latency = 0.05 }
      finally(function() sb:configure{ latency = 0 } end)
      sb:reset_stats()
      local n = 0
      for _, s in c:sessions_by_id(sb:truth("complycube", {}), { concurrency = 8 }) do
        assert.is_not_nil(s)
        n = n + 1
        if n == 3 then break end
      end
      -- nothing is left in flight in the client's multi (internal, but the point)
      assert.equal(0, (c._runner.m._cm:count()))
      local made = sb:stats().get_requests.complycube
      assert.is_true(made >= 3 and made <= 3 + 8, made)
      require("wfsession.core").sleep(0.2)
      assert.equal(made, sb:stats().get_requests.complycube)
    end)

    it("asks IDnow for one token however many lookups start at once", function()
      local all = sb:truth("idnow", {})
      local ids = {}
      for i = 1, 16 do ids[i] = all[i] end
      sb:reset_stats()
      local n = 0
      for _, s in client("idnow"):sessions_by_id(ids, { concurrency = 8 }) do
        assert.is_not_nil(s)
        n = n + 1
      end
      assert.equal(16, n)
      assert.equal(1, sb:stats().token_requests)
    end)
  end)
end)
