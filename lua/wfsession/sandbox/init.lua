--- Control API of the provider sandbox (the simulator of ComplyCube, IDnow
-- and Extend used by the tests, the demo and the benchmarks).
--
-- `start` writes an nginx configuration into a fresh temporary directory,
-- starts nginx (with the Lua module) on a loopback port and waits until it
-- answers; the returned object talks to the control plane under `/_sandbox/`
-- with the `curl` command-line tool and stops nginx on `stop`, on `__gc`
-- and on `__close`. Plain Lua 5.1-5.4: no sockets or signals are needed.
--
--     local sandbox = require "wfsession.sandbox"
--     local sb = assert(sandbox.start{ sessions = 1000, seed = 1 })
--     print(sb.url, sb.complycube.base_url, sb.complycube.api_key)
--     sb:stop()
--
-- @module wfsession.sandbox

local cjson = require "cjson"
local util = require "wfsession.sandbox.util"

local sandbox = {}

--- Module version.
sandbox.VERSION = "0.1.0"

--- The Extend API version the sandbox serves by default.
sandbox.EXTEND_API_VERSION = "2026-02-09"

local floor = math.floor
local format = string.format

-- Shell helpers ----------------------------------------------------------------

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

-- os.execute's result differs between 5.1 (a number) and 5.2+ (a boolean).
local function run(cmd)
  local a, _, c = os.execute(cmd)
  if type(a) == "number" then return a == 0 end
  return a == true and (c == nil or c == 0)
end

local function capture(cmd)
  local p = io.popen(cmd, "r")
  if not p then return nil end
  local out = p:read("*a")
  p:close()
  return out
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local function write_file(path, text)
  local f, err = io.open(path, "wb")
  if not f then return nil, err end
  f:write(text)
  f:close()
  return true
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function sleep(seconds)
  run("sleep " .. format("%.3f", seconds))
end

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

-- Converts integral floats (the Debian cjson decodes every number as a
-- float on 5.3+) back to integers, so counters print as counters.
local tointeger = math.tointeger
local function integers(v)
  if type(v) == "table" then
    for k, x in pairs(v) do v[k] = integers(x) end
  elseif type(v) == "number" and tointeger then
    return tointeger(v) or v
  end
  return v
end

-- Locating nginx and our own Lua files -------------------------------------------

local function lua_root()
  local src = debug.getinfo(1, "S").source
  local path = src:sub(1, 1) == "@" and src:sub(2) or src
  path = path:gsub("\\", "/")
  local root = path:match("^(.*)/wfsession/sandbox/init%.lua$")
    or path:match("^(.*)/wfsession/sandbox%.lua$")
  if not root then
    -- Found through a package.path entry like "./lua/?/init.lua".
    local found = package.searchpath and package.searchpath("wfsession.sandbox.server", package.path)
    root = found and found:match("^(.*)/wfsession/sandbox/server%.lua$")
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

-- Options ---------------------------------------------------------------------

-- `level` is the error level of the user's call (3 when called straight
-- from start/configure).
local function check_number(opts, name, lo, hi, integer, level)
  local v = opts[name]
  if v == nil then return end
  if type(v) ~= "number" or v ~= v or v < lo or v > hi or (integer and v ~= floor(v)) then
    error(format("wfsession.sandbox: '%s' must be %s in [%s, %s]", name,
      integer and "an integer" or "a number", lo, hi), level or 3)
  end
end

local function check_type(opts, name, t)
  local v = opts[name]
  if v ~= nil and type(v) ~= t then
    error(format("wfsession.sandbox: '%s' must be a %s", name, t), 3)
  end
end

local FAULT_NAMES = { ["500"] = true, ["503"] = true, drop = true, truncate = true,
  malformed = true, slow = true }

