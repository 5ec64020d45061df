--- The rate budget (internal): how many requests per second every client of
-- one account may start, shared in the process, across the workers of one
-- nginx (a `lua_shared_dict`) or across machines (Redis).
--
-- Time is cut into slots of `interval` seconds (the rate's period, with a
-- small margin) on one grid that every sharer computes from the same clock:
-- a request claims the first free slot at or after the next slot boundary
-- and starts when that slot does, so no two requests of a budget ever start
-- within one interval of each other, however many processes ask. A claim is
-- one atomic set-if-absent on the slot's key (a table, `dict:add`, Redis
-- `SET NX` inside one script), so no lock is ever held. A 429 lowers the
-- share of slots in use (multiplicative decrease, additive recovery) and
-- holds every sharer back until its Retry-After has passed.
--
-- The algorithm is written once, as Lua source that also runs inside Redis
-- (its scripting Lua is 5.1): `SLOTS` below.
-- @module wfsession.budget

local core = require "wfsession.core"
local util = require "wfsession.util"

local B = {}

--- Pacing constants.
-- @field MARGIN requests start at most `rps / (1 + MARGIN)` a second: room
--   for clock and network jitter, so that a server counting in fixed
--   one-second windows never sees one request too many
-- @field DECREASE a 429 multiplies the rate by this
-- @field FLOOR ... down to this share of it
-- @field RECOVER the share grows back by this much a second
-- @field HOLD seconds everyone waits after a 429 that says nothing itself
-- @table constants
B.MARGIN, B.DECREASE, B.FLOOR, B.RECOVER, B.HOLD = 0.05, 0.5, 1 / 16, 0.05, 1

local SCAN = 4096          -- slots one claim looks through (waiters ahead of it)
local REDIS_RETRY = 30     -- seconds before an unreachable Redis is tried again
local REDIS_TIMEOUT = 0.5  -- seconds for one Redis round trip

--[[
** The slot algorithm, over a store with
**   claim(k, ttl) -> true when slot k was free (and is now taken)
**   get(name) -> number | nil, set(name, value, ttl)
** and the parameters p = { interval, burst, recover, decrease, floor, scan }.
** acquire returns the seconds to wait before starting (-1: no free slot in
** reach, ask again later), held the seconds the last 429 still holds
** everyone back, penalize the new share.
]]
local SLOTS = [=[
local floor, ceil, min, max = math.floor, math.ceil, math.min, math.max

local function share(store, now, p)
  local f = store.get("f")
  if not f then return 1 end
  return min(1, f + max(0, now - (store.get("f_at") or now)) * p.recover)
end

local function acquire(store, now, p)
  local f, i = share(store, now, p), p.interval
  local hold = store.get("hold") or 0
  local first = ceil(now / i) - (p.burst - 1)
  if hold > now then first = max(first, ceil(hold / i)) end
  for k = first, first + p.scan do
    -- at a share f < 1, slot k is in use when k * f crosses an integer
    if (f >= 1 or floor(k * f) ~= floor((k - 1) * f))
       and store.claim(k, max(0, k * i - now) + p.burst * i + 2) then
      return max(0, k * i - now)
    end
  end
  return -1
end

local function held(store, now)
  return (store.get("hold") or 0) - now
end

local function penalize(store, now, p, wait)
  local f = max(p.floor, share(store, now, p) * p.decrease)
  local ttl = (1 - f) / p.recover + 1
  store.set("f", f, ttl)
  store.set("f_at", now, ttl)
  if now + wait > (store.get("hold") or 0) then store.set("hold", now + wait, wait + 1) end
  return f
end

return acquire, penalize, held
]=]

local acquire, penalize, held = assert((loadstring or load)(SLOTS, "=wfsession.budget"))()
local unpack = table.unpack or unpack

--- The slot algorithm itself, over any store (for its specs).
-- @table slots
B.slots = { acquire = acquire, penalize = penalize, held = held, SCAN = SCAN }

-- The same, inside Redis: one script per claim, atomic there.
local REDIS_SCRIPT = "local acquire, penalize, held = (function()\n" .. SLOTS .. "\nend)()\n" .. [=[
local t = redis.call("TIME")
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local base = KEYS[1]
local function ms(s) return math.max(1, math.ceil(s * 1000)) end
local store = {
  claim = function(k, ttl)
    return redis.call("SET", base .. ":s:" .. string.format("%.0f", k), "1", "NX", "PX", ms(ttl)) ~= false
  end,
  get = function(name) local v = redis.call("GET", base .. ":" .. name); return v and tonumber(v) or nil end,
  set = function(name, v, ttl) redis.call("SET", base .. ":" .. name, string.format("%.6f", v), "PX", ms(ttl)) end,
}
local p = { interval = tonumber(ARGV[2]), burst = tonumber(ARGV[3]), recover = tonumber(ARGV[4]),
            decrease = tonumber(ARGV[5]), floor = tonumber(ARGV[6]), scan = tonumber(ARGV[7]) }
if ARGV[1] == "acquire" then return string.format("%.6f", acquire(store, now, p)) end
if ARGV[1] == "held" then return string.format("%.6f", held(store, now)) end
return string.format("%.6f", penalize(store, now, p, tonumber(ARGV[8])))
]=]

