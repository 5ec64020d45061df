--- The one place that knows hosts (internal): which transport, sleep and
-- clock a client gets. Nothing else in the library looks at `ngx` or picks
-- a transport.
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

--- The transport of a client: the user's function, or libcurl.
-- @tparam table opts the client's validated options
-- @treturn function `transport(req)`
-- @treturn ?function `close()` for a transport the library owns
function H.transport(opts)
  if type(opts.transport) == "function" then return opts.transport, nil end
  return require("wfsession.transport.curl").new{
    connect_timeout = opts.connect_timeout or 10, ca_file = opts.ca_file,
    proxy = opts.proxy, user_agent = opts.user_agent,
  }
end

return H
