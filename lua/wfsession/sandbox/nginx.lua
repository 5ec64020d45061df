--- A throwaway nginx on loopback (internal): the sandbox runs in one, and
-- the specs start others to host the library inside nginx.
--
-- `start` writes the configuration a caller builds into a fresh temporary
-- directory, starts nginx (with the Lua module, and Lua paths of its own:
-- nginx's LuaJIT must not inherit a LUA_PATH meant for another Lua) on a
-- free loopback port, and waits until the caller's `ready` check passes.
-- nginx dies with its owner: a watchdog timer inside nginx checks the
-- owner's pid five times a second and, once it is gone (killed, crashed, its pipe
-- closed), removes the directory and stops nginx. Plain Lua 5.1-5.4: no
-- sockets or signals are needed on this side.
-- @module wfsession.sandbox.nginx

local util = require "wfsession.util"

local format, floor = string.format, math.floor

local N = {}

-- Shell and files ------------------------------------------------------------------

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
N.shell_quote = shell_quote

-- os.execute's result differs between 5.1 (a number) and 5.2+ (a boolean).
local function run(cmd)
  local a, _, c = os.execute(cmd)
  if type(a) == "number" then return a == 0 end
  return a == true and (c == nil or c == 0)
end
N.run = run

local function capture(cmd)
  local p = io.popen(cmd, "r")
  if not p then return nil end
  local out = p:read("*a")
  p:close()
  return out
end
N.capture = capture

local read_file = util.read_file
N.read_file = read_file

local function write_file(path, text)
  local f, err = io.open(path, "wb")
  if not f then return nil, err end
  f:write(text)
  f:close()
  return true
end
N.write_file = write_file

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function sleep(seconds)
  run("sleep " .. format("%.3f", seconds))
end
N.sleep = sleep

-- A process is gone when /proc has no entry for it, or only a zombie
-- (whose parent, often not us, has yet to reap it).
local function alive(pid)
  if not pid then return false end
  local stat = read_file("/proc/" .. pid .. "/stat")
  if stat then
    return stat:match("^%d+ %b() (%a)") ~= "Z"
  end
  if exists("/proc/self/stat") then return false end
  return run("kill -0 " .. pid .. " 2>/dev/null")
end
N.alive = alive

--- The pid of this Lua process (/proc/self is the process reading it).
function N.own_pid()
  return (read_file("/proc/self/stat") or ""):match("^(%d+)")
end

