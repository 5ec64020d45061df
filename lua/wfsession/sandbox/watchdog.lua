--- The watchdog of a throwaway nginx (runs inside nginx, in worker 0): when
-- the process that started nginx is gone (ended, killed with -9, crashed),
-- it removes nginx's temporary directory and stops nginx, so nothing is
-- left behind whatever way the owner went.
-- @module wfsession.sandbox.watchdog
-- luacheck: globals ngx

local nginx = require "wfsession.sandbox.nginx"

local W = {}

local INTERVAL = 0.2  -- seconds between two looks at the owner

-- The master: this worker's parent (field 4 of /proc/self/stat).
local function master_pid()
  return (nginx.read_file("/proc/self/stat") or ""):match("^%d+ %b() %a (%d+)")
end

--- Start watching `owner` (a pid string); `dir` is removed when it is gone
-- ("" keeps it).
-- @function start
function W.start(owner, dir)
  if ngx.worker.id() ~= 0 or not owner:match("^%d+$") then return end
  local function check(premature)
    if premature or nginx.alive(owner) then return end
    if dir ~= "" then os.execute("rm -rf " .. nginx.shell_quote(dir)) end
    local master = master_pid()
    if master then os.execute("kill -TERM " .. master) end
  end
  local ok, err = ngx.timer.every(INTERVAL, check)
  if not ok then ngx.log(ngx.ERR, "wfsession watchdog: ", err) end
end

return W
