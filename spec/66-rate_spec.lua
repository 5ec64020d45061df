-- The rate budget against a sandbox that allows each key 10 requests a
-- second (fixed one-second windows, 429 with Retry-After beyond) at 20 ms a
-- request: one listing at concurrency 8, four clients of one account at
-- once, two processes sharing through a real redis-server, four nginx
-- workers sharing a lua_shared_dict. Paced, every run is complete, sees no
-- 429 and takes at most 1.15x what the budget allows (requests / rate);
-- unpaced, the same runs draw 429s (the counts are reported).
local helpers = require "helpers"
local wfs = require "wfsession"
local core = require "wfsession.core"
local nginx = require "wfsession.sandbox.nginx"

local RATE, LATENCY, PAGE = 10, 0.02, 20
local LUA, ENV = helpers.LUA, helpers.IN_TREE
local ROOT = (nginx.capture("pwd") or ""):gsub("%s+$", "")
local LUAJIT_CORE = ROOT .. "/build/luajit/wfsession/core.so"

local function report(line) io.stderr:write("\n  rate budget: " .. line) end

local function sandbox(sessions)
  return assert(helpers.sandbox{ sessions = sessions, seed = 9, latency = LATENCY, rate_limit = RATE })
end

local function client(sb, extra)
  local o = { rate_limit = RATE, retry = { max_retries = 20, retry_after_max = 5 } }
  for k, v in pairs(extra or {}) do o[k] = v end
  return helpers.client(sb, "complycube", o)
end

-- The paced figures, checked: zero 429s, at most 1.15x requests / rate.
local function paced(what, sb, span)
  local st = sb:stats()
  local budget = st.requests / RATE
  report(("%s, paced: %d requests, %d 429s, %.2f s (budget %.2f s, %.2fx)"):format(what, st.requests,
    st.rate_limited, span, budget, span / budget))
  assert.equal(0, st.rate_limited, what .. ": a paced run drew a 429")
  assert.is_true(span <= 1.15 * budget, ("%s: %.2f s for a budget of %.2f s"):format(what, span, budget))
end

local function unpaced(what, sb, span)
  local st = sb:stats()
  report(("%s, unpaced: %d requests, %d 429s, %.2f s"):format(what, st.requests, st.rate_limited, span))
  assert.is_true(st.rate_limited > 0, what .. ": an unpaced run drew no 429 (is the sandbox limiting?)")
end

-- All sessions, each once, in the sandbox's order.
local function complete(sb, ids)
  assert.same(sb:truth("complycube", {}), ids)
end

-- A listing's ids (a failed listing raises); helpers.drain runs in a task on Lua 5.1 too.
local function list_ids(c)
  return assert(helpers.drain(c:sessions{ page_size = PAGE }))
end