-- ======================================================================
-- Stores
-- ======================================================================

-- In the process: every client of one Lua state. Claims expire lazily.
local PROCESS = {}

local function process_store(key)
  local s = PROCESS[key]
  if s then return s end
  local slots, vars, count = {}, {}, 0
  local clock = core.monotonic
  s = { now = clock }
  function s.claim(k, ttl)
    local now = clock()
    if slots[k] and slots[k] > now then return false end
    slots[k] = now + ttl
    count = count + 1
    if count > 256 then
      count = 0
      for slot, expires in pairs(slots) do
        if expires <= now then slots[slot] = nil end
      end
    end
    return true
  end
  function s.get(name)
    local v = vars[name]
    if v and v[2] > clock() then return v[1] end
  end
  function s.set(name, value, ttl) vars[name] = { value, clock() + ttl } end
  PROCESS[key] = s
  return s
end

-- Across the workers of one nginx: each claim is one `add` (atomic in the dict).
local function dict_store(dict, key)
  local prefix = "wfs:" .. key .. ":"
  local s = {}
  -- the workers of one nginx share one machine, and so its monotonic clock
  s.now = core.monotonic
  function s.claim(k, ttl)
    return (dict:add(prefix .. string.format("%.0f", k), true, ttl)) == true
  end
  function s.get(name) return dict:get(prefix .. name) end
  function s.set(name, value, ttl) dict:set(prefix .. name, value, ttl) end
  return s
end

-- ======================================================================
-- Redis
-- ======================================================================

--- Parse "redis://host[:port][/db]".
-- @treturn table|nil `{ host, port, db }`
function B.parse_redis(url)
  if type(url) ~= "string" then return nil end
  local host, rest = url:match("^redis://(%[[%x:]+%])(.*)$")
  if not host then host, rest = url:match("^redis://([%w%.%-]+)(.*)$") end
  if not host then return nil end
  local port, db = rest:match("^:(%d+)/?(%d*)$")
  if not port then
    port, db = "6379", rest:match("^/?(%d*)$")
    if not db then return nil end
  end
  port, db = tonumber(port), tonumber(db ~= "" and db or "0")
  if port < 1 or port > 65535 or db > 1000000 then return nil end
  return { host = host:gsub("^%[(.*)%]$", "%1"), port = port, db = db }
end

-- Debian packages lua-redis for Lua 5.1 to 5.3; its module is pure Lua and
-- runs on 5.4 as well.
local function lua_redis()
  local ok, m = pcall(require, "redis")
  if ok then return m end
  local path = package.searchpath and package.searchpath("redis", "/usr/share/lua/5.3/?.lua")
  if path then
    ok, m = pcall(dofile, path)
    if ok then return m end
  end
  return nil, "lua-redis is not installed (Debian: lua-redis)"
end

local function resty_redis()
  for _, name in ipairs({ "resty.redis", "nginx.redis" }) do
    local ok, m = pcall(require, name)
    if ok then return m end
  end
  return nil, "resty.redis is not installed (Debian: lua-nginx-redis)"
end

-- The script's SHA-1, as Redis names it (SCRIPT LOAD answers it), per process.
local script_sha

-- One script call through lua-redis (blocking, for scripts) or resty.redis
-- (cosockets, inside nginx); nil, msg when Redis cannot be reached.
local function redis_call(r, args)
  local conn = r.conn
  local ok, res = pcall(function()
    if r.resty then
      conn = r.mod:new()
      conn:set_timeout(REDIS_TIMEOUT * 1000)
      -- a pool of our own per database: a pooled connection has selected it already
      assert(conn:connect(r.host, r.port, { pool = r.pool }))
      if r.db ~= 0 and conn:get_reused_times() == 0 then assert(conn:select(r.db)) end
    elseif not conn then
      conn = r.mod.connect{ host = r.host, port = r.port, timeout = REDIS_TIMEOUT }
      if r.db ~= 0 then conn:select(r.db) end
      r.conn = conn
    end
    -- resty.redis answers nil (or false), err; lua-redis raises: both become raises here
    local function call(name, ...)
      local value, err = conn[name](conn, ...)
      if not value and err then error(err, 0) end
      return value
    end
    for _ = 1, 2 do
      if not script_sha then script_sha = call("script", "load", REDIS_SCRIPT) end
      local done, value = pcall(call, "evalsha", script_sha, 1, r.key, unpack(args))
      if done then return value end
      if not tostring(value):find("NOSCRIPT", 1, true) then error(value, 0) end
      script_sha = nil   -- Redis restarted or flushed its scripts
    end
    error("the script would not load", 0)
  end)
  if r.resty and conn then
    if ok then conn:set_keepalive(10000, 64) else conn:close() end
  end
  if not ok then
    if r.conn then pcall(r.conn.quit, r.conn) end
    r.conn = nil
    return nil, tostring(res)
  end
  return res
