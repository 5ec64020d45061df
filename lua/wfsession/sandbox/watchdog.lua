--- The watchdog of a throwaway nginx (runs inside nginx, in worker 0): when
-- the process that started nginx is gone (ended, killed with -9, crashed),
-- it removes nginx's temporary directory and stops nginx, so nothing is
-- left behind whatever way the owner went.
-- @module wfsession.sandbox.watchdog
-- luacheck: globals ngx

local W = {}

local INTERVAL = 0.2  -- seconds between two looks at the owner

-- Whether /proc has a live (not zombie) process `pid`.
local function alive(pid)
  local f = io.open("/proc/" .. pid .. "/stat", "rb")
  if not f then return false end
  local stat = f:read("*l") or ""
  f:close()
  return stat:match("^%d+ %b() (%a)") ~= "Z"
end

-- The master: this worker's parent.
local function master_pid()
  local f = io.open("/proc/self/stat", "rb")
  if not f then return nil end
  local stat = f:read("*l") or ""
  f:close()
  return stat:match("^%d+ %b() %a (%d+)")
end

--- Start watching `owner` (a pid string); `dir` is removed when it is gone
-- ("" keeps it).
-- @function start
function W.start(owner, dir)
  if ngx.worker.id() ~= 0 or not owner:match("^%d+$") then return end
  local function check(premature)
    if premature or alive(owner) then return end
    if dir ~= "" then os.execute("rm -rf '" .. dir:gsub("'", "'\\''") .. "'") end
    local master = master_pid()
    if master then os.execute("kill -TERM " .. master) end
  end
  local ok, err = ngx.timer.every(INTERVAL, check)
  if not ok then ngx.log(ngx.ERR, "wfsession watchdog: ", err) end
end

return W
