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

local unpack = table.unpack or unpack
local function pack(...) return { n = select("#", ...), ... } end

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

--- The runner of a client.
-- @tparam table opts the client's validated options
-- @treturn table runner
function H.runner(opts)
  if type(opts.transport) == "function" then
    return setmetatable({ transport = opts.transport }, Sequential)
  end
  return setmetatable({
    m = opts.multi, private = opts.multi == nil,
    xfer = { connect_timeout = opts.connect_timeout or 10, ca_file = opts.ca_file,
             proxy = opts.proxy, user_agent = opts.user_agent },
  }, Curl)
end

return H
