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
-- The sequential runner: a transport function, called in line
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

function Sequential:send(req)
  local transport = self.transport
  if not transport then  -- the library's own: opened on first use, again after close()
    transport, self.owned = require("wfsession.transport.curl").new(self.curl_opts)
    self.transport = transport
  end
  return transport(req)
end

function Sequential.sleep(_, seconds) return H.sleep(seconds) end

function Sequential:close()
  local close = self.owned
  if close then
    self.transport, self.owned = nil, nil
    close()
  end
end

--- The runner of a client.
-- @tparam table opts the client's validated options
-- @treturn table runner
function H.runner(opts)
  if type(opts.transport) == "function" then
    return setmetatable({ transport = opts.transport }, Sequential)
  end
  return setmetatable({ curl_opts = {
    connect_timeout = opts.connect_timeout or 10, ca_file = opts.ca_file,
    proxy = opts.proxy, user_agent = opts.user_agent,
  } }, Sequential)
end

return H
