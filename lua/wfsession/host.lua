--- The one place that knows hosts (internal): which transport, sleep and
-- clock a client gets. Nothing else in the library looks at `ngx` or picks
-- a transport.
--
-- A client talks to its host through a runner, chosen once, when the
-- client is made:
--
--     runner.concurrent         true when spawned work really overlaps
--     runner:spawn(fn, ...)     start fn(...) as a task; returns a handle
--     runner:join(handle)       wait for it; returns what fn returned (a
--                               raise in fn is raised again here)
--     runner:cancel(handle)     stop it and whatever it has in flight
--     runner:send(req)          one HTTP exchange: status, headers, body
--                               or nil, msg, err
--     runner:sleep(seconds)     wait without stopping other tasks
--     runner:close()            release what the runner owns
--
-- The core is looked up on first use, so that the pure-Lua helpers that ask
-- for a default sleep or clock load where the core is not built yet.
-- @module wfsession.host

local H = {}

local core_cache
local function core()
  if core_cache == nil then
    local ok, mod = pcall(require, "wfsession.core")
    core_cache = ok and type(mod) == "table" and mod or false
  end
  return core_cache or nil
end

--- The `ngx` table when running inside OpenResty, else nil.
local function openresty()
  local ngx = rawget(_G, "ngx")
  if type(ngx) == "table" and type(ngx.sleep) == "function" then return ngx end
  return nil
end

local unpack = table.unpack or unpack
local function pack(...) return { n = select("#", ...), ... } end

--- The host's sleep: `ngx.sleep` inside OpenResty (it yields to nginx's event
-- loop instead of blocking the worker), else the core's nanosleep.
-- @tparam number seconds
function H.sleep(seconds)
  local ngx = openresty()
  if ngx then return ngx.sleep(seconds) end
  local c = core()
  if not (c and c.sleep) then
    error("retry.sleep: no default sleep (wfsession.core.sleep is unavailable); pass policy.sleep", 2)
  end
  return c.sleep(seconds)
end

--- The host's wall clock in epoch seconds: the core's, else `os.time()` (a
-- coarse clock is still a clock: only deadlines use it).
-- @treturn number
function H.clock()
  local c = core()
  if c and c.now then return c.now() end
  return os.time()
end

-- ======================================================================
-- The sequential runner: the user's transport function, called in line
-- ======================================================================

local Sequential = {}
Sequential.__index = Sequential
Sequential.concurrent = false

-- A task runs to its end at once; its handle holds the results.
function Sequential.spawn(_, fn, ...)
  return pack(pcall(fn, ...))
end

function Sequential.join(_, handle)
  if not handle[1] then error(handle[2], 0) end
  return unpack(handle, 2, handle.n)
end

function Sequential.cancel() end

function Sequential:send(req) return self.transport(req) end

function Sequential.sleep(_, seconds) return H.sleep(seconds) end

function Sequential.close() end

-- ======================================================================
-- The libcurl runner: a wfs.multi, the user's or a private one
-- ======================================================================

--[[
** Scripts get a private multi per client, opened on first use: pages and
** lookups overlap, the library blocks inside it while it waits. With
** `multi = m` the host's loop drives m and a task yields instead.
]]
local Curl = {}
Curl.__index = Curl
Curl.concurrent = true

function Curl:multi()
  local m = self.m
  if not m then
    m = require("wfsession.multi").new()
    self.m = m
  end
  return m
end

function Curl:spawn(fn, ...) return self:multi():_spawn(fn, ...) end

-- a task belongs to the multi that ran it (a private one may have been closed since)
function Curl.join(_, task) return task._m:_join(task) end

function Curl.cancel(_, task) return task._m:_cancel(task) end

function Curl:send(req) return self:multi():_send(req, self.xfer) end

function Curl:sleep(seconds) return self:multi():_sleep(seconds) end

function Curl:close()
  if self.private and self.m then
    local m = self.m
    self.m = nil
    m:close()
  end
end

-- ======================================================================
-- The cosocket runner: OpenResty, light threads
-- ======================================================================

-- The phases where cosockets (and light threads) work.
local COSOCKET_PHASES = { rewrite = true, server_rewrite = true, access = true, content = true,
                          timer = true, ssl_cert = true, ssl_session_fetch = true,
                          ssl_client_hello = true }

