-- wfsession inside a real nginx (one worker, Debian's nginx + lua module,
-- the LuaJIT core of build/luajit/), against the sandbox on loopback: a
-- listing on cosockets never stalls the worker's other requests; the same
-- listing forced onto libcurl does. Plus TLS, the phases without cosockets,
-- and examples/openresty/.
local helpers = require "helpers"
local core = require "wfsession.core"
local nginx = require "wfsession.sandbox.nginx"

local ROOT = (nginx.capture("pwd") or ""):gsub("%s+$", "")
local CORE = ROOT .. "/build/luajit/wfsession/core.so"

local LATENCY = 0.1

local function have_core()
  local f = io.open(CORE, "rb")
  if f then f:close() end
  return f ~= nil
end

-- The Lua config the handlers read: the sandbox's URLs and credentials.
local function config_text(sb, tls)
  local function q(s) return string.format("%q", s) end
  local out = { "return {" }
  for _, p in ipairs({ "complycube", "idnow", "extend" }) do
    local c = sb[p]
    out[#out + 1] = ("  %s = { base_url = %s, api_key = %s, client_id = %s, client_secret = %s, "
      .. "flow_id = %s, auth_url = %s },"):format(p, q(c.base_url), q(c.api_key or ""),
      q(c.client_id or ""), q(c.client_secret or ""), q(c.flow_id or ""), q(c.auth_url or ""))
  end
  out[#out + 1] = "  tls = {"
  for _, p in ipairs({ "complycube", "idnow", "extend" }) do
    local c = tls and tls[p] or {}
    out[#out + 1] = ("    %s = { base_url = %s, api_key = %s, client_id = %s, client_secret = %s, "
      .. "flow_id = %s, auth_url = %s },"):format(p, q(c.base_url or ""), q(c.api_key or ""),
      q(c.client_id or ""), q(c.client_secret or ""), q(c.flow_id or ""), q(c.auth_url or ""))
  end
  out[#out + 1] = "  },"
  out[#out + 1] = "}"
  return table.concat(out, "\n")
end

local HTTP = [[
  lua_shared_dict wfs_test 1m;
  lua_socket_log_errors off;
  %s
  server {
    listen 127.0.0.1:%d;
    location = /ping { content_by_lua_block { require("wfs_test").ping() } }
    location = /list { content_by_lua_block { require("wfs_test").list() } }
    location = /timer { content_by_lua_block { require("wfs_test").timer_start() } }
    location = /timer/result { content_by_lua_block { require("wfs_test").timer_result() } }
    location = /phase { content_by_lua_block { require("wfs_test").phase_result() } }
    location = /logged {
      content_by_lua_block { ngx.say("ok") }
      log_by_lua_block { require("wfs_test").log_phase() }
    }
  }
]]

-- An nginx that hosts the library, with spec/openresty/ and a generated config.
local function host(sb, tls, trust)
  return assert(nginx.start{
    prefix = "wfsession-openresty",
    lua_path = "{dir}/?.lua;" .. ROOT .. "/spec/openresty/?.lua",
    lua_cpath = ROOT .. "/build/luajit/?.so",
    init_worker = 'require("wfs_test").init_worker()',
    prepare = function(dir) return nginx.write_file(dir .. "/wfs_test_config.lua", config_text(sb, tls)) end,
    http = function(ctx)
      local trust_line = trust and ('lua_ssl_trusted_certificate "' .. trust .. '";') or ""
      return HTTP:format(trust_line, ctx.port)
    end,
    ready = function(i)
      local out = nginx.capture(("curl -s --max-time 2 http://127.0.0.1:%d/ping"):format(i.port))
      return out and out:find("pong", 1, true) ~= nil, "no pong"
    end,
  })
end

local function get(inst, path, max_time)
  local out = nginx.capture(("curl -s --max-time %d 'http://127.0.0.1:%d%s'"):format(max_time or 30,
    inst.port, path))
  return out
end

local function decode(text) return core.decode(text or "") end

--[[
** One listing on the worker, and meanwhile pings of the same worker, one
** after another; returns the listing's summary and the ping times (s).
** curl reports each ping's own time (time_total), so the cost of starting
** curl is not counted.
]]
local function listing_and_pings(inst, path, timer)
  local script = ([[
list() { curl -s --max-time 60 'http://127.0.0.1:%d%s' > %s/list.out; }
%s
i=0
while [ $i -lt 50 ]; do
  curl -s -o /dev/null --max-time 30 -w '%%{time_total}\n' http://127.0.0.1:%d/ping
  sleep 0.01
  i=$((i+1))
done
wait
]]):format(inst.port, path, inst.dir, timer and "curl -s 'http://127.0.0.1:" .. inst.port .. path .. "' >/dev/null"
    or "list &", inst.port)
  local f = assert(io.open(inst.dir .. "/pings.sh", "wb"))
  f:write(script)
  f:close()
  local out = nginx.capture("sh " .. inst.dir .. "/pings.sh")
  local times = {}
  for t in out:gmatch("([%d.]+)\n") do times[#times + 1] = tonumber(t) end
  table.sort(times)
  local summary
  if timer then
    for _ = 1, 600 do
      summary = decode(get(inst, "/timer/result"))
      if summary then break end
      nginx.sleep(0.1)
    end
  else
    summary = decode(nginx.read_file(inst.dir .. "/list.out"))
  end
  return summary, times
end

local function pct(times, p) return times[math.max(1, math.ceil(#times * p))] end

local function report(what, summary, times)
  io.stderr:write(("\n  %s: listed %s in %.2f s; /ping p50 %.1f ms, p95 %.1f ms, max %.1f ms"):format(
    what, tostring(summary and summary.n), summary and summary.seconds or -1, pct(times, 0.5) * 1000,
    pct(times, 0.95) * 1000, times[#times] * 1000))
end

describe("inside nginx", function()
  if not have_core() then
    it("needs the LuaJIT core", function() pending("build/luajit/wfsession/core.so: make core-luajit") end)
    return
  end
  local sb, inst
  setup(function()
    sb = assert(helpers.sandbox{ sessions = 1000, seed = 31, latency = LATENCY })
    inst = host(sb)
    -- warm: the worker's first listing loads and compiles the library
    for _, provider in ipairs({ "complycube", "idnow", "extend" }) do
      get(inst, "/list?max_items=30&provider=" .. provider)
    end
  end)
  teardown(function()
    if inst then inst:stop() end
    if sb then sb:stop() end
  end)

  it("lists on cosockets in a content handler without stalling the worker", function()
    sb:reset_stats()
    local summary, times = listing_and_pings(inst, "/list?provider=complycube&page_size=20")
    report("content handler, cosockets", summary, times)
    assert.is_nil(summary.error)
    assert.equal(1000, summary.n)
    assert.equal(0, summary.dup)
    assert.equal(50, sb:stats().list_requests.complycube)
    -- pages overlap: about 14 round trips (1 + 49 / 4), not 50
    assert.is_true(summary.seconds < 25 * LATENCY, summary.seconds .. " s")
    assert.is_true(#times == 50)
    assert.is_true(times[#times] < 0.05, ("slowest /ping %.1f ms"):format(times[#times] * 1000))
  end)

  it("lists on cosockets in an ngx.timer.at job without stalling the worker", function()
    -- (Extend's pages cannot overlap: larger ones keep this spec short)
    for _, provider in ipairs({ "complycube", "idnow", "extend" }) do
      local size = provider == "extend" and 100 or 20
      local summary, times = listing_and_pings(inst, "/timer?provider=" .. provider .. "&page_size=" .. size,
        true)
      report("timer, cosockets, " .. provider, summary, times)
      assert.is_nil(summary.error)
      assert.equal(1000, summary.n)
      assert.equal(0, summary.dup)
      assert.is_true(times[#times] < 0.05, ("slowest /ping %.1f ms"):format(times[#times] * 1000))
    end
  end)

  it("stalls the worker when the blocking transport is forced (the contrast)", function()
    local summary, times = listing_and_pings(inst,
      "/list?provider=complycube&page_size=20&transport=curl")
    report("content handler, transport = \"curl\"", summary, times)
    assert.equal(1000, summary.n)
    -- while the listing blocks the worker, a ping waits for all of it
    assert.is_true(times[#times] > 0.5, ("slowest /ping %.1f ms"):format(times[#times] * 1000))
  end)

  it("refuses clearly in phases without cosockets, naming ngx.timer.at", function()
    for _, key in ipairs({ "init_worker" }) do
      local msg = get(inst, "/phase?key=" .. key)
      assert.matches("no cosockets in the init_worker phase", msg, 1, true)
      assert.matches("ngx.timer.at", msg, 1, true)
    end
    get(inst, "/logged")
    nginx.sleep(0.2)
    local msg = get(inst, "/phase?key=log")
    assert.matches("no cosockets in the log phase", msg, 1, true)
    assert.matches("ngx.timer.at", msg, 1, true)
  end)

  describe("over TLS", function()
    local tls, trusting, strict
    setup(function()
      tls = assert(helpers.sandbox{ sessions = 100, seed = 32, tls = true })
      trusting = host(sb, tls, tls.ca_file)
      strict = host(sb, tls, nil)
    end)
    teardown(function()
      for _, x in ipairs({ trusting, strict, tls }) do if x then x:stop() end end
    end)

    it("verifies the peer against lua_ssl_trusted_certificate", function()
      for _, provider in ipairs({ "complycube", "idnow", "extend" }) do
        local ok = decode(get(trusting, "/list?tls=1&provider=" .. provider))
        assert.is_nil(ok.error)
        assert.equal(100, ok.n)
      end
      local raw = get(strict, "/list?tls=1&provider=complycube")
      local bad = decode(raw)
      assert.is_table(bad, "not JSON: " .. tostring(raw) .. "\n"
        .. (nginx.read_file(strict.dir .. "/error.log") or ""))
      assert.equal("tls", bad.kind)
      assert.matches("TLS handshake failed", bad.error, 1, true)
    end)
  end)

  describe("examples/openresty", function()
    local ex
    setup(function()
      local conf = assert(nginx.read_file(ROOT .. "/examples/openresty/nginx.conf"))
      ex = assert(nginx.start{
        prefix = "wfsession-example",
        lua_path = ROOT .. "/examples/openresty/?.lua",
        lua_cpath = ROOT .. "/build/luajit/?.so",
        env = { COMPLYCUBE_API_KEY = sb.complycube.api_key, WFS_BASE_URL = sb.complycube.base_url,
                WFS_SUMMARY_EVERY = "60" },
        -- nginx takes one init_worker_by_lua: the launcher's, with the snippet's code in it
        init_worker = conf:match("init_worker_by_lua_block {(.-)}\n"),
        http = function(ctx)
          -- the snippet as a user copies it, with this tree's paths and a free port
          return (conf:gsub('lua_package_path "[^"]*";', ""):gsub('lua_package_cpath "[^"]*";', "")
            :gsub("resolver [^;]*;", ""):gsub("init_worker_by_lua_block {.-}\n", "")
            :gsub("listen 127%.0%.0%.1:8080;", "listen 127.0.0.1:" .. ctx.port .. ";"))
        end,
        ready = function(i)
          local out = nginx.capture(("curl -s -o /dev/null -w '%%{http_code}' --max-time 2 "
            .. "http://127.0.0.1:%d/summary"):format(i.port))
          return out == "200" or out == "503", out
        end,
      })
    end)
    teardown(function() if ex then ex:stop() end end)

    it("streams sessions as JSON lines", function()
      local out = get(ex, "/sessions.jsonl?max_items=250")
      local ids = {}
      for line in out:gmatch("[^\n]+") do
        local row = assert(decode(line))
        assert.is_nil(row.error)
        assert.equal("complycube", row.provider)
        ids[#ids + 1] = row.id
      end
      local truth = sb:truth("complycube", {})
      assert.equal(250, #ids)
      for i = 1, 250 do assert.equal(truth[i], ids[i]) end
    end)

    it("keeps an outcome summary in a lua_shared_dict from a timer job", function()
      local sum
      for _ = 1, 300 do
        sum = decode(get(ex, "/summary"))
        if sum and sum.total then break end
        nginx.sleep(0.1)
      end
      assert.equal(1000, sum.total)
      local n = 0
      for _, k in pairs(sum.by_outcome) do n = n + k end
      assert.is_true(n > 0 and n <= 1000)
    end)
  end)
end)
