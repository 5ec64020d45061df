--- Control API of the provider sandbox (the simulator of ComplyCube, IDnow
-- and Extend used by the tests, the demo and the benchmarks).
--
-- `start` runs nginx with the Lua module on a loopback port
-- (`wfsession.sandbox.nginx`: a fresh temporary directory, Lua paths of its
-- own, and a watchdog that stops it when the starting process is gone) and
-- waits until it answers; the returned object talks to the control plane
-- under `/_sandbox/` with the `curl` command-line tool and stops nginx on
-- `stop`, on `__gc` and on `__close`. Plain Lua 5.1-5.4: no sockets or
-- signals are needed.
--
--     local sandbox = require "wfsession.sandbox"
--     local sb = assert(sandbox.start{ sessions = 1000, seed = 1 })
--     print(sb.url, sb.complycube.base_url, sb.complycube.api_key)
--     sb:stop()
--
-- @module wfsession.sandbox

local cjson = require "cjson"
local util = require "wfsession.sandbox.util"
local nginx = require "wfsession.sandbox.nginx"
local checks = require "wfsession.sandbox.knobs"

local sandbox = {}

--- The Extend API version the sandbox serves by default.
sandbox.EXTEND_API_VERSION = "2026-02-09"

local floor = math.floor
local format = string.format

local shell_quote, run, capture = nginx.shell_quote, nginx.run, nginx.capture
local read_file, write_file = nginx.read_file, nginx.write_file

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

-- Options ---------------------------------------------------------------------

-- Both raise at the level of the user's call to `start`.
local function check_number(opts, name, lo, hi, integer)
  local v = opts[name]
  if v == nil then return end
  if type(v) ~= "number" or v ~= v or v < lo or v > hi or (integer and v ~= floor(v)) then
    error(format("wfsession.sandbox: '%s' must be %s in [%s, %s]", name,
      integer and "an integer" or "a number", lo, hi), 3)
  end
end

local function check_type(opts, name, t)
  local v = opts[name]
  if v ~= nil and type(v) ~= t then
    error(format("wfsession.sandbox: '%s' must be a %s", name, t), 3)
  end
end

-- Options of `start` that stay with the owner (the rest are knobs, for the server).
local OWNER_KEYS = { port = true, nginx = true, dir = true, keep_dir = true, detach = true, start_timeout = true }

local KNOBS = checks.KNOBS

-- The knobs of `start` and `configure` (`runtime`: configure only those the
-- server lets change), each checked as the server checks it. `level` is
-- the error level of the user's call.
local function check_knobs(opts, runtime, level)
  for k, v in pairs(opts) do
    local knob = KNOBS[k]
    if knob and (runtime and knob.runtime ~= false or not runtime and not knob.action) then
      local ok, why = checks.check(k, v)
      if ok == nil then error("wfsession.sandbox: " .. why, level + 1) end
    elseif runtime then
      error(format("wfsession.sandbox: unknown or start-only knob '%s'", tostring(k)), level + 1)
    elseif not OWNER_KEYS[k] then
      error(format("wfsession.sandbox: unknown option '%s'", tostring(k)), level + 1)
    end
  end
end

local function encode(v)
  -- cjson writes an empty table as {}; the server reads `faults = {}` fine.
  return cjson.encode(v)
end

-- nginx configuration -------------------------------------------------------------

-- The inside of nginx's http block (wfsession.sandbox.nginx writes the rest).
local HTTP = [[
  default_type application/json;
  client_body_buffer_size 1m;
  client_max_body_size 1m;
  keepalive_requests 100000;
  keepalive_timeout 60s;
  lua_shared_dict wfs_sandbox 16m;
  lua_socket_log_errors off;
  init_by_lua_block { require("wfsession.sandbox.server").init(%q) }
%s
  server {
    listen 127.0.0.1:%d%s;
%s
    location / { content_by_lua_block { require("wfsession.sandbox.server").handle() } }
  }
]]

local GZIP = [[
  gzip on;
  gzip_types application/json;
  gzip_min_length 64;
  gzip_vary on;]]

local function http_block(self, port)
  local d = self.dir
  local ssl, ssl_lines = "", ""
  if self.tls then
    ssl = " ssl"
    ssl_lines = format('    ssl_certificate "%s/cert.pem";\n    ssl_certificate_key "%s/key.pem";',
      d, d)
  end
  return format(HTTP, d .. "/sandbox.json", self.gzip and GZIP or "", port, ssl, ssl_lines)
end

-- The sandbox object ------------------------------------------------------------

local Sandbox = {}
Sandbox.__index = Sandbox

