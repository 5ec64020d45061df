--- Retry policy: which failures to try again, and how long to wait first.
--
-- Pure Lua; runs on Lua 5.1 to 5.4 and LuaJIT. The clock, the sleep and the
-- random source are fields of the policy, so tests (and event-loop hosts)
-- replace them instead of monkey-patching this module.
--
-- A failure is the usual `nil, msg, err` triple with `err` a table. Only
-- `err.retryable` failures are tried again; `err.retry_after` (seconds,
-- computed by the caller from the response headers with `server_wait`) wins
-- over the computed backoff. Waits use "full jitter" (AWS Architecture Blog,
-- "Exponential Backoff And Jitter"): `random() * min(cap, base * 2^n)` for
-- the n-th retry, which spreads the clients of a throttled API apart.
--
-- @module wfsession.retry

local util = require "wfsession.util"
local is_callable = util.is_callable
local is_finite = util.is_finite

local type, tonumber, tostring, select, pairs, error, pcall, require =
      type, tonumber, tostring, select, pairs, error, pcall, require
local string_format = string.format
local math_floor, math_min, math_max, math_random =
      math.floor, math.min, math.max, math.random
local os_time = os.time
local unpack = table.unpack or unpack

local retry = {}

--- Default policy values (seconds). `deadline = nil`: no overall limit.
-- `policy()` copies from this table when it is called, so changing it
-- changes the defaults of later policies.
retry.DEFAULTS = { max_retries = 2, base = 0.5, cap = 20, retry_after_max = 60, deadline = nil }

-- Values above this are clearly not a plausible delay (x-ratelimit-reset).
local EPOCH_SECONDS_MIN = 1e9  -- 2001-09-09: every epoch timestamp in use is above it
local EPOCH_MS_MIN = 1e12      -- the same instant in milliseconds

local function describe(v)
  if type(v) == "number" then return tostring(v) end
  return type(v)
end

-- The host's sleep and clock (wfsession.host picks them: ngx.sleep inside
-- OpenResty, else nanosleep; the core's wall clock).
local host = require "wfsession.host"
local default_sleep, default_clock = host.sleep, host.clock

