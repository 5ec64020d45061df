--- Iterator helpers over sessions: filter, take, collect.
--
-- Pure Lua; runs on Lua 5.1 to 5.4 and LuaJIT. Every helper accepts the
-- same three kinds of source, so they compose:
--
-- - a pager: any object with a `:next()` method that returns an item, or
--   `nil` at the end, or `nil, msg, err` on failure (`msg` is raised, as
--   `io.lines` does, so a generic `for` stops loudly instead of silently);
-- - an iterator function, called with no arguments until it returns nil
--   (a `nil, msg` return is raised like a pager's);
-- - an array table.
--
-- Items are read like tables (`s.status`, `s.created_at`), so session
-- userdata and plain tables work alike. Sources are pulled lazily: nothing
-- is read before the caller asks for it, and `take` never reads one item
-- too many, so a pager never fetches a page that is not needed.
--
-- @module wfsession.filter

local util = require "wfsession.util"
local is_callable = util.is_callable
local is_finite = util.is_finite

local type, tostring, pairs, ipairs, error, pcall, require =
      type, tostring, pairs, ipairs, error, pcall, require
local math_floor = math.floor
local table_sort = table.sort

local F = {}

-- `x.next` when it is callable; a userdata without __index raises, so guard it
local function next_method(x)
  local t = type(x)
  if t ~= "table" and t ~= "userdata" then return nil end
  local ok, m = pcall(function() return x.next end)
  if ok and is_callable(m) then return m end
  return nil
end

-- a failure seen while pulling: raise its message (level 0: no position, like io.lines)
local function raise(msg, err)
  if msg == nil and type(err) == "table" then msg = err.message end
  error(tostring(msg or err), 0)
end

--[[
** The iterator of `x`, or nil with a reason. Each iterator remembers that
** its source ended, so it is never pulled again afterwards (a closed pager
** may refuse to be asked twice).
]]
local function make_iterator(x)
  local done = false
  local m = next_method(x)
  if m then
    return function()
      if done then return nil end
      local item, msg, err = m(x)
      if item == nil then
        done = true
        if msg ~= nil or err ~= nil then raise(msg, err) end
      end
      return item
    end
  end
  if is_callable(x) then
    return function()
      if done then return nil end
      local item, msg, err = x()
      if item == nil then
        done = true
        if msg ~= nil or err ~= nil then raise(msg, err) end
      end
      return item
    end
  end
  if type(x) == "table" then
    local i = 0
    return function()
      if done then return nil end
      i = i + 1
      local item = x[i]
      if item == nil then done = true end
      return item
    end
  end
  return nil
end

-- make_iterator or an argument error at the user's call (level 3: the caller's caller)
local function source(x, fname)
  local it = make_iterator(x)
  if not it then
    error("bad argument #1 to '" .. fname .. "' (pager, iterator function or array expected, got "
          .. type(x) .. ")", 3)
  end
  return it
end

--[[
** Core's ISO-8601 parser, looked up on first use so that loading this
** module does not need the C core (the predicates and `take` do not).
]]
local core_time
local function parse_time(s)
  if not core_time then
    local core = require("wfsession.core")
    core_time = core.time
    if type(core_time) ~= "function" then
      error("wfsession.core has no time function", 0)
    end
  end
  return core_time(s)
end

--- Epoch seconds of a timestamp field: a number is taken as epoch seconds,
-- a string is parsed with `wfsession.core.time`; anything else, or a
-- string that does not parse, gives nil.
-- Shared by `filter` and `wfsession.summary`; not part of the public API.
-- @function epoch
-- @param v a timestamp
-- @treturn ?number epoch seconds
-- @local
function F.epoch(v)
  if type(v) == "number" then return is_finite(v) and v or nil end
  if type(v) ~= "string" then return nil end
  local t = parse_time(v)
  if is_finite(t) then return t end
  return nil
end