local Resty = {}
Resty.__index = Resty
Resty.concurrent = true
Resty.cosockets = true   -- what else runs here must yield to nginx too (resty.redis)

-- nil when this phase has cosockets, else the failure a request returns.
local function phase_failure()
  local phase = openresty().get_phase()
  if COSOCKET_PHASES[phase] then return nil end
  local msg = "network: nginx has no cosockets in the " .. phase .. " phase: make the request from "
    .. "a timer, ngx.timer.at(0, function() ... end)"
  return msg, { kind = "network", message = msg, retryable = false }
end

--[[
** A task is a light thread (ngx.thread.spawn: it runs at once, up to its
** first wait). Anyone may wait for it, not only the thread that spawned it
** (an IDnow token request is awaited by every request that needs it), so
** its end is posted on a semaphore rather than left to ngx.thread.wait.
** Where light threads do not work, the task runs to its end in line: its
** requests then fail with the phase's error.
]]
function Resty.spawn(_, fn, ...)
  local args = pack(...)
  local task = { done = false, waiting = 0 }
  local function body()
    local r = pack(pcall(fn, unpack(args, 1, args.n)))
    if task.done then return end  -- cancelled meanwhile
    task.done = true
    if r[1] then task.results = pack(unpack(r, 2, r.n)) else task.raised = r[2] end
    if task.sema and task.waiting > 0 then task.sema:post(task.waiting) end
  end
  if phase_failure() then
    body()
  else
    task.thread = openresty().thread.spawn(body)
  end
  return task
end

function Resty.join(_, task)
  if not task.done then
    task.sema = task.sema or require("ngx.semaphore").new()
    task.waiting = task.waiting + 1
    -- bounded: the task's own requests time out well before
    task.sema:wait(86400)
    task.waiting = task.waiting - 1
  end
  if task.raised ~= nil then error(task.raised, 0) end
  return unpack(task.results, 1, task.results.n)
end

function Resty.cancel(_, task)
  if task.done then return end
  task.done = true
  local msg = "wfsession: closed: the request was cancelled"
  task.results = pack(nil, msg, { kind = "closed", message = msg, retryable = false })
  -- only the spawning thread may kill it; else it runs on and is ignored
  if task.thread then pcall(openresty().thread.kill, task.thread) end
  if task.sema and task.waiting > 0 then task.sema:post(task.waiting) end
end

function Resty:send(req)
  local msg, err = phase_failure()
  if msg then return nil, msg, err end
  return self.transport(req)
end

function Resty.sleep(_, seconds) return openresty().sleep(seconds) end

function Resty.close() end

-- Whether this Lua runs inside nginx with cosockets at hand.
local function in_nginx()
  local ngx = openresty()
  return ngx and type(ngx.socket) == "table" and ngx.socket.tcp ~= nil and ngx.get_phase ~= nil
end

--- The runner of a client.
-- @tparam table opts the client's validated options
-- @treturn table runner
function H.runner(opts)
  if type(opts.transport) == "function" then
    return setmetatable({ transport = opts.transport }, Sequential)
  end
  -- inside nginx the blocking curl runner is never chosen silently
  if opts.transport == "resty" or (opts.transport == nil and opts.multi == nil and in_nginx()) then
    local util = require "wfsession.util"
    if not in_nginx() then util.argerror("transport", "\"resty\" needs OpenResty (ngx.socket.tcp)") end
    if opts.ca_file ~= nil then
      util.argerror("ca_file", "has no meaning for cosockets: trust the CA with lua_ssl_trusted_certificate")
    end
    if opts.proxy ~= nil then util.argerror("proxy", "is not supported by the cosocket transport") end
    local c = core()
    return setmetatable({ transport = require("wfsession.transport.resty").new{
      connect_timeout = opts.connect_timeout, user_agent = opts.user_agent,
      max_body = opts.max_body, low_speed_time = opts.low_speed_time, version = c and c.VERSION,
    } }, Resty)
  end
  return setmetatable({
    m = opts.multi, private = opts.multi == nil,
    xfer = { connect_timeout = opts.connect_timeout, ca_file = opts.ca_file, proxy = opts.proxy,
             user_agent = opts.user_agent, max_body = opts.max_body,
             low_speed_time = opts.low_speed_time },
  }, Curl)
end

return H