-- Bounds: more retries than this is a loop, longer waits are nobody's
-- intent (and would overflow a host's timer later instead of failing now).
local MAX_RETRIES, MAX_SECONDS = 100, util.MAX_SECONDS

-- name -> { what it must be, test }
local CHECKS = {
  max_retries = { "an integer 0.." .. MAX_RETRIES, function(v)
    return is_finite(v) and v >= 0 and v <= MAX_RETRIES and v == math_floor(v) end },
  base = { "a number of seconds > 0, at most " .. MAX_SECONDS,
    function(v) return is_finite(v) and v > 0 and v <= MAX_SECONDS end },
  cap = { "a number of seconds > 0, at most " .. MAX_SECONDS,
    function(v) return is_finite(v) and v > 0 and v <= MAX_SECONDS end },
  retry_after_max = { "a number of seconds >= 0, at most " .. MAX_SECONDS,
    function(v) return is_finite(v) and v >= 0 and v <= MAX_SECONDS end },
  deadline = { "nil or a number of seconds > 0, at most " .. MAX_SECONDS,
    function(v) return is_finite(v) and v > 0 and v <= MAX_SECONDS end },
  sleep = { "a function", is_callable },
  clock = { "a function", is_callable },
  random = { "a function", is_callable },
}

--[[
** Build a validated copy of `opts`. `level` is passed to error() so the
** message points at the user's call, whichever public function got here.
]]
local function make_policy(opts, level)
  local p = {}
  for k in pairs(CHECKS) do p[k] = retry.DEFAULTS[k] end
  p.sleep, p.clock, p.random = default_sleep, default_clock, math_random
  if opts == nil or opts == true then return p end
  if opts == false then
    p.max_retries = 0
    return p
  end
  if type(opts) ~= "table" then
    error("retry: policy must be a table, false or nil (got " .. type(opts) .. ")", level)
  end
  for k, v in pairs(opts) do
    local check = type(k) == "string" and CHECKS[k]
    if not check then
      error("retry." .. tostring(k) .. ": unknown option", level)
    end
    if not check[2](v) then
      error("retry." .. k .. ": expected " .. check[1] .. ", got " .. describe(v), level)
    end
    p[k] = v
  end
  -- a float like 2.0 (e.g. decoded from JSON) becomes the integer 2 on 5.3+
  if math.tointeger then p.max_retries = math.tointeger(p.max_retries) end
  return p
end

--- Validate a retry policy and fill in the defaults.
-- @function policy
-- @tparam[opt] table|boolean opts `nil` (or `true`) for the defaults, `false`
--   for no retries (`max_retries = 0`), or a table with any of `max_retries`
--   (integer >= 0), `base`, `cap` (> 0), `retry_after_max` (>= 0), `deadline`
--   (nil or > 0, overall seconds), `sleep(seconds)`, `clock()` and `random()`
--   (returns a number in [0, 1)).
-- @treturn table a new table with every key set; `sleep` defaults to
--   `ngx.sleep` inside OpenResty, else `wfsession.core.sleep`; `clock` to
--   `wfsession.core.now`; `random` to `math.random`.
-- @raise an unknown key, wrong type or out-of-range value, as
--   `"retry.<key>: ..."`.
function retry.policy(opts)
  local p = make_policy(opts, 3)
  return p
end

-- a header value: string, number, or the first of several values
local function header(headers, name)
  local v = headers[name]
  if type(v) == "table" then v = v[1] end
  if type(v) == "number" then return is_finite(v) and v or nil end
  if type(v) ~= "string" or #v > 64 then return nil end
  return (v:match("^%s*(.-)%s*$"))
end

-- a non-negative decimal number of seconds (or ms), as a string or number
local function parse_number(v)
  if type(v) == "number" then return v >= 0 and v or nil end
  if v == nil or not (v:match("^%d+%.?%d*$") or v:match("^%.%d+$")) then return nil end
  return tonumber(v)
end

local MONTHS = { jan = 1, feb = 2, mar = 3, apr = 4, may = 5, jun = 6,
                 jul = 7, aug = 8, sep = 9, oct = 10, nov = 11, dec = 12 }
--[[
** An HTTP date (RFC 9110 section 5.6.7) as epoch seconds. Recipients must
** accept the three historical forms, so this does:
**   IMF-fixdate  Sun, 06 Nov 1994 08:49:37 GMT
**   RFC 850      Sunday, 06-Nov-94 08:49:37 GMT
**   asctime      Sun Nov  6 08:49:37 1994
** The weekday is not checked against the date: nobody gets it wrong on purpose.
]]
local function parse_http_date(s)
  local d, mon, y, h, mi, sec, zone =
    s:match("^%a+,%s*(%d%d?)[%s%-](%a%a%a)[%s%-](%d+)%s+(%d%d?):(%d%d):(%d%d)%s*(%a*)$")
  if d then
    zone = zone:upper()
    if zone ~= "GMT" and zone ~= "UTC" then return nil end
  else
    mon, d, h, mi, sec, y = s:match("^%a%a%a%s+(%a%a%a)%s+(%d%d?)%s+(%d%d?):(%d%d):(%d%d)%s+(%d%d%d%d)$")
    if not mon then return nil end
  end
  local m = MONTHS[mon:lower()]
  local two_digit_year = #y == 2
  d, y, h, mi, sec = tonumber(d), tonumber(y), tonumber(h), tonumber(mi), tonumber(sec)
  if two_digit_year then
    -- RFC 850's two-digit year: RFC 9110 reads years more than 50 years ahead as past
    y = y < 70 and 2000 + y or 1900 + y
  elseif y < 1000 or y > 9999 then
    return nil
  end
  if not m then return nil end
  -- the calendar lives in the core (wfs_time.c): it checks the day of the
  -- month, leap years included, and counts the days
  local ok, core = pcall(require, "wfsession.core")
  if not ok or type(core) ~= "table" then return nil end
  local t = core.time(string_format("%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, h, mi, sec))
  return t
end

--- Seconds the server asked the client to wait, from response headers.
-- Looked up in this order; a header that is absent or unparseable passes
-- to the next one:
--
-- 1. `retry-after`: delta seconds, or an HTTP date (the wait is
--    `date - now`, floored at 0);
-- 2. `retry-after-ms`: milliseconds;
-- 3. `x-ratelimit-reset`, only when `status` is nil or 429 and
--    `x-ratelimit-remaining` is absent or 0 (many APIs send it on every
--    response; it is a reason to wait only once the quota is spent). The
--    value reads as seconds to wait when below 1e9, epoch seconds from 1e9
--    (2001-09-09), and epoch milliseconds from 1e12; an epoch gives
--    `reset - now`, floored at 0.
-- @function server_wait
-- @tparam table headers response headers, lower-case names; a value may be
--   a string, a number or an array of strings (the first one counts)
-- @tparam[opt] number now current time as epoch seconds (wall clock, not a
--   monotonic one); default `os.time()`
-- @tparam[opt] integer status the HTTP status of the response
-- @treturn ?number seconds (>= 0), or nil when the server said nothing usable
function retry.server_wait(headers, now, status)
  if headers == nil then return nil end
  if type(headers) ~= "table" then
    error("bad argument #1 to 'server_wait' (table expected, got " .. type(headers) .. ")", 2)
  end
  if now == nil then
    now = os_time()
  elseif not is_finite(now) then
    error("bad argument #2 to 'server_wait' (number expected, got " .. describe(now) .. ")", 2)
  end

  local v = header(headers, "retry-after")
  local secs = parse_number(v)
  if secs then return secs end
  if type(v) == "string" then
    local t = parse_http_date(v)
    if t then return math_max(0, t - now) end
  end

  local ms = parse_number(header(headers, "retry-after-ms"))
  if ms then return ms / 1000 end

  if status == nil or status == 429 then
    local remaining = parse_number(header(headers, "x-ratelimit-remaining"))
    if remaining == nil or remaining == 0 then
      local reset = parse_number(header(headers, "x-ratelimit-reset"))
      if reset then
        if reset < EPOCH_SECONDS_MIN then return reset end
        if reset >= EPOCH_MS_MIN then reset = reset / 1000 end
        return math_max(0, reset - now)
      end
    end
  end
  return nil
end

local function check_policy_table(p, fname)
  if type(p) ~= "table" then
    error("bad argument #1 to '" .. fname .. "' (policy table expected, got " .. type(p) .. ")", 3)
  end
end

--- The full-jitter wait before the n-th retry.
-- @function backoff
-- @tparam table policy a policy (from `policy`)
-- @tparam number n the retry number, 0 for the first retry
-- @treturn number `policy.random() * min(cap, base * 2^n)` seconds
-- @local
function retry.backoff(policy, n)
  check_policy_table(policy, "backoff")
  if not (is_finite(n) and n >= 0) then
    error("bad argument #2 to 'backoff' (number >= 0 expected, got " .. describe(n) .. ")", 2)
  end
  local base = policy.base or retry.DEFAULTS.base
  local cap = policy.cap or retry.DEFAULTS.cap
  local r = (policy.random or math_random)()
  if type(r) ~= "number" or r ~= r then
    error("retry.random: expected a number in [0, 1), got " .. describe(r), 2)
  end
  -- a sloppy random source must not turn into a wait longer than cap
  if r < 0 then r = 0 elseif r > 1 then r = 1 end
  return r * math_min(cap, base * 2 ^ n)
end

local function pack(...)
  return { n = select("#", ...), ... }
end

--- Call `fn(...)` until it succeeds or fails for good.
-- Success is a first result other than nil; then every result of `fn` is
-- returned unchanged. A failure `nil, msg, err` is tried again only when
-- `err` is a table with `err.retryable` set and retries remain. The wait
-- is `err.retry_after` when set, else `backoff(policy, n)`. Whatever `fn`
-- returned last is returned (all values) when:
--
-- - `err` is not a table (nothing says it may be retried);
-- - `err.retryable` is false, or `max_retries` retries were made;
-- - `err.retry_after` is above `retry_after_max` (`retry_after` is kept, so
--   the caller can decide to come back later);
-- - the wait would end after `deadline` seconds from the start.
--
-- `err.attempts` is set to the number of calls made so far, the first
-- included. Errors raised by `fn` propagate.
-- @function run
-- @tparam table|boolean|nil policy as accepted by `policy`
-- @tparam function fn the operation
-- @param ... arguments passed to every call of `fn`
-- @return what `fn` returned last
-- @local
function retry.run(policy, fn, ...)
  local p = make_policy(policy, 3)
  if not is_callable(fn) then
    error("bad argument #2 to 'run' (function expected, got " .. type(fn) .. ")", 2)
  end
  local args = pack(...)
  local start
  if p.deadline then
    start = p.clock()
    if not is_finite(start) then
      error("retry.clock: expected a number, got " .. describe(start), 2)
    end
  end
  local tries = 0
  -- bounded: each pass makes one call and at most max_retries + 1 calls are made
  while true do
    tries = tries + 1
    local res = pack(fn(unpack(args, 1, args.n)))
    if res[1] ~= nil then return unpack(res, 1, res.n) end

    local err = res[3]
    if type(err) ~= "table" then return unpack(res, 1, res.n) end
    err.attempts = tries
    if not err.retryable or tries > p.max_retries then return unpack(res, 1, res.n) end

    local wait = tonumber(err.retry_after)
    if wait ~= nil and wait == wait then
      if wait > p.retry_after_max then return unpack(res, 1, res.n) end
      wait = math_max(0, wait)
    else
      wait = retry.backoff(p, tries - 1)
    end
    if start then
      local now = p.clock()
      if not is_finite(now) then
        error("retry.clock: expected a number, got " .. describe(now), 2)
      end
      if now + wait > start + p.deadline then return unpack(res, 1, res.n) end
    end
    if wait > 0 then p.sleep(wait) end
  end
end

--- Call `fn()` with retries: `run(policy(opts), fn)`.
-- This is the public `wfs.retry(fn, policy)`.
-- @function call
-- @tparam function fn returns a value on success, `nil, msg, err` on failure
-- @tparam[opt] table|boolean opts a policy, as accepted by `policy`
-- @return what `fn` returned last
function retry.call(fn, opts)
  if not is_callable(fn) then
    error("bad argument #1 to 'retry' (function expected, got " .. type(fn) .. ")", 2)
  end
  local p = make_policy(opts, 3)
  return retry.run(p, fn)
end

return retry