-- The children of `pid`, read from /proc (procps' pgrep is not on a minimal
-- system): field 4 of /proc/<p>/stat is the parent, after the command name
-- in parentheses, which may itself hold spaces and parentheses.
local function child_pids(pid)
  local out = capture("cat /proc/[0-9]*/stat 2>/dev/null") or ""
  local pids = {}
  for line in out:gmatch("[^\n]+") do
    local p, parent = line:match("^(%d+) %(.*%) %a (%d+)")
    if parent == tostring(pid) then pids[#pids + 1] = p end
  end
  return pids
end

-- Waits (bounded) for every pid to be gone; true when they all are.
local function wait_gone(pids, seconds)
  local deadline = os.time() + seconds + 1
  for _ = 1, floor(seconds / 0.02) + 1 do
    local any = false
    for _, p in ipairs(pids) do
      if alive(p) then any = true break end
    end
    if not any then return true end
    if os.time() > deadline then break end
    sleep(0.02)
  end
  return false
end

-- Locating nginx and the Lua tree ---------------------------------------------------

--- The directory that holds `wfsession/` (this file's tree), absolute.
function N.lua_root()
  local src = debug.getinfo(1, "S").source
  local path = src:sub(1, 1) == "@" and src:sub(2) or src
  path = path:gsub("\\", "/")
  local root = path:match("^(.*)/wfsession/sandbox/nginx%.lua$")
  if not root then
    local found = package.searchpath and package.searchpath("wfsession.sandbox.nginx", package.path)
    root = found and found:match("^(.*)/wfsession/sandbox/nginx%.lua$")
  end
  if not root then return nil end
  if root:sub(1, 1) ~= "/" then
    local cwd = capture("pwd")
    root = (cwd or ""):gsub("%s+$", "") .. "/" .. root
  end
  return (root:gsub("/%./", "/"):gsub("/%.$", ""))
end

local function find_nginx(given)
  if given then return given end
  local env = os.getenv("WFSESSION_NGINX")
  if env and env ~= "" then return env end
  for _, p in ipairs({ "/usr/sbin/nginx", "/usr/local/openresty/nginx/sbin/nginx",
    "/usr/local/sbin/nginx", "/usr/bin/nginx", "/usr/bin/openresty" }) do
    if exists(p) then return p end
  end
  local found = capture("command -v nginx 2>/dev/null")
  found = found and found:gsub("%s+$", "")
  if found and found ~= "" then return found end
  return nil
end

-- Debian and Ubuntu ship the Lua module as a dynamic module; OpenResty has
-- it built in (and says so in `nginx -V`).
local function module_lines(nginx)
  local v = capture(shell_quote(nginx) .. " -V 2>&1") or ""
  if v:find("lua%-nginx%-module") or v:find("ngx_lua") or v:find("openresty") then return "" end
  local lines = {}
  for _, dir in ipairs({ "/usr/lib/nginx/modules", "/usr/share/nginx/modules",
    "/usr/lib64/nginx/modules" }) do
    if exists(dir .. "/ngx_http_lua_module.so") then
      if exists(dir .. "/ndk_http_module.so") then
        lines[#lines + 1] = "load_module " .. dir .. "/ndk_http_module.so;"
      end
      lines[#lines + 1] = "load_module " .. dir .. "/ngx_http_lua_module.so;"
      return table.concat(lines, "\n")
    end
  end
  return ""
end

-- Whether something already listens on `port` (Linux /proc; false when
-- unknown). nginx retries a failed bind five times, half a second apart, so
-- checking first keeps a collision from costing 2.5 s.
local function port_in_use(port)
  local hex = format(":%04X ", port)
  for _, f in ipairs({ "/proc/net/tcp", "/proc/net/tcp6" }) do
    for line in (read_file(f) or ""):gmatch("[^\n]+") do
      local addr, state = line:match("^%s*%d+:%s+(%S+)%s+%S+%s+(%x%x)")
      if addr and state == "0A" and (addr .. " "):find(hex, 1, true) then return true end
    end
  end
  return false
end

local function random_port()
  local f = io.open("/dev/urandom", "rb")
  local n
  if f then
    local b = f:read(2)
    f:close()
    if b and #b == 2 then n = b:byte(1) * 256 + b:byte(2) end
  end
  if not n then
    n = floor(os.clock() * 1e6) + os.time() + (tonumber(tostring({}):match("(%x+)$"), 16) or 0)
  end
  -- Below the usual ephemeral range (32768-60999) so outgoing connections
  -- rarely hold the port we pick.
  return 20000 + n % 12000
end

local function make_dir(given, prefix)
  if given then
    if not run("mkdir -p " .. shell_quote(given .. "/tmp")) then
      return nil, "cannot create directory " .. given
    end
    return given, false
  end
  local base = os.getenv("TMPDIR")
  if not base or base == "" then base = "/tmp" end
  local out = capture("mktemp -d " .. shell_quote(base .. "/" .. prefix .. ".XXXXXXXX") .. " 2>/dev/null")
  local dir = out and out:gsub("%s+$", "")
  if not dir or dir == "" then return nil, "cannot create a temporary directory" end
  if not run("mkdir -p " .. shell_quote(dir .. "/tmp")) then
    return nil, "cannot create directory " .. dir
  end
  return dir, true
end

-- The configuration --------------------------------------------------------------------

-- Everything an instance needs besides the caller's http block. The
-- watchdog runs in the worker (timers have no place in the master); it
-- stops the master, which stops the workers.
local MAIN = [[
# Generated by wfsession.sandbox.nginx: a throw-away nginx, removed with its owner.
%s
%s
%s
worker_processes %d;
daemon on;
master_process on;
pid "%s/nginx.pid";
error_log "%s/error.log" %s;
worker_shutdown_timeout 1s;
events { worker_connections 1024; }
http {
  access_log off;
  server_tokens off;
  client_body_temp_path "%s/tmp/body";
  proxy_temp_path "%s/tmp/proxy";
  fastcgi_temp_path "%s/tmp/fastcgi";
  uwsgi_temp_path "%s/tmp/uwsgi";
  scgi_temp_path "%s/tmp/scgi";
  lua_package_path "%s;;";
  lua_package_cpath "%s;;";
%s
%s
}
]]

-- (nginx takes one init_worker_by_lua per http block: the caller's code goes in it too)
local INIT_WORKER = [[
  init_worker_by_lua_block {
    %s
    %s
  }]]

-- Instances ---------------------------------------------------------------------------

local Instance = {}
Instance.__index = Instance

--- The pids of nginx: the master first, then its workers (empty once stopped).
function Instance:pids()
  if self.stopped or not alive(self.pid) then return {} end
  local pids = child_pids(self.pid)
  table.insert(pids, 1, self.pid)
  return pids
end

--- Whether nginx is still running.
function Instance:running()
  return not self.stopped and alive(self.pid)
end

--- The last line of nginx's logs that says what went wrong (or the last one).
function Instance:log_tail()
  local text = (read_file(self.dir .. "/start.log") or "") .. (read_file(self.dir .. "/error.log") or "")
  local last
  for line in text:gmatch("[^\n]+") do
    if line:find("emerg") or line:find("error") or line:find("crit") then last = line end
  end
  return last or text:match("[^\n]*$") or ""
end

--- Stops nginx and removes the directory (unless kept). Idempotent.
function Instance:stop()
  if self.stopped then return true end
  local pids = self:pids()
  self.stopped = true
  local pid = pids[1]
  if pid then
    -- TERM is nginx's fast shutdown: the master stops its workers and exits.
    run("kill -TERM " .. pid .. " 2>/dev/null")
    if not wait_gone(pids, 5) then
      for _, p in ipairs(pids) do
        if alive(p) then run("kill -KILL " .. p .. " 2>/dev/null") end
      end
      wait_gone(pids, 2)
    end
  end
  if self.own_dir and not self.keep_dir then
    run("rm -rf " .. shell_quote(self.dir))
  end
  return true
end

-- Starts nginx on `port`; returns true, or nil, message, retryable.
local function launch(self, port, conf)
  local ok, err = write_file(self.dir .. "/nginx.conf", conf)
  if not ok then return nil, "cannot write nginx.conf: " .. tostring(err) end
  os.remove(self.dir .. "/nginx.pid")
  write_file(self.dir .. "/error.log", "")
  -- nginx's LuaJIT would read LUA_PATH/LUA_CPATH meant for the caller's Lua
  local cmd = format("env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_1 -u LUA_CPATH_5_1 -u LUA_INIT %s "
    .. "%s -p %s -c %s -e %s >%s 2>&1", self.env or "", shell_quote(self.nginx),
    shell_quote(self.dir .. "/"), shell_quote(self.dir .. "/nginx.conf"),
    shell_quote(self.dir .. "/error.log"), shell_quote(self.dir .. "/start.log"))
  if not run(cmd) then
    local log = (read_file(self.dir .. "/start.log") or "") .. (read_file(self.dir .. "/error.log") or "")
    if log:find("in use") then
      return nil, format("port %d is in use", port), true
    end
    return nil, "nginx failed to start: " .. self:log_tail()
  end
  -- The pid file appears just after the launcher exits (nginx daemonizes first).
  for _ = 1, 250 do
    local pid = (read_file(self.dir .. "/nginx.pid") or ""):match("^(%d+)")
    if pid then
      self.pid = pid
      return true
    end
    sleep(0.01)
  end
  return nil, "nginx started but wrote no pid file"
end

--- Start an nginx.
-- @tparam table opts
--   `http` (function(ctx) -> text: the inside of the http block, given
--   `ctx = { port, dir }`), `ready` (function(inst) -> ok, err: polled until
--   it passes), `workers` (1), `log_level` ("warn"), `lua_path` (extra
--   `?.lua` patterns before ours), `lua_cpath` (`?.so` patterns),
--   `env` (name -> value: variables the Lua code inside nginx may read),
--   `init_worker` (Lua code for init_worker_by_lua, which the http block
--   must not have itself: nginx takes one),
--   `owner` (a pid whose end stops nginx; default this process, false for
--   none), `prefix` (of the temporary directory's name), `prepare`
--   (function(dir) -> ok, err: files nginx needs, before it starts), and `nginx`,
--   `dir`, `keep_dir`, `port`, `start_timeout` (5 s).
-- @treturn[1] table the instance: `url`, `port`, `dir`, `pid`, `:stop()`,
--   `:pids()`, `:running()`, `:log_tail()`
-- @treturn[2] nil
-- @treturn[2] string message
function N.start(opts)
  local self = setmetatable({ stopped = false, keep_dir = opts.keep_dir }, Instance)
  self.nginx = find_nginx(opts.nginx)
  if not self.nginx then
    self.stopped = true
    return nil, "nginx not found (set WFSESSION_NGINX)"
  end
  local root = N.lua_root()
  if not root then
    self.stopped = true
    return nil, "cannot locate the wfsession Lua files"
  end
  local dir, own = make_dir(opts.dir, opts.prefix or "wfsession-nginx")
  if not dir then
    self.stopped = true
    return nil, own
  end
  self.dir, self.own_dir = dir, own
  if opts.prepare then
    local ok, perr = opts.prepare(dir)
    if not ok then
      self:stop()
      return nil, perr
    end
  end
  local owner = opts.owner
  if owner == nil then owner = N.own_pid() end
  local lpath = (opts.lua_path and (opts.lua_path:gsub("{dir}", dir) .. ";") or "") .. root .. "/?.lua;"
    .. root .. "/?/init.lua"
  local watchdog = owner and format('require("wfsession.sandbox.watchdog").start(%q, %q)', tostring(owner),
    (own and not opts.keep_dir) and dir or "") or ""
  local init_worker = (watchdog ~= "" or opts.init_worker) and
    format(INIT_WORKER, watchdog, opts.init_worker or "") or ""
  local modules = module_lines(self.nginx)
  -- variables for the Lua code inside nginx: declared (`env`) and set for the launch
  local env_lines, env_set = {}, {}
  for name, value in pairs(opts.env or {}) do
    env_lines[#env_lines + 1] = "env " .. name .. ";"
    env_set[#env_set + 1] = name .. "=" .. shell_quote(value)
  end
  table.sort(env_lines)
  env_lines = table.concat(env_lines, "\n")
  self.env = table.concat(env_set, " ")
  -- Started as root, nginx would run its workers as nobody, and the watchdog
  -- (in a worker) could neither stop the master nor remove the directory.
  local user = (capture("id -u 2>/dev/null") or ""):match("^0%s*$") and "user root;" or ""
  local attempts = opts.port and 1 or 20
  local started, err
  for _ = 1, attempts do
    local port, busy = opts.port, nil
    if port then
      busy = port_in_use(port)
    else
      for _ = 1, 50 do
        port = random_port()
        busy = port_in_use(port)
        if not busy then break end
      end
    end
    local retry
    if busy then
      started, err, retry = nil, format("port %d is in use", port), true
    else
      local conf = format(MAIN, modules, user, env_lines, opts.workers or 1, dir, dir, opts.log_level or "warn",
        dir, dir, dir, dir, dir, lpath, opts.lua_cpath or "", init_worker,
        opts.http({ port = port, dir = dir }))
      started, err, retry = launch(self, port, conf)
    end
    if started then
      self.port = port
      break
    end
    if not retry then break end
  end
  if not started then
    self:stop()
    return nil, err
  end
  if opts.ready then
    local ok, rerr
    local deadline = os.time() + (opts.start_timeout or 5) + 1
    for _ = 1, 500 do
      ok, rerr = opts.ready(self)
      if ok or os.time() > deadline or not alive(self.pid) then break end
      sleep(0.01)
    end
    if not ok then
      local tail = self:log_tail()
      self:stop()
      return nil, "nginx did not answer: " .. tostring(rerr) .. " " .. tail
    end
  end
  return self
end

return N