-- Knobs common to start and configure.
local function check_knobs(opts)
  check_number(opts, "sessions", 0, 10000000, true, 4)
  check_number(opts, "latency", 0, 60, false, 4)
  check_number(opts, "token_ttl", 0.001, 31536000, false, 4)
  check_number(opts, "insert_every", 0, 1e9, true, 4)
  check_number(opts, "insert_count", 0, 1e6, true, 4)
  check_number(opts, "rate_limit", 0, 1e9, false, 4)
  check_number(opts, "fault_rate", 0, 1, false, 4)
  check_number(opts, "slow_seconds", 0, 60, false, 4)
  if opts.idnow_page_base ~= nil and opts.idnow_page_base ~= 0 and opts.idnow_page_base ~= 1 then
    error("wfsession.sandbox: 'idnow_page_base' must be 0 or 1", 3)
  end
  if opts.faults ~= nil then
    if type(opts.faults) ~= "table" then
      error("wfsession.sandbox: 'faults' must be an array of fault names", 3)
    end
    for k, f in pairs(opts.faults) do
      if type(k) ~= "number" or not FAULT_NAMES[tostring(f)] then
        error("wfsession.sandbox: 'faults' entries must be one of 500, 503, drop, truncate, " ..
          "malformed, slow", 3)
      end
    end
  end
end

local START_KEYS = {
  sessions = true, seed = true, latency = true, port = true, idnow_page_base = true,
  token_ttl = true, insert_every = true, insert_count = true, gzip = true, tls = true,
  rate_limit = true, fault_rate = true, faults = true, slow_seconds = true, nginx = true,
  dir = true, keep_dir = true, detach = true, complycube_api_key = true, extend_api_key = true,
  idnow_client_id = true, idnow_client_secret = true, start_timeout = true,
}

local CONFIG_KEYS = {
  sessions = true, latency = true, token_ttl = true, idnow_page_base = true, insert_every = true,
  insert_count = true, rate_limit = true, fault_rate = true, faults = true, slow_seconds = true,
  revoke_tokens = true,
}

-- Passed to the server's init (the knobs it knows).
local SERVER_KEYS = {
  sessions = true, seed = true, latency = true, idnow_page_base = true, token_ttl = true,
  insert_every = true, insert_count = true, gzip = true, tls = true, rate_limit = true,
  fault_rate = true, faults = true, slow_seconds = true, complycube_api_key = true,
  extend_api_key = true, idnow_client_id = true, idnow_client_secret = true,
}

local function encode(v)
  -- cjson writes an empty table as {}; the server reads `faults = {}` fine.
  return cjson.encode(v)
end

-- nginx configuration -------------------------------------------------------------

local CONF = [[
# Generated by wfsession.sandbox: a throw-away nginx for one sandbox.
%s
worker_processes 1;
daemon on;
master_process on;
pid "%s/nginx.pid";
error_log "%s/error.log" warn;
worker_shutdown_timeout 1s;
events { worker_connections 1024; }
http {
  access_log off;
  server_tokens off;
  default_type application/json;
  client_body_temp_path "%s/tmp/body";
  proxy_temp_path "%s/tmp/proxy";
  fastcgi_temp_path "%s/tmp/fastcgi";
  uwsgi_temp_path "%s/tmp/uwsgi";
  scgi_temp_path "%s/tmp/scgi";
  client_body_buffer_size 1m;
  client_max_body_size 1m;
  keepalive_requests 100000;
  keepalive_timeout 60s;
  lua_package_path "%s/?.lua;%s/?/init.lua;;";
  lua_shared_dict wfs_sandbox 16m;
  lua_socket_log_errors off;
  init_by_lua_block { require("wfsession.sandbox.server").init(%q) }
%s
  server {
    listen 127.0.0.1:%d%s;
%s
    location / { content_by_lua_block { require("wfsession.sandbox.server").handle() } }
  }
}
]]

local GZIP = [[
  gzip on;
  gzip_types application/json;
  gzip_min_length 64;
  gzip_vary on;]]

local function write_conf(self, port)
  local d = self.dir
  local ssl, ssl_lines = "", ""
  if self.tls then
    ssl = " ssl"
    ssl_lines = format('    ssl_certificate "%s/cert.pem";\n    ssl_certificate_key "%s/key.pem";',
      d, d)
  end
  local conf = format(CONF, self.modules, d, d, d, d, d, d, d, self.lua_root, self.lua_root,
    d .. "/sandbox.json", self.gzip and GZIP or "", port, ssl, ssl_lines)
  return write_file(d .. "/nginx.conf", conf)
