-- Fault soaks: 10,000 sessions per provider at the default concurrency while
-- a fifth of all requests fail at random (500, 502, 503, a proxy's HTML 502
-- page, a dropped connection, a truncated body, 429 with Retry-After, a slow
-- body). With retries every session comes once, in order; without, the
-- listing ends with a clear error, never a short success, and its cursor
-- resumes exactly the rest.
local helpers = require "helpers"

local N = 10000
local FAULTS = { "500", "502", "503", "html502", "drop", "truncate", "429", "slow" }

describe("fault soaks", function()
  local sb
  setup(function()
    sb = assert(helpers.sandbox{ sessions = N, seed = 41, fault_rate = 0.2, fault_random = true,
                                 faults = FAULTS, slow_seconds = 0.3, retry_after = 1 })
  end)
  teardown(function() if sb then sb:stop() end end)

  local patient = { max_retries = 10, base = 0.01, cap = 0.1 }

  for _, provider in ipairs({ "complycube", "idnow", "extend" }) do
    describe(provider, function()
      local truth
      setup(function()
        sb:configure{ fault_rate = 0 }
        truth = sb:truth(provider, {})
        sb:configure{ fault_rate = 0.2 }
      end)

      it("lists every session once and in order while requests fail", function()
        sb:reset_stats()
        -- pages of 100: a hundred requests, about twenty of them failing
        local ids = helpers.ids(helpers.client(sb, provider, { retry = patient }):sessions{ page_size = 100 })
        assert.equal(N, #ids)
        assert.same(truth, ids)
        local st = sb:stats()
        assert.is_true(st.faults >= 5, st.faults .. " faults")
        io.stderr:write(("\n  faults, %s: %d sessions once and in order through %d faults in %d requests")
          :format(provider, #ids, st.faults, st.requests))
      end)

      it("ends with a clear error without retries, and its cursor resumes the rest", function()
        local pager = helpers.client(sb, provider, { retry = false }):sessions{ page_size = 100 }
        local head, msg, err = {}, nil, nil
        for _ = 1, N + 1 do
          local s
          s, msg, err = pager:next()
          if not s then break end
          head[#head + 1] = s.id
        end
        -- a hundred requests, a fifth failing: it does not get through
        assert.is_string(msg)
        assert.is_table(err)
        assert.matches("^" .. provider .. ": [%w_]+", msg)
        assert.is_true(#head < N, "a short listing reported as complete")
        io.stderr:write(("\n  faults, %s, no retries: stopped after %d sessions with %q; the cursor resumes the rest")
          :format(provider, #head, msg:sub(1, 60)))
        local token = assert(pager:cursor())
        local rest = helpers.ids(helpers.client(sb, provider, { retry = patient }):sessions{ cursor = token })
        for _, id in ipairs(rest) do head[#head + 1] = id end
        assert.same(truth, head)
      end)
    end)
  end
end)