end

-- ======================================================================
-- Budgets
-- ======================================================================

local Budget = {}
Budget.__index = Budget

-- The store answers `op`: the local algorithm over a table or a dict, or
-- the script in Redis (a local budget of the same rate while it is away).
function Budget:_run(op, wait)
  local r = self.redis
  if r and (not r.down_until or core.monotonic() >= r.down_until) then
    local res, err = redis_call(r, { op, self.p.interval, self.p.burst, self.p.recover, self.p.decrease,
                                     self.p.floor, self.p.scan, wait or 0 })
    if res then
      r.down_until = nil
      return tonumber(res)
    end
    r.down_until = core.monotonic() + REDIS_RETRY
    if not r.told then
      r.told = true
      self.notice("rate_limit: the Redis share " .. r.url .. " cannot be reached (" .. tostring(err):gsub("%s+", " ")
        .. "); pacing with a local budget of the same rate")
    end
  end
  local store = self.store
  local now = store.now()
  if op == "acquire" then return acquire(store, now, self.p) end
  if op == "held" then return held(store, now) end
  return penalize(store, now, self.p, wait)
end

--- Wait, through `sleep`, until this request may start.
-- @tparam function sleep the host's wait (seconds)
function Budget:acquire(sleep)
  for _ = 1, 64 do
    local delay = self:_run("acquire")
    if delay == 0 then return end
    if delay > 0 then
      sleep(delay)
      -- unless a 429 came while this request waited: then claim again, past its hold
      if self:_run("held") <= 0 then return end
    else
      sleep(self.p.scan * self.p.interval / 2)   -- every slot in reach is taken
    end
  end
end

--- A 429: everyone on the budget slows down and waits `wait` seconds.
-- @tparam ?number wait the server's wait, if it said one
function Budget:penalize(wait)
  self:_run("penalize", wait or B.HOLD)
end

local function own_host(P, base_url)
  local function origin(u) return (u or ""):match("^(%a[%w+.-]*://[^/]+)") end
  return origin(P.default_base_url) ~= nil and origin(base_url) == origin(P.default_base_url)
end

--- The budget of a client, or nil when it is not paced.
-- @tparam table opts the client options (checked)
-- @tparam table P the provider module
-- @tparam string base_url the client's base URL
-- @tparam table secrets the client's credentials
-- @tparam function notice called once with a message when a share falls back
-- @tparam boolean cosockets the client runs on nginx's cosockets (resty.redis then)
-- @treturn ?table budget
function B.new(opts, P, base_url, secrets, notice, cosockets)
  local rl = opts.rate_limit
  if rl == false then return nil end
  local conf = type(rl) == "table" and rl or { rps = rl }
  local rps = conf.rps
  if rps == nil then
    if rl == nil and not own_host(P, base_url) then return nil end
    rps = P.rate_limit and P.rate_limit(secrets)
    if rps == nil then
      if rl == nil then return nil end
      util.argerror("rate_limit", "needs rps: " .. P.name .. " publishes no rate limit")
    end
  end
  local burst = conf.burst or 1
  local p = { interval = (1 + B.MARGIN) / rps, burst = burst, recover = B.RECOVER, decrease = B.DECREASE,
              floor = B.FLOOR, scan = SCAN }
  local credential = secrets.api_key or secrets.client_id or secrets.token or ""
  local key = table.concat({ P.name, base_url, core.sha256(credential):sub(1, 16), rps, burst }, "|")
  local self = setmetatable({ p = p, key = key, notice = notice }, Budget)  -- key: what identifies the budget
  local share = conf.share or "process"
  -- a Redis share paces with the process store while Redis is away
  self.store = type(share) == "table" and dict_store(share, key) or process_store(key)
  if type(share) ~= "table" and share ~= "process" then
    local r = assert(B.parse_redis(share))
    r.url, r.key, r.resty = share, "wfsession:" .. core.sha256(key):sub(1, 32), cosockets
    r.pool = ("wfsession-redis:%s:%d/%d"):format(r.host, r.port, r.db)
    local mod, err
    if cosockets then mod, err = resty_redis() else mod, err = lua_redis() end
    r.mod = mod
    self.redis = r
    if not mod then
      r.down_until, r.told = math.huge, true
      notice("rate_limit: " .. err .. "; pacing with a local budget of the same rate")
    end
  end
  return self
end

return B