end

-- The sandbox object ------------------------------------------------------------

local Sandbox = {}
Sandbox.__index = Sandbox

-- One HTTP exchange with the sandbox through the curl tool.
-- Returns status (number), body; or nil, message.
local function curl(self, method, path, body, timeout)
  local args = { "curl", "-sS", "--max-time", format("%g", timeout or 10), "-X", method,
    "-H", "Expect:", "-w", "\\n%{http_code}" }
  if self.ca_file then
    args[#args + 1] = "--cacert"
    args[#args + 1] = self.ca_file
  end
  if body then
    args[#args + 1] = "-H"
    args[#args + 1] = "Content-Type: application/json"
    args[#args + 1] = "--data-binary"
    args[#args + 1] = body
  end
  args[#args + 1] = self.url .. path
  local parts = {}
  for k = 1, #args do parts[k] = shell_quote(args[k]) end
  local out = capture(table.concat(parts, " ") .. " 2>" .. shell_quote(self.dir .. "/curl.err"))
  local text, code = (out or ""):match("^(.*)\n(%d%d%d)$")
  if not code or code == "000" then
    local err = (read_file(self.dir .. "/curl.err") or ""):gsub("%s+$", "")
    return nil, "sandbox control request failed: " .. (err ~= "" and err or "no response")
  end
  return tonumber(code), text
end

local function control_json(self, method, path, body)
  if self.stopped then return nil, "sandbox is stopped" end
  local status, text = curl(self, method, path, body)
  if not status then return nil, text end
  local ok, value = pcall(cjson.decode, text)
  if not ok then return nil, "sandbox answered with invalid JSON" end
  if status ~= 200 then
    return nil, "sandbox: " .. tostring(type(value) == "table" and value.error or status)
  end
  return integers(value)
end

--- Returns the request counters.
-- `{ requests, connections, token_requests, echo_requests, rate_limited, faults,
--   by_provider = {complycube, idnow, extend}, list_requests = {...},
--   get_requests = {...}, sessions = {data set = n}, inserted = {...} }`.
-- `requests` counts provider requests and `/_sandbox/echo`; `connections` the
-- requests that were the first on their connection. Control requests
-- (stats, config, reset, truth, info) are not counted.
-- @function stats
-- @treturn[1] table
-- @treturn[2] nil
-- @treturn[2] string message
function Sandbox:stats()
  return control_json(self, "GET", "/_sandbox/stats")
end

--- Zeroes the request counters (not the inserted sessions).
-- @function reset_stats
-- @treturn[1] true
-- @treturn[2] nil
-- @treturn[2] string message
function Sandbox:reset_stats()
  local ok, err = control_json(self, "POST", "/_sandbox/reset")
  if not ok then return nil, err end
  return true
end

--- Removes the sessions added by the drift knob and zeroes its counters
-- (and the request counters).
-- @function reset_drift
-- @treturn[1] true
-- @treturn[2] nil
-- @treturn[2] string message
function Sandbox:reset_drift()
  local ok, err = control_json(self, "POST", "/_sandbox/reset?drift=1")
  if not ok then return nil, err end
  return true
end

--- Changes knobs at run time.
-- Keys: `sessions`, `latency`, `token_ttl`, `idnow_page_base`,
-- `insert_every`, `insert_count`, `rate_limit`, `fault_rate`, `faults`,
-- `slow_seconds`, and the action `revoke_tokens = true` (invalidates every
-- IDnow token issued so far).
-- @function configure
-- @tparam table knobs
-- @treturn[1] table the configuration now in force
-- @treturn[2] nil
-- @treturn[2] string message
function Sandbox:configure(knobs)
  if type(knobs) ~= "table" then
    error("wfsession.sandbox: 'knobs' must be a table", 2)
  end
  for k in pairs(knobs) do
    if not CONFIG_KEYS[k] then
      error(format("wfsession.sandbox: unknown or start-only knob '%s'", tostring(k)), 2)
    end
  end
  check_knobs(knobs)
  if knobs.revoke_tokens ~= nil and type(knobs.revoke_tokens) ~= "boolean" then
    error("wfsession.sandbox: 'revoke_tokens' must be a boolean", 2)
  end
  return control_json(self, "POST", "/_sandbox/config", encode(knobs))
end

local TRUTH_KEYS = {
  status = true, outcome = true, created_after = true, created_before = true,
  updated_after = true, updated_before = true, workflow_id = true, subject_id = true,
  batch_id = true, file_name_contains = true, sort = true, order = true, environment = true,
}

--- The test oracle: ids the provider would list for a normalized query,
-- computed by brute force, in that provider's listing order.
-- @function truth
-- @string provider "complycube" | "idnow" | "extend"
-- @tparam[opt] table query normalized query keys (see docs/sandbox.md);
--   `environment` picks the IDnow data set (default "live")
-- @treturn[1] table array of ids
-- @treturn[2] nil
-- @treturn[2] string message
function Sandbox:truth(provider, query)
  if provider ~= "complycube" and provider ~= "idnow" and provider ~= "extend" then
    error("wfsession.sandbox: 'provider' must be complycube, idnow or extend", 2)
  end
  if query ~= nil and type(query) ~= "table" then
    error("wfsession.sandbox: 'query' must be a table", 2)
  end
  local q = { provider = provider }
  for k, v in pairs(query or {}) do
    if not TRUTH_KEYS[k] then
      error(format("wfsession.sandbox: unknown query key '%s'", tostring(k)), 2)
    end
    if type(v) ~= "string" then
      error(format("wfsession.sandbox: query key '%s' must be a string", k), 2)
    end
    q[k] = v
  end
  local ids, err = control_json(self, "GET", "/_sandbox/truth?" .. util.build_query(q))
  if not ids then return nil, err end
  return ids
end

--- Performs one raw HTTP request against the sandbox with curl (handy in
-- tests and examples that must not depend on the wfsession client).
-- @function fetch
-- @string path path and query, starting with "/"
-- @tparam[opt] table opts `method`, `headers` (name -> value), `body`,
--   `timeout` (seconds, default 10)
-- @treturn[1] number HTTP status
-- @treturn[1] string body
-- @treturn[2] nil
-- @treturn[2] string message
function Sandbox:fetch(path, opts)
  if type(path) ~= "string" or path:sub(1, 1) ~= "/" then
    error("wfsession.sandbox: 'path' must be a string starting with '/'", 2)
  end
  opts = opts or {}
  if self.stopped then return nil, "sandbox is stopped" end
  local args = { "curl", "-sS", "--max-time", format("%g", opts.timeout or 10),
    "-X", opts.method or "GET", "-H", "Expect:", "-w", "\\n%{http_code}" }
  if self.ca_file then
    args[#args + 1] = "--cacert"
    args[#args + 1] = self.ca_file
  end
  for name, value in pairs(opts.headers or {}) do
    args[#args + 1] = "-H"
    args[#args + 1] = tostring(name) .. ": " .. tostring(value)
  end
  if opts.body then
    args[#args + 1] = "--data-binary"
    args[#args + 1] = opts.body
  end
  args[#args + 1] = self.url .. path
  local parts = {}
  for k = 1, #args do parts[k] = shell_quote(args[k]) end
  local out = capture(table.concat(parts, " ") .. " 2>/dev/null")
  local text, code = (out or ""):match("^(.*)\n(%d%d%d)$")
  if not code or code == "000" then return nil, "request failed" end
  return tonumber(code), text
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

--- The pids of nginx: the master first, then its workers (empty once stopped).
-- @function pids
-- @treturn table array of pid strings
function Sandbox:pids()
  if self.stopped or not alive(self.pid) then return {} end
  local pids = child_pids(self.pid)
  table.insert(pids, 1, self.pid)
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

--- Stops nginx and removes the sandbox's directory. Idempotent; also run
-- from `__gc` and `__close`.
-- @function stop
-- @treturn true
function Sandbox:stop()
  if self.stopped then return true end
  self.stopped = true
  local pid = self.pid
  if pid and alive(pid) then
    local pids = child_pids(pid)
    table.insert(pids, 1, pid)
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

Sandbox.__gc = function(self)
  if not self.detached then self:stop() end
end
Sandbox.__close = Sandbox.__gc

--- Returns whether nginx is still running.
-- @function running
-- @treturn boolean
function Sandbox:running()
  return not self.stopped and alive(self.pid)
end

Sandbox.__tostring = function(self)
  return format("wfsession.sandbox: %s (%s)", self.url, self.stopped and "stopped" or "running")
end

local function make_dir(given)
  if given then
    if not run("mkdir -p " .. shell_quote(given .. "/tmp")) then
      return nil, "cannot create directory " .. given
    end
    return given, false
  end
  local base = os.getenv("TMPDIR")
  if not base or base == "" then base = "/tmp" end
  local out = capture("mktemp -d " .. shell_quote(base .. "/wfsession-sandbox.XXXXXXXX") ..
    " 2>/dev/null")
  local dir = out and out:gsub("%s+$", "")
  if not dir or dir == "" then return nil, "cannot create a temporary directory" end
  if not run("mkdir -p " .. shell_quote(dir .. "/tmp")) then
    return nil, "cannot create directory " .. dir
  end
  return dir, true
end

local function make_cert(dir)
  local cmd = format("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes " ..
    "-keyout %s -out %s -days 7 -subj /CN=127.0.0.1 " ..
    "-addext subjectAltName=IP:127.0.0.1,DNS:localhost >/dev/null 2>&1",
    shell_quote(dir .. "/key.pem"), shell_quote(dir .. "/cert.pem"))
  if not run(cmd) then return nil, "openssl could not generate a certificate" end
  return true
end

local function log_tail(self)
  local text = (read_file(self.dir .. "/start.log") or "") .. (read_file(self.dir .. "/error.log") or "")
  local last
  for line in text:gmatch("[^\n]+") do
    if line:find("emerg") or line:find("error") or line:find("crit") then last = line end
  end
  return last or text:match("[^\n]*$") or ""
end

-- Starts nginx on `port`; returns true, or nil, message, retryable.
local function launch(self, port)
  local ok, err = write_conf(self, port)
  if not ok then return nil, "cannot write nginx.conf: " .. tostring(err) end
  os.remove(self.dir .. "/nginx.pid")
  write_file(self.dir .. "/error.log", "")
  local cmd = format("%s -p %s -c %s -e %s >%s 2>&1", shell_quote(self.nginx),
    shell_quote(self.dir .. "/"), shell_quote(self.dir .. "/nginx.conf"),
    shell_quote(self.dir .. "/error.log"), shell_quote(self.dir .. "/start.log"))
  if not run(cmd) then
    local log = (read_file(self.dir .. "/start.log") or "") .. (read_file(self.dir .. "/error.log") or "")
    if log:find("in use") then
      return nil, format("port %d is in use", port), true
    end
    return nil, "nginx failed to start: " .. log_tail(self)
  end
  -- The pid file appears just after the launcher exits (nginx daemonizes first).
  for _ = 1, 250 do
    local pid = (read_file(self.dir .. "/nginx.pid") or ""):match("^(%d+)")
    if pid then
      self.pid = pid
      break
    end
    sleep(0.01)
  end
  if not self.pid then return nil, "nginx started but wrote no pid file" end
  return true
end

--- Starts a sandbox.
-- @function start
-- @tparam[opt] table opts every field optional:
--   `sessions` (1000, per provider data set), `seed` (1), `latency` (0 s),
--   `port` (nil = a free loopback port), `idnow_page_base` (0), `token_ttl`
--   (86400), `insert_every` (0 = off), `insert_count` (1), `gzip` (false),
--   `tls` (false), `rate_limit` (0 = off, requests/s per provider),
--   `fault_rate` (0), `faults` (all six), `slow_seconds` (2), `nginx` (path),
--   `dir` (use this directory), `keep_dir` (do not remove it on stop),
--   `detach` (do not stop from `__gc`), `start_timeout` (5 s), and the
--   credentials `complycube_api_key`, `extend_api_key`, `idnow_client_id`,
--   `idnow_client_secret`.
-- @treturn[1] table the sandbox
-- @treturn[2] nil
-- @treturn[2] string message
function sandbox.start(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("wfsession.sandbox: 'opts' must be a table", 2) end
  for k in pairs(opts) do
    if not START_KEYS[k] then
      error(format("wfsession.sandbox: unknown option '%s'", tostring(k)), 2)
    end
  end
  check_knobs(opts)
  check_number(opts, "seed", 0, 4294967295, true)
  check_number(opts, "port", 1, 65535, true)
  check_number(opts, "start_timeout", 0.1, 120)
  for _, k in ipairs({ "gzip", "tls", "keep_dir", "detach" }) do check_type(opts, k, "boolean") end
  for _, k in ipairs({ "nginx", "dir", "complycube_api_key", "extend_api_key", "idnow_client_id",
    "idnow_client_secret" }) do
    check_type(opts, k, "string")
  end

  local self = setmetatable({ tls = opts.tls or false, gzip = opts.gzip or false,
    keep_dir = opts.keep_dir, detached = opts.detach, stopped = false }, Sandbox)
  self.nginx = find_nginx(opts.nginx)
  if not self.nginx then return nil, "nginx not found (set WFSESSION_NGINX)" end
  self.lua_root = lua_root()
  if not self.lua_root then return nil, "cannot locate the wfsession Lua files" end
  local dir, own = make_dir(opts.dir)
  if not dir then
    self.stopped = true
    return nil, own
  end
  self.dir, self.own_dir = dir, own
  self.modules = module_lines(self.nginx)
  local function fail(msg)
    self:stop()
    return nil, msg
  end
  if self.tls then
    local ok, err = make_cert(dir)
    if not ok then return fail(err) end
    self.ca_file = dir .. "/cert.pem"
  end
  local server_cfg = {}
  for k, v in pairs(opts) do
    if SERVER_KEYS[k] then server_cfg[k] = v end
  end
  write_file(dir .. "/sandbox.json", encode(server_cfg))

  local attempts = opts.port and 1 or 20
  local started, err
  for _ = 1, attempts do
    local port = opts.port
    if not port then
      for _ = 1, 50 do
        port = random_port()
        if not port_in_use(port) then break end
      end
    end
    local retry
    if port_in_use(port) then
      started, err, retry = nil, format("port %d is in use", port), true
    else
      started, err, retry = launch(self, port)
    end
    if started then
      self.port = port
      break
    end
    if not retry then break end
  end
  if not started then return fail(err) end
  self.url = format("%s://127.0.0.1:%d", self.tls and "https" or "http", self.port)

  -- Ready when a worker answers (the master binds before daemonizing, so
  -- connections queue until then).
  local info, ierr
  local deadline = os.time() + (opts.start_timeout or 5) + 1
  for _ = 1, 200 do
    info, ierr = control_json(self, "GET", "/_sandbox/info")
    if info or os.time() > deadline or not alive(self.pid) then break end
    sleep(0.01)
  end
  if not info then return fail("sandbox did not answer: " .. tostring(ierr) .. " " .. log_tail(self)) end

  self.seed = info.seed
  self.sessions = opts.sessions or 1000
  self.complycube = { base_url = self.url .. "/complycube/v1", api_key = info.complycube_api_key }
  self.idnow = { base_url = self.url .. "/idnow/api", auth_url = self.url .. "/idnow/auth",
    client_id = info.idnow_client_id, client_secret = info.idnow_client_secret,
    flow_id = info.idnow_flow_id, environment = "live" }
  self.extend = { base_url = self.url .. "/extend", api_key = info.extend_api_key,
    api_version = sandbox.EXTEND_API_VERSION }
  -- Lua 5.1 tables have no __gc: hang the safety net on a proxy userdata.
  local newproxy = rawget(_G, "newproxy")
  if newproxy and _VERSION == "Lua 5.1" then
    local proxy = newproxy(true)
    getmetatable(proxy).__gc = function() Sandbox.__gc(self) end
    self._gc_proxy = proxy
  end
  return self
end

return sandbox
