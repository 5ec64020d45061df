--- Peak RSS of listing N sandbox sessions in a for loop, for N = 1,000 and
-- 100,000, each in a fresh process, side by side, at the default page size
-- and at 1000 per page:  make bench
-- (one run: lua5.4 bench/rss.lua child N URL KEY PAGE_SIZE prints "N peak_kb seconds")
local mode = arg[1]

local function peak_kb()
  for line in io.lines("/proc/self/status") do
    local v = line:match("^VmHWM:%s*(%d+)")
    if v then return tonumber(v) end
  end
end

if mode == "child" then
  local wfs = require "wfsession"
  local n, url, key, size = tonumber(arg[2]), arg[3], arg[4], tonumber(arg[5])
  local client = wfs.new{ provider = "complycube", base_url = url, api_key = key, page_size = size }
  local core = require "wfsession.core"
  local t0, count = core.now(), 0
  for s in client:sessions() do
    if s.id and s.status then count = count + 1 end
  end
  assert(count == n, ("listed %d of %d"):format(count, n))
  print(n, peak_kb(), ("%.2f"):format(core.now() - t0))
  return
end

local sandbox = require "wfsession.sandbox"
local lua = arg[-1] or "lua5.4"
local sizes = { 100, 1000 }
local peak = {}
for _, n in ipairs({ 1000, 100000 }) do
  local sb = sandbox.start{ sessions = n, seed = 3 }
  for _, size in ipairs(sizes) do
    local cmd = ("%s bench/rss.lua child %d %s %s %d"):format(lua, n, sb.complycube.base_url,
                                                              sb.complycube.api_key, size)
    local p = assert(io.popen(cmd))
    local out = p:read("a")
    p:close()
    local got, kb, secs = out:match("(%d+)%s+(%d+)%s+([%d.]+)")
    if not got then
      sb:stop()
      error("child failed: " .. out)
    end
    peak[n .. "/" .. size] = tonumber(kb)
    print(("list %7d sessions, page_size %4d: peak RSS %6d KiB, %6.2f s, %8.0f sessions/s"):format(
      n, size, kb, secs, n / math.max(tonumber(secs), 1e-6)))
  end
  sb:stop()
end
for _, size in ipairs(sizes) do
  print(("peak RSS ratio 100k/1k at page_size %4d: %.3f (target <= 1.10 for a plain for loop)"):format(
    size, peak["100000/" .. size] / peak["1000/" .. size]))
end