describe("rate budget", function()
  it("paces one listing at concurrency 8", function()
    for _, mode in ipairs({ "paced", "unpaced" }) do
      local sb = sandbox(600)
      finally(function() sb:stop() end)
      local starts = {}
      local c = client(sb, { concurrency = 8, rate_limit = mode == "paced" and RATE or false,
                             on_request = function(i) starts[#starts + 1] = core.monotonic() - i.seconds end })
      local t0 = core.monotonic()
      local ids = list_ids(c)
      local span = core.monotonic() - math.min(t0, starts[1])
      complete(sb, ids)
      if mode == "paced" then
        paced("one listing at concurrency 8", sb, span)
        -- and no second saw more starts than the rate: a start the machine delayed may sit
        -- close to the next one, so the window, not the gap, is what the budget bounds
        table.sort(starts)
        for i = 1, #starts - RATE do
          local window = starts[i + RATE] - starts[i]
          assert.is_true(window >= 1 - 0.05, ("%d requests within %.3f s"):format(RATE + 1, window))
        end
      else
        unpaced("one listing at concurrency 8", sb, span)
      end
    end
  end)

  it("retries draw tokens too", function()
    local sb = sandbox(400)
    finally(function() sb:stop() end)
    -- (not "drop": libcurl sends a request again by itself when a reused connection dies
    -- before any answer, and that resend passes no budget)
    sb:configure{ fault_rate = 0.25, faults = { "503", "502" } }
    local c = client(sb, { concurrency = 8, retry = { max_retries = 5, base = 0.01 } })
    local t0 = core.monotonic()
    complete(sb, list_ids(c))
    local st = sb:stats()
    assert.is_true(st.faults >= 4, "faults: " .. st.faults)
    paced("a listing with 25% of its requests failing (" .. st.faults .. " retried)", sb, core.monotonic() - t0)
  end)

  it("shares one budget between four clients of one account listing at once", function()
    for _, mode in ipairs({ "paced", "unpaced" }) do
      local sb = sandbox(200)
      finally(function() sb:stop() end)
      local m = wfs.multi()
      finally(function() m:close() end)
      local tasks, first = {}, math.huge
      for i = 1, 4 do
        local c = client(sb, { multi = m, rate_limit = mode == "paced" and RATE or false,
          on_request = function(info) first = math.min(first, core.monotonic() - info.seconds) end })
        tasks[i] = m:spawn(function() return list_ids(c) end)
      end
      local t0 = core.monotonic()
      m:run()
      local span = core.monotonic() - math.min(t0, first)
      for i = 1, 4 do
        local ids, err = tasks[i]:result()
        complete(sb, assert(ids, err))
      end
      if mode == "paced" then paced("four clients of one account", sb, span)
      else unpaced("four clients of one account", sb, span) end
    end
  end)

  describe("across processes, through Redis", function()
    local redis, why
    setup(function() redis, why = helpers.redis() end)
    teardown(function() if redis then redis.stop() end end)

    local CHILD = [[
local wfs = require "wfsession"
local core = require "wfsession.core"
local base, key, share, page = arg[1], arg[2], arg[3], tonumber(arg[4])
local first, notices = math.huge, 0
local c = wfs.new{ provider = "complycube", base_url = base, api_key = key, timeout = 20,
  retry = { max_retries = 20, retry_after_max = 5 },
  rate_limit = share ~= "none" and { rps = 10, share = share } or false,
  on_request = function(i)
    if i.notice then notices = notices + 1 else first = math.min(first, core.monotonic() - i.seconds) end
  end }
local seen, n = {}, 0
for s in c:sessions{ page_size = page } do
  if seen[s.id] then error("an id twice: " .. s.id) end
  seen[s.id], n = true, n + 1
end
io.write(string.format("%d %.6f %.6f %d\n", n, first, core.monotonic(), notices))
]]

    it("shares one budget between two processes", function()
      if not redis then return pending(why) end
      local script = os.tmpname()
      finally(function() os.remove(script) end)
      assert(nginx.write_file(script, CHILD))
      for _, mode in ipairs({ "paced", "unpaced" }) do
        local sb = sandbox(300)
        finally(function() sb:stop() end)
        local outs = { os.tmpname(), os.tmpname() }
        finally(function() for _, o in ipairs(outs) do os.remove(o) end end)
        local cmd = {}
        for i = 1, 2 do
          cmd[i] = ("%stimeout 120 %s %s %s %s %s %d >%s"):format(ENV, LUA, script, sb.complycube.base_url,
            sb.complycube.api_key, mode == "paced" and redis.url or "none", PAGE, outs[i])
        end
        local t0 = core.monotonic()
        assert(nginx.run("(" .. cmd[1] .. ") & (" .. cmd[2] .. ") & wait"))
        local first, last = math.huge, 0
        for i = 1, 2 do
          local n, f, l, notices = (nginx.read_file(outs[i]) or ""):match("^(%d+) ([%d.]+) ([%d.]+) (%d+)")
          assert.equal(300, tonumber(n), "process " .. i .. " listed " .. tostring(n))
          assert.equal(0, tonumber(notices), "process " .. i .. " fell back to a local budget")
          first, last = math.min(first, tonumber(f)), math.max(last, tonumber(l))
        end
        assert.is_true(first >= t0)
        if mode == "paced" then paced("two processes through redis-server", sb, last - first)
        else unpaced("two processes", sb, last - first) end
      end
    end)
  end)

  -- Each of `workers` nginx workers lists the sandbox's sessions once, at the same time.
  local function nginx_workers(what, workers, share)
    local f = io.open(LUAJIT_CORE, "rb")
    if not f then return pending("build/luajit/wfsession/core.so: make core-luajit") end
    f:close()
    -- 12 pages a worker: more than one second's budget each, so an unpaced run draws 429s even
    -- when one worker's timer fires a second after the other's
    local SESSIONS = 12 * PAGE
    for _, mode in ipairs({ "paced", "unpaced" }) do
      local sb = sandbox(SESSIONS)
      finally(function() sb:stop() end)
      local conf = ("return { base_url = %q, api_key = %q, share = %s, rps = %d, page_size = %d }"):format(
        sb.complycube.base_url, sb.complycube.api_key, mode == "paced" and ("%q"):format(share) or "nil", RATE, PAGE)
      local inst = assert(nginx.start{
        prefix = "wfsession-rate", workers = workers,
        lua_path = "{dir}/?.lua;" .. ROOT .. "/spec/openresty/?.lua;" .. ROOT .. "/build/vendor/?.lua",
        lua_cpath = ROOT .. "/build/luajit/?.so",
        init_worker = 'require("wfs_rate").init_worker()',
        prepare = function(dir) return nginx.write_file(dir .. "/wfs_rate_config.lua", conf) end,
        http = function(ctx)
          return ([[
  lua_shared_dict wfs_budget 1m;
  lua_shared_dict wfs_rate 1m;
  server {
    listen 127.0.0.1:%d;
    location = /results { content_by_lua_block { require("wfs_rate").results() } }
  }]]):format(ctx.port)
        end,
        ready = function(i)
          local out = nginx.capture(("curl -s --max-time 2 http://127.0.0.1:%d/results"):format(i.port))
          return out and out:find("[", 1, true) ~= nil, "no results page"
        end,
      })
      finally(function() inst:stop() end)
      local results
      for _ = 1, 600 do
        results = core.decode(nginx.capture(("curl -s --max-time 5 http://127.0.0.1:%d/results"):format(inst.port))
          or "") or {}
        if #results >= workers then break end
        nginx.sleep(0.05)
      end
      assert.equal(workers, #results, "not every worker finished: " .. inst:log_tail())
      local first, last, pids = math.huge, 0, {}
      for _, r in ipairs(results) do
        assert.is_nil(r.error, r.error)
        assert.is_nil(r.notice, r.notice)
        assert.equal(SESSIONS, r.n)
        pids[r.pid] = true
        first, last = math.min(first, r.first), math.max(last, r.last)
      end
      local n = 0
      for _ in pairs(pids) do n = n + 1 end
      assert.equal(workers, n)
      if mode == "paced" then paced(what, sb, last - first) else unpaced(what, sb, last - first) end
    end
  end

  it("shares one budget between four nginx workers through a lua_shared_dict", function()
    nginx_workers("four nginx workers through a lua_shared_dict", 4, "dict")
  end)

  it("shares one budget between nginx workers through Redis (resty.redis)", function()
    if not nginx.read_file(ROOT .. "/build/vendor/nginx/redis.lua") then
      return pending("build/vendor/nginx/redis.lua: make deps")
    end
    local redis, why = helpers.redis()
    if not redis then return pending(why) end
    finally(function() redis.stop() end)
    nginx_workers("two nginx workers through redis-server", 2, redis.url)
  end)
end)
