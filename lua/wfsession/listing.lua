--- The Lua pager ("wfsession.listing"): drives a core pager (wfs_pager.c)
-- through the client's exchanges and applies the client-side part of the
-- query. `client:sessions{}` returns one; it is also the generic-for
-- iterator.
-- @module wfsession.listing

local core = require "wfsession.core"
local util = require "wfsession.util"
local options = require "wfsession.options"
local filter = require "wfsession.filter"

local STOP = filter.STOP
local W = "client:sessions"

local M = {}

local Pager = { __name = "wfsession.listing" }
local methods = {}

function Pager.__index(self, k)
  if k == "total" then
    local c = rawget(self, "_core")
    if c then return c:total() end
    return rawget(self, "_total") or nil
  end
  return methods[k]
end

function Pager.__tostring(self)
  local state = self._closed and "closed" or self._finished and "finished" or "open"
  return "wfsession.listing: " .. self._client.provider .. " (" .. state .. ")"
end

--- The generic-for iterator: raises `msg` on failure (like io.lines).
function Pager.__call(self)
  local s, msg = methods.next(self)
  if s == nil and msg ~= nil then error(msg, 2) end
  return s
end

function Pager.__close(self) methods.close(self) end

--- Fetch the next page into the C pager.
local function fetch(self)
  local c, client = self._core, self._client
  local want = (not self._match and self._max) and (self._max - self._yielded) or nil
  local n, msg, err = client:_exchange(function() return c:request(want) end,
                                       function(st, h, b) return c:feed(st, h, b) end)
  if n == nil then
    self._msg, self._err = msg, err
    return nil, msg, err
  end
  return true
end

--- Pull the next session that passes the query, fetching pages as needed.
local function advance(self, page_only)
  local c = self._core
  while true do
    if self._max and self._yielded >= self._max then return nil end
    local s = c:pop()
    if s ~= nil then
      local verdict = not self._match or self._match(s)
      if verdict == true then
        self._yielded = self._yielded + 1
        return s
      elseif verdict == STOP then
        self._finished = true
        return nil
      end
    elseif page_only then
      return nil
    elseif self._empty or c:done() then
      self._finished = true
      return nil
    else
      local ok, msg, err = fetch(self)
      if not ok then return nil, msg, err end
    end
  end
end

local function closed_error(self)
  local msg = self._client.provider .. ": closed: the pager is closed"
  return nil, msg, { kind = "closed", provider = self._client.provider, message = msg, retryable = false }
end

--- The next session. Never raises.
-- @return session | nil, nil at the end | nil, msg, err
function methods:next()
  if self._err then return nil, self._msg, self._err end
  if self._closed then return closed_error(self) end
  if self._finished then return nil end
  return advance(self, false)
end

--- The next page: an array of sessions with `.number`, `.total`, `.cursor`.
-- @return page | nil at the end | nil, msg, err
function methods:next_page()
  if self._err then return nil, self._msg, self._err end
  if self._closed then return closed_error(self) end
  while not self._finished do
    local page = {}
    while true do
      local s, msg, err = advance(self, true)
      if s == nil then
        if msg then return nil, msg, err end
        break
      end
      page[#page + 1] = s
    end
    if #page > 0 then
      page.number, page.total, page.cursor = self._core:pages(), self.total, self:cursor()
      return page
    end
    -- max_items keeps the cursor (the listing can go on); the end clears it
    if self._max and self._yielded >= self._max then break end
    if self._finished or self._empty or self._core:done() then
      self._finished = true
      break
    end
    local ok, msg, err = fetch(self)
    if not ok then return nil, msg, err end
  end
  return nil
end

--- An opaque, item-exact resume token, or nil when nothing is left.
function methods:cursor()
  if self._closed or self._finished then return nil end
  return self._core:cursor()
end

--- The structured error that ended the listing, if any.
function methods:err() return self._err or nil end

--- Release the pager; idempotent. A `break` out of a generic `for` does this on 5.4.
function methods:close()
  local c = rawget(self, "_core")
  if c then
    self._total = c:total()
    self._core = false
    c:close()
  end
  self._closed = true
end

--- A listing of `client` for a query checked by `options.query`.
-- @tparam table client
-- @tparam table q
-- @treturn table the pager
function M.new(client, q)
  local P = client._impl
  local plan, why = P.plan(q, client)
  if not plan then
    local name, rest = why:match("^([%w_]+): (.*)$")
    util.argerror(name, rest, W)
  end
  if q.server_only then
    local keys = {}
    for k in pairs(plan.client) do keys[#keys + 1] = k end
    table.sort(keys)
    if #keys > 0 then
      util.argerror("server_only", P.name .. " cannot filter by " .. table.concat(keys, ", ")
        .. " on the server", W)
    end
  end
  local c = core.pager{
    provider = client.provider, url = P.list_url(client), params = plan.params,
    headers = { Accept = "application/json" }, timeout = client.timeout,
    page_size = q.page_size or client.page_size, query = options.canonical(q) .. "|" .. client.scope,
    legacy = plan.legacy, drift = plan.drift, page_base = plan.page_base, cursor = q.cursor,
  }
  -- every field is present (false, not nil): the loop's lookups never reach __index
  return setmetatable({
    _client = client, _core = c, _match = filter.query_matcher(plan.client, plan.order) or false,
    _max = q.max_items or false, _yielded = 0, _empty = plan.empty or false,
    _finished = false, _closed = false, _err = false, _msg = false, _total = false,
  }, Pager)
end

return M