--- The iterator function of a source.
-- @function iterator
-- @param x a pager (object with `:next()`), an iterator function or an array
-- @treturn function an iterator for a generic `for`
-- @raise if `x` is none of these; from the iterator, the message of a
--   pager (or function) failure
-- @local
function F.iterator(x)
  local it = source(x, "iterator")
  return it
end

-- a field of an item read like a table; nil for items that cannot be indexed
local function field(s, k)
  local t = type(s)
  if t == "table" or t == "userdata" then return s[k] end
  return nil
end

local SCALAR = { string = true, number = true, boolean = true }

-- raised without position: F.filter re-raises it at the user's call
local function spec_error(what)
  error("bad argument #2 to 'filter' (" .. what .. ")", 0)
end

local function describe(v)
  if type(v) == "string" then
    return ("%q"):format(#v > 40 and v:sub(1, 40) .. "..." or v)
  end
  return type(v)
end

-- `since`/`until` bound as epoch seconds
local function bound(name, v)
  if type(v) ~= "number" and type(v) ~= "string" then
    spec_error(name .. ": timestamp string or epoch seconds expected, got " .. type(v))
  end
  local t = F.epoch(v)
  if not t then
    spec_error(name .. ": cannot parse timestamp " .. describe(v))
  end
  return t
end

--[[
** Turn a spec table into a predicate. The spec is checked entirely before
** the first item is read, so a typo fails at the call, not halfway through
** a listing.
]]
local function compile(spec)
  local keys = {}
  for k in pairs(spec) do
    if type(k) ~= "string" then
      spec_error("field names must be strings, got " .. type(k))
    end
    keys[#keys + 1] = k
  end
  table_sort(keys) -- check in a stable order, so the same spec gives the same message

  local since, till
  local tests = {}  -- { field, set of accepted values }
  for _, k in ipairs(keys) do
    local v = spec[k]
    if k == "since" then
      since = bound("since", v)
    elseif k == "until" then
      till = bound("until", v)
    else
      local set = {}
      if SCALAR[type(v)] then
        if v ~= v then spec_error(k .. ": NaN never matches") end
        set[v] = true
      elseif type(v) == "table" then
        -- an empty list matches nothing, as `x in {}` would
        for i, e in ipairs(v) do
          if not SCALAR[type(e)] or e ~= e then
            spec_error(k .. "[" .. i .. "]: string, number or boolean expected, got " .. type(e))
          end
          set[e] = true
        end
        for key in pairs(v) do
          if type(key) ~= "number" or key < 1 or key > #v or key ~= math_floor(key) then
            spec_error(k .. ": list of values expected, got a table with key " .. describe(key))
          end
        end
      else
        spec_error(k .. ": value or list of values expected, got " .. type(v))
      end
      tests[#tests + 1] = { k, set }
    end
  end

  return function(s)
    for i = 1, #tests do
      local v = field(s, tests[i][1])
      if v == nil or not tests[i][2][v] then return false end
    end
    if since or till then
      -- a session without a readable created_at cannot be placed in the range
      local t = F.epoch(field(s, "created_at"))
      if not t then return false end
      if since and t < since then return false end
      if till and t >= till then return false end
    end
    return true
  end
end

--- The items of a source that match a spec or a predicate.
-- A spec is a table `{ field = value | { value1, value2, ... } }`: an item
-- matches when every named field equals the value, or one of the listed
-- values (an empty list matches nothing). Any field name works
-- (`outcome`, `status`, `workflow_id`, ...). Two keys are special:
-- `since` (created_at >= since) and `["until"]` (created_at < until),
-- given as ISO-8601 strings or epoch seconds; an item whose `created_at`
-- is missing or does not parse matches neither.
-- @function filter
-- @param x a pager, an iterator function or an array
-- @tparam table|function spec a spec table, or a predicate `f(item)` -> truthy
-- @treturn function an iterator for a generic `for`
-- @raise if `x` or `spec` is malformed (checked before reading any item)
function F.filter(x, spec)
  local src = source(x, "filter")
  local pred
  if is_callable(spec) then
    pred = spec
  elseif type(spec) == "table" then
    local ok, res = pcall(compile, spec)
    if not ok then error(res, 2) end
    pred = res
  else
    error("bad argument #2 to 'filter' (spec table or predicate function expected, got "
          .. type(spec) .. ")", 2)
  end
  return function()
    -- bounded by the source: each pass reads one item
    while true do
      local s = src()
      if s == nil then return nil end
      if pred(s) then return s end
    end
  end
end

--- At most `n` items of a source.
-- The source is not read once `n` items were returned: item n + 1 is never
-- requested, so a pager stops without fetching another page.
-- @function take
-- @param x a pager, an iterator function or an array
-- @tparam integer n the maximum number of items (>= 0)
-- @treturn function an iterator for a generic `for`
function F.take(x, n)
  local src = source(x, "take")
  if not (is_finite(n) and n >= 0 and n == math_floor(n)) then
    error("bad argument #2 to 'take' (integer >= 0 expected, got "
          .. (type(n) == "number" and tostring(n) or type(n)) .. ")", 2)
  end
  local count = 0
  return function()
    if count >= n then return nil end
    local s = src()
    if s == nil then
      count = n -- ended early: do not pull again
      return nil
    end
    count = count + 1
    return s
  end
end

--- Returned by a query matcher when the listing can end: on a listing
-- ordered by a date, a bound on that date was passed.
F.STOP = setmetatable({}, { __tostring = function() return "wfsession.filter.STOP" end })

--- The client-side part of a query as `match(s) -> true | false | STOP`.
-- `cs` holds normalized query keys (`status`, `outcome`, `workflow_id`,
-- `subject_id` by equality; `created_after`/`created_before`,
-- `updated_after`/`updated_before` exclusive); `order` is the listing's
-- order `{ field = "created_at"|"updated_at", desc = bool }` or nil. On a
-- listing ordered by a date, a bound on that date ends the listing as soon
-- as it is passed instead of scanning to the end.
-- Used by the pager; not part of the public API.
-- @function query_matcher
-- @tparam table cs
-- @tparam ?table order
-- @treturn ?function nil when nothing is checked client-side
-- @local
function F.query_matcher(cs, order)
  local tests = {}
  for _, key in ipairs({ "status", "outcome", "workflow_id", "subject_id" }) do
    local want = cs[key]
    if want ~= nil then tests[#tests + 1] = function(s) return s[key] == want end end
  end
  local stop_field, stop_at, stop_desc
  for _, name in ipairs({ "created", "updated" }) do
    local after, before = cs[name .. "_after"], cs[name .. "_before"]
    local at = name .. "_at"
    local lo, hi = after and F.epoch(after), before and F.epoch(before)
    if lo or hi then
      tests[#tests + 1] = function(s)
        local t = F.epoch(s[at])
        return t ~= nil and (lo == nil or t > lo) and (hi == nil or t < hi)
      end
      if order and order.field == at then
        if order.desc and lo then stop_field, stop_at, stop_desc = at, lo, true end
        if not order.desc and hi then stop_field, stop_at, stop_desc = at, hi, false end
      end
    end
  end
  if #tests == 0 then return nil end
  local STOP = F.STOP
  return function(s)
    if stop_field then
      local t = F.epoch(s[stop_field])
      if t and ((stop_desc and t <= stop_at) or (not stop_desc and t >= stop_at)) then return STOP end
    end
    for i = 1, #tests do
      if not tests[i](s) then return false end
    end
    return true
  end
end

--- All items of a source, in order.
-- @function collect
-- @param x a pager, an iterator function or an array
-- @treturn table an array (a new table, also when `x` is an array)
function F.collect(x)
  local src = source(x, "collect")
  local out, n = {}, 0
  -- a plain call, not a generic for: on Lua 5.1 a task of wfs.multi cannot
  -- yield from inside a for iterator, and the pager yields while it waits
  while true do
    local s = src()
    if s == nil then break end
    n = n + 1
    out[n] = s
  end
  return out
end

return F