-- One HTTP exchange with the sandbox through the curl tool: `opts` holds
-- `method`, `headers` (name -> value), `body` and `timeout` (seconds).
-- Returns status (number), body; or nil, message.
local function curl(self, path, opts)
  local args = { "curl", "-sS", "--max-time", format("%g", opts.timeout or 10), "-X", opts.method or "GET",
    "-H", "Expect:", "-w", "\\n%{http_code}" }
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
  local out = capture(table.concat(parts, " ") .. " 2>" .. shell_quote(self.dir .. "/curl.err"))
  local text, code = (out or ""):match("^(.*)\n(%d%d%d)$")
  if not code or code == "000" then
    local err = (read_file(self.dir .. "/curl.err") or ""):gsub("%s+$", "")
    return nil, "sandbox request failed: " .. (err ~= "" and err or "no response")
  end
  return tonumber(code), text
end

local function control_json(self, method, path, body)
  if self.stopped then return nil, "sandbox is stopped" end
  local status, text = curl(self, path, { method = method, body = body,
                                         headers = body and { ["Content-Type"] = "application/json" } })
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
  check_knobs(knobs, true, 2)
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

-- What a client of each provider needs from the sandbox.
local CLIENT_FIELDS = {
  complycube = { "base_url", "api_key" },
  idnow = { "base_url", "auth_url", "client_id", "client_secret", "flow_id", "environment" },
  extend = { "base_url", "api_key", "api_version" },
}

--- Options for `wfs.new` that point a client of `provider` at this sandbox:
-- its URLs, its fake credentials and, with `tls`, its CA file.
-- @function options
-- @string provider "complycube" | "idnow" | "extend"
-- @tparam[opt] table extra more client options (they win)
-- @treturn table a fresh table, `wfs.new(sb:options("idnow"))`
function Sandbox:options(provider, extra)
  local fields = CLIENT_FIELDS[provider]
  if not fields then
    error("wfsession.sandbox: 'provider' must be complycube, idnow or extend", 2)
  end
  if extra ~= nil and type(extra) ~= "table" then
    error("wfsession.sandbox: 'extra' must be a table", 2)
  end
  local o = { provider = provider, ca_file = self.ca_file }
  for _, k in ipairs(fields) do o[k] = self[provider][k] end
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
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
  if self.stopped then return nil, "sandbox is stopped" end
  return curl(self, path, opts or {})
end

--- The pids of nginx: the master first, then its workers (empty once stopped).
-- @function pids
-- @treturn table array of pid strings
function Sandbox:pids()
  if self.stopped or not self.nginx then return {} end
  return self.nginx:pids()
end

--- Stops nginx and removes the sandbox's directory. Idempotent; also run
-- from `__gc` and `__close`.
-- @function stop
-- @treturn true
function Sandbox:stop()
  if self.stopped then return true end
  self.stopped = true
  if self.nginx then self.nginx:stop() end
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
  return not self.stopped and self.nginx:running()
end

Sandbox.__tostring = function(self)
  return format("wfsession.sandbox: %s (%s)", self.url, self.stopped and "stopped" or "running")
end

local function make_cert(dir)
  local cmd = format("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes " ..
    "-keyout %s -out %s -days 7 -subj /CN=127.0.0.1 " ..
    "-addext subjectAltName=IP:127.0.0.1,DNS:localhost >/dev/null 2>&1",
    shell_quote(dir .. "/key.pem"), shell_quote(dir .. "/cert.pem"))
  if not run(cmd) then return nil, "openssl could not generate a certificate" end
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
  check_knobs(opts, false, 2)
  check_number(opts, "port", 1, 65535, true)
  check_number(opts, "start_timeout", 0.1, 120)
  for _, k in ipairs({ "keep_dir", "detach" }) do check_type(opts, k, "boolean") end
  for _, k in ipairs({ "nginx", "dir" }) do check_type(opts, k, "string") end

  local self = setmetatable({ tls = opts.tls or false, gzip = opts.gzip or false,
    keep_dir = opts.keep_dir, detached = opts.detach, stopped = false }, Sandbox)
  local info, ierr
  local inst, err = nginx.start{
    nginx = opts.nginx, dir = opts.dir, keep_dir = opts.keep_dir, port = opts.port,
    start_timeout = opts.start_timeout, prefix = "wfsession-sandbox",
    -- a detached sandbox outlives this process: no watchdog
    owner = opts.detach and false or nil,
    prepare = function(dir)
      self.dir = dir
      if self.tls then
        local ok, cerr = make_cert(dir)
        if not ok then return nil, cerr end
        self.ca_file = dir .. "/cert.pem"
      end
      local server_cfg = {}
      for k, v in pairs(opts) do
        if KNOBS[k] then server_cfg[k] = v end
      end
      return write_file(dir .. "/sandbox.json", encode(server_cfg))
    end,
    http = function(ctx) return http_block(self, ctx.port) end,
    -- ready when a worker answers (the master binds before daemonizing, so
    -- connections queue until then)
    ready = function(i)
      self.url = format("%s://127.0.0.1:%d", self.tls and "https" or "http", i.port)
      info, ierr = control_json(self, "GET", "/_sandbox/info")
      return info, ierr
    end,
  }
  if not inst then
    self.stopped = true
    return nil, err
  end
  self.nginx, self.pid, self.port, self.dir = inst, inst.pid, inst.port, inst.dir

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
