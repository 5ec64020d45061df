-- One loop body for every provider: the same behaviour, over loopback HTTP
-- to the sandbox, checked against the sandbox's own truth.
local wfs = require "wfsession"
local helpers = require "helpers"
local core = require "wfsession.core"

local N = 600

describe("every provider against the sandbox", function()
  local sb
  setup(function() sb = helpers.sandbox{ sessions = N, seed = 5 } end)
  teardown(function() if sb then sb:stop() end end)

  for _, provider in ipairs({ "complycube", "idnow", "extend" }) do
    describe(provider, function()
      local function client(extra) return helpers.client(sb, provider, extra) end
      local function list_requests()
        return sb:stats().list_requests[provider]
      end

      it("lists every session once, in the provider's order", function()
        local pager = client():sessions{ page_size = 50 }
        local ids = helpers.ids(pager)
        assert.equal(N, #ids)
        assert.is_true(helpers.unique(ids))
        assert.same(sb:truth(provider, {}), ids)
        if provider ~= "extend" then assert.equal(N, pager.total) end
      end)

      it("keeps one connection across pages at concurrency 1", function()
        local c = client{ concurrency = 1 }
        sb:reset_stats()
        assert.equal(N, #wfs.collect(c:sessions{ page_size = 100 }))
        local st = sb:stats()
        assert.equal(6, st.list_requests[provider])
        assert.equal(1, st.connections)
        c:close()
      end)

      it("reuses at most `concurrency` connections with pages in flight", function()
        local c = client{ concurrency = 3 }
        sb:reset_stats()
        assert.equal(N, #wfs.collect(c:sessions{ page_size = 50 }))
        local st = sb:stats()
        assert.equal(12, st.list_requests[provider])
        assert.is_true(st.connections <= 3, st.connections .. " connections")
        c:close()
      end)

      it("fills every field of the session model", function()
        local s = client():sessions{ page_size = 5 }:next()
        assert.equal(provider, s.provider)
        assert.is_string(s.id)
        assert.is_string(s.raw_status)
        assert.is_string(s.created_at)
        assert.is_number(wfs.time(s.created_at))
        assert.is_string(s.updated_at)
        assert.is_string(s.workflow_id)
        assert.is_not_nil(s.workflow_version)
        assert.matches("^wfsession.session: " .. provider .. "/", tostring(s))
      end)

      it("gives the same answer to every filter as the server's truth", function()
        local all = wfs.collect(client():sessions{ page_size = 200 })
        local pivot = all[math.floor(#all / 3)]
        local queries = {
          { status = "completed" }, { outcome = "approved" }, { outcome = "rejected" },
          { status = "running" }, { status = "completed", outcome = "rejected" },
          { created_after = pivot.created_at }, { created_before = pivot.created_at },
          { updated_after = pivot.updated_at },
          { workflow_id = pivot.workflow_id },
        }
        -- needs_attention: ComplyCube "attention", Extend NEEDS_REVIEW; IDnow has none
        if provider ~= "idnow" then queries[#queries + 1] = { outcome = "needs_attention" } end
        if provider ~= "extend" then
          queries[#queries + 1] = { subject_id = pivot.subject_id }
        else
          queries[#queries + 1] = { batch_id = pivot.raw.batchId }
          queries[#queries + 1] = { file_name_contains = pivot.raw.files[1].name:sub(2, 6) }
        end
        for _, q in ipairs(queries) do
          local copy = { page_size = 100 }
          for k, v in pairs(q) do copy[k] = v end
          local got = helpers.ids(client():sessions(copy))
          local want = sb:truth(provider, q)
          assert.is_true(#want > 0, "query matches nothing: " .. next(q))
          assert.same(want, got)
        end
      end)

      it("resumes at several offsets: the union is the full listing", function()
        local full = helpers.ids(client():sessions{ page_size = 40, status = "completed" })
        for _, at in ipairs({ 1, 39, 40, 41, 117 }) do
          local pager = client():sessions{ page_size = 40, status = "completed" }
          local got = {}
          for _ = 1, at do got[#got + 1] = pager:next().id end
          local token = pager:cursor()
          pager:close()
          for s in client():sessions{ cursor = token, page_size = 25 } do got[#got + 1] = s.id end
          assert.is_true(helpers.unique(got))
          assert.same(full, got)
        end
      end)

      it("refuses a cursor used with other filters", function()
        local pager = client():sessions{ status = "completed" }
        pager:next()
        local token = pager:cursor()
        assert.has_error(function() client():sessions{ cursor = token, status = "failed" } end)
      end)

      it("reads one session in full", function()
        local first = client():sessions{ page_size = 3 }:next()
        local s, msg = client():session(first.id)
        assert.is_nil(msg)
        assert.equal(first.id, s.id)
        assert.equal(first.status, s.status)
        assert.equal(first.created_at, s.created_at)
        assert.is_table(s:checks())
        assert.is_table(s:to_table().raw)
      end)

      it("maps an unknown id to not_found, sending it as one path segment", function()
        for _, id in ipairs({ "0000000000000000deadbeef", "a/../b?c=d#e", "x y%20z" }) do
          local s, msg, err = client():session(id)
          assert.is_nil(s)
          assert.equal("not_found", err.kind, msg)
          assert.equal(404, err.status)
          assert.equal(provider, err.provider)
        end
      end)

      it("never fetches a page that max_items does not need", function()
        local c = client()
        sb:reset_stats()
        assert.equal(120, #wfs.collect(c:sessions{ page_size = 50, max_items = 120 }))
        assert.equal(3, list_requests())
        sb:reset_stats()
        assert.equal(50, #wfs.collect(c:sessions{ page_size = 50, max_items = 50 }))
        assert.equal(1, list_requests())
      end)

      it("stops fetching when a loop breaks", function()
        local c = client{ concurrency = 1 }
        sb:reset_stats()
        local n = 0
        for _ in c:sessions{ page_size = 10 } do
          n = n + 1
          if n == 15 then break end
        end
        assert.equal(2, list_requests())
      end)

      it("asks for nothing after a break, with pages in flight", function()
        local c = client{ concurrency = 4 }
        sb:reset_stats()
        local pager = c:sessions{ page_size = 10 }
        for _ = 1, 15 do assert.is_not_nil(pager:next()) end
        pager:close()
        local made = list_requests()
        -- the first page, then at most `concurrency` ahead of the one in use
        assert.is_true(made >= 2 and made <= 2 + 4, made .. " requests")
        core.sleep(0.2)
        assert.equal(made, list_requests())
      end)

      it("summarizes with counts that add up", function()
        local sum = wfs.summarize(client():sessions{ page_size = 200 }, { by = "workflow_id" })
        assert.equal(N, sum.total)
        local by_status, by_outcome, groups = 0, 0, 0
        for _, v in pairs(sum.by_status) do by_status = by_status + v end
        for _, v in pairs(sum.by_outcome) do by_outcome = by_outcome + v end
        for _, g in pairs(sum.groups) do groups = groups + g.total end
        assert.equal(N, by_status)
        assert.equal(N, groups)
        assert.is_true(by_outcome > 0 and by_outcome <= N)
        assert.near((sum.by_outcome.approved or 0) / by_outcome, sum.approval_rate, 1e-9)
        assert.is_string(sum:format())
      end)
    end)
  end
end)
