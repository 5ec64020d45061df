-- Hostile servers and hostile arguments: limits that hold, and a clear
-- error for each, never a raise from deep inside, never a hang.
local wfs = require "wfsession"
local core = require "wfsession.core"
local helpers = require "helpers"
local nginx = require "wfsession.sandbox.nginx"

local function cc(extra)
  local o = { provider = "complycube", api_key = "key_0123456789", rate_limit = false }
  for k, v in pairs(extra or {}) do o[k] = v end
  return wfs.new(o)
end

describe("hostile arguments", function()
  it("refuses plain http:// to another host unless allow_insecure", function()
    assert.has_error(function() cc{ base_url = "http://api.example.com/v1" } end,
      "wfsession: 'base_url' is plain http:// to a host that is not this machine: the credentials would "
      .. "travel in clear (use https://, or allow_insecure = true)")
    assert.has_no_error(function() cc{ base_url = "http://api.example.com/v1", allow_insecure = true } end)
    for _, ok in ipairs({ "http://127.0.0.1:8080/v1", "http://localhost/v1", "http://[::1]:9/v1",
                          "https://api.example.com/v1" }) do
      assert.has_no_error(function() cc{ base_url = ok } end, ok)
    end
    assert.has_error(function()
      wfs.new{ provider = "idnow", client_id = "id_0123", client_secret = "secret_0123", flow_id = "f",
               auth_url = "http://auth.example.com" }
    end)
  end)

  it("refuses user info in a URL without quoting it", function()
    local ok, msg = pcall(cc, { base_url = "https://user:hunter2pass@api.example.com/v1" })
    assert.is_false(ok)
    assert.matches("'base_url' must not hold user info", msg)
    assert.is_nil(msg:find("hunter2pass", 1, true))
  end)

  it("takes max_items = math.huge as no limit, and lists", function()
    local fake = helpers.fake_complycube(30)
    local c = cc{ transport = fake.serve, retry = false }
    local pager = c:sessions{ max_items = math.huge, page_size = 10 }
    assert.equal(30, #helpers.ids(pager))
    assert.equal(30, #helpers.ids(c:sessions{ max_items = 2 ^ 63, page_size = 10 }))
  end)

  it("refuses numbers too large for their purpose, naming them", function()
    assert.has_error(function() cc{ retry = { max_retries = 1e308 } } end)
    assert.has_error(function() cc{ timeout = 1e300 } end)
    assert.has_error(function() cc{ max_body = 2 ^ 40 } end,
      "wfsession: 'max_body' must be an integer 1024..1073741824")
    local c = cc{ transport = function() error("no request expected") end }
    assert.has_error(function() c:wait("x", { interval = 1e12 }) end,
      "wfsession: 'interval' must be a positive number of seconds, at most 1000000")
  end)

  it("refuses an id or a value no URL can carry, naming it", function()
    local c = cc{ transport = function() error("no request expected") end }
    local huge = string.rep("a", 9 * 1024 * 1024)
    assert.has_error(function() c:session(huge) end,
      "wfsession: 'id' is too long for a URL (at most 65536 bytes)")
    assert.has_error(function() c:sessions_by_id({ "ok", huge }) end,
      "wfsession: 'ids[2]' is too long for a URL (at most 65536 bytes)")
    assert.has_error(function() c:sessions{ subject_id = huge } end,
      "client:sessions: 'subject_id' is too long for a URL (at most 65536 bytes)")
  end)
end)

describe("hostile servers", function()
  local sb
  setup(function() sb = assert(helpers.sandbox{ sessions = 2000, seed = 51 }) end)
  teardown(function() if sb then sb:stop() end end)

  it("gives up on a body that trickles, as a timeout, long before the timeout", function()
    sb:configure{ fault_rate = 1, faults = { "trickle" } }
    finally(function() sb:configure{ fault_rate = 0 } end)
    local c = helpers.client(sb, "complycube", { retry = false, timeout = 60, low_speed_time = 2 })
    local t0 = core.monotonic()
    local s, msg, err = c:sessions{ page_size = 5 }:next()
    local took = core.monotonic() - t0
    assert.is_nil(s)
    assert.equal("timeout", err.kind, msg)
    assert.is_true(took < 10, took .. " s")
    io.stderr:write(("\n  hostile: a trickling body (1 byte/s) ends as a timeout after %.1f s (low_speed_time 2,"
      .. " timeout 60)"):format(took))
  end)

  it("refuses a body over max_body as a protocol fault, and does not fetch it again", function()
    for _, provider in ipairs({ "complycube", "idnow", "extend" }) do
      local c = helpers.client(sb, provider, { max_body = 64 * 1024 })
      sb:reset_stats()
      local s, msg, err = c:sessions{ page_size = 1000 }:next()
      assert.is_nil(s)
      assert.equal("protocol", err.kind, msg)
      assert.matches("max_body", msg)
      assert.equal(1, err.attempts)
      assert.equal(1, sb:stats().list_requests[provider])
    end
  end)
end)

-- Peak memory (VmHWM) of a child process that meets a hostile body: at most
-- 4 x max_body above what the same child holds before the request.
local CHILD = [[
local wfs = require "wfsession"
local function hwm()
  for line in io.lines("/proc/self/status") do
    local v = line:match("^VmHWM:%s*(%d+)")
    if v then return tonumber(v) * 1024 end
  end
end
local base_url, max_body = arg[1], tonumber(arg[2])
local c = wfs.new{ provider = "complycube", api_key = "key_0123456789", base_url = base_url,
                   max_body = max_body, retry = false, timeout = 60 }
collectgarbage()
local before = hwm()
local s, msg, err = c:sessions{ page_size = 1000 }:next()
io.write(string.format("%s %s %d %d\n", tostring(s), err and err.kind or "-", before, hwm()))
]]

describe("hostile bodies and memory", function()
  local srv, dir
  setup(function()
    -- a gzip bomb (64 MiB of a JSON array of [] that gzip packs to a few KiB) and, plain, a
    -- body of 15 MiB that decodes to some 25 times its size
    srv = assert(nginx.start{
      prefix = "wfsession-bombs",
      prepare = function(d)
        dir = d
        local nested = "[" .. string.rep("[],", 5 * 1024 * 1024) .. "[]]"   -- 15 MiB
        nginx.write_file(d .. "/nested.json", '{"page":1,"pages":1,"totalItems":1,"items":' .. nested .. "}")
        return nginx.run("head -c 67108864 /dev/zero | tr '\\0' ' ' | gzip -9 > " .. d .. "/bomb.json.gz")
      end,
      http = function(ctx)
        return ([[
  server {
    listen 127.0.0.1:%d;
    default_type application/json;
    root %s;
    location /bomb/ { add_header Content-Encoding gzip; rewrite ^ /bomb.json.gz break; }
    location /nested/ { rewrite ^ /nested.json break; }
  }]]):format(ctx.port, ctx.dir)
      end,
    })
    nginx.write_file(dir .. "/child.lua", CHILD)
  end)
  teardown(function() if srv then srv:stop() end end)

  local function child(path, max_body)
    local out = nginx.capture(('%s%s %s/child.lua http://127.0.0.1:%d%s %d'):format(helpers.IN_TREE, helpers.LUA,
      dir, srv.port, path, max_body))
    local s, kind, before, after = out:match("^(%S+) (%S+) (%d+) (%d+)")
    assert.is_not_nil(s, out)
    return s, kind, tonumber(after) - tonumber(before)
  end

  it("stops a gzip bomb at max_body, as a protocol fault", function()
    local max_body = 16 * 1024 * 1024
    local s, kind, grew = child("/bomb/", max_body)
    assert.equal("nil", s)
    assert.equal("protocol", kind)
    assert.is_true(grew <= 4 * max_body, ("grew %.1f MiB"):format(grew / 1048576))
    io.stderr:write(("\n  hostile: a gzip bomb (64 MiB inflated): protocol, peak memory grew %.1f MiB"
      .. " (max_body 16 MiB)"):format(grew / 1048576))
  end)

  it("refuses a body that would decode to many times max_body", function()
    local max_body = 16 * 1024 * 1024
    local s, kind, grew = child("/nested/", max_body)
    assert.equal("nil", s)
    assert.equal("protocol", kind)
    assert.is_true(grew <= 4 * max_body, ("grew %.1f MiB"):format(grew / 1048576))
    io.stderr:write(("\n  hostile: 15 MiB of nested arrays: protocol, peak memory grew %.1f MiB (max_body 16 MiB)")
      :format(grew / 1048576))
  end)
end)
