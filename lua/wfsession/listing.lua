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
local pager = {}

function Pager.__index(self, k)
  if k == "total" then
    local c = rawget(self, "_core")
    if c then return c:total() end
    return rawget(self, "_total") or nil
  elseif k == "pages" then  -- pages fed so far
    local c = rawget(self, "_core")
    return c and c:pages() or 0
  end
  return pager[k]
end

function Pager.__tostring(self)
  local state = self._closed and "closed" or self._finished and "finished" or "open"
  return "wfsession.listing: " .. self._client.provider .. " (" .. state .. ")"
end

--- The generic-for iterator: raises `msg` on failure (like io.lines).
-- @local
function Pager.__call(self)
  local s, msg, err = pager.next(self)
  if s == nil and msg ~= nil then
    local co = coroutine.running()
    if co then util.raised[co] = { msg = msg, err = err } end
    error(msg, 2)
  end
  return s
end

function Pager.__close(self) pager.close(self) end

-- The sessions still wanted beyond what the current page and the requests
-- in flight bring; nil when unknown (no max_items, or a client-side filter).
local function budget(self)
  if not self._max or self._match then return nil end
  local n = self._max - self._yielded - self._core:available()
  local inflight = self._inflight
  for i = 1, #inflight do n = n - inflight[i].req.size end
  return n
end

local fetch

-- Request pages until `concurrency` are in flight or no more are due.
local function fill(self)
  local inflight, c = self._inflight, self._core
  while #inflight < self._width do
    local want = budget(self)
    if want and want <= 0 then break end
    local req = c:request(want)
    if not req then break end
    inflight[#inflight + 1] = { req = req, task = fetch(self, req) }
  end
end

-- Stop every request in flight and forget it (a moved listing, an end, close).
local function cancel_all(self)
  local inflight, runner, c = self._inflight, self._client._runner, rawget(self, "_core")
  for i = #inflight, 1, -1 do
    runner:cancel(inflight[i].task)
    if c then c:drop(inflight[i].req) end
    inflight[i] = nil
  end
end

--[[
** Cursor listings: the token of the next page is read from the raw body
** before it is decoded, and that page is asked for at once, so that
** decoding never delays the next round trip. feed() confirms the token.
]]
local function speculate(self, req, body)
  -- at most `concurrency` pages ahead, answered or not (decoded pages are buffered)
  if self._speculated == req or self._closed or self._err or #self._inflight >= self._width then return end
  self._speculated = req
  local tok = self._core:peek(body)
  if not tok then return end
  local want = budget(self)
  if want and want <= 0 then return end
  local next_req = self._core:request(want, tok)
  if next_req then
    local inflight = self._inflight
    inflight[#inflight + 1] = { req = next_req, task = fetch(self, next_req) }
  end
end

-- Start fetching one page (with the client's retries) as a task of the runner.
fetch = function(self, req)
  local client, c = self._client, self._core
  local speculative = self._speculative
  return client._runner:spawn(function()
    return client:_exchange(function() return req end, function(st, h, b)
      if speculative and st >= 200 and st <= 299 then speculate(self, req, b) end
      return c:decode(st, h, b)
    end)
  end)
end

local function fail(self, msg, err)
  local _
  _, msg, err = self._client:_fail(msg, err)
  self._msg, self._err = msg, err
  cancel_all(self)
  return nil, msg, err
end

--- Make the next page current: feed answers in the order of the requests.
-- @return true | nil, msg, err
local function load(self)
  local c, runner = self._core, self._client._runner
  -- bounded: each pass feeds one page, or finds nothing left to ask for
  while true do
    fill(self)
    -- the head stays in the list while it is awaited: budget() counts it
    local head = self._inflight[1]
    if not head then return true end
    local page, msg, err = runner:join(head.task)
    table.remove(self._inflight, 1)
    if not page then
      c:drop(head.req)
      return fail(self, msg, err)
    end
    local n
    n, msg, err = c:feed(page, head.req)
    if n == nil then return fail(self, msg, err) end
    if n == false then
      cancel_all(self)   -- the listing moved: ask again from its position
    else
      local nxt = self._inflight[1]
      if nxt and nxt.req.token and nxt.req.token ~= page.token then
        -- the early request used a token the decoded page does not confirm
        runner:cancel(nxt.task)
        c:drop(nxt.req)
        table.remove(self._inflight, 1)
      end
      if self._prefetch then fill(self) end
      if n > 0 then return true end
      if #self._inflight == 0 and c:done() then return true end
    end
  end
end

--- Pull the next session that passes the query, fetching pages as needed.
local function advance(self, page_only)
  local c = self._core
  while true do
    if self._max and self._yielded >= self._max then
      cancel_all(self)
      return nil
    end
    local s = c:pop()
    if s ~= nil then
      local verdict = not self._match or self._match(s)
      if verdict == true then
        self._yielded = self._yielded + 1
        return s
      elseif verdict == STOP then
        self._finished = true
        cancel_all(self)
        return nil
      end
    elseif page_only then
      return nil
    elseif self._empty or (c:done() and #self._inflight == 0) then
      self._finished = true
      cancel_all(self)
      return nil
    else
      local ok, msg, err = load(self)
      if not ok then return nil, msg, err end
      if c:available() == 0 and #self._inflight == 0 and not c:done() then
        -- nothing more may be asked for: max_items is reached
        return nil
      end
    end
  end
end

local function closed_error(self)
  local msg = self._client.provider .. ": closed: the pager is closed"
  return nil, msg, { kind = "closed", provider = self._client.provider, message = msg, retryable = false }
end

--- The next session. Never raises.
-- @return session | nil, nil at the end | nil, msg, err
function pager:next()
  if self._err then return nil, self._msg, self._err end
  if self._closed then return closed_error(self) end
  if self._finished then return nil end
  return advance(self, false)
end

--- The next page: an array of sessions with `.number`, `.total`, `.cursor`.
-- @return page | nil at the end | nil, msg, err
function pager:next_page()
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
    if self._finished or self._empty or (self._core:done() and #self._inflight == 0) then
      self._finished = true
      break
    end
    local ok, msg, err = load(self)
    if not ok then return nil, msg, err end
    if self._core:available() == 0 and #self._inflight == 0 and not self._core:done() then break end
  end
  return nil
end

--- An opaque, item-exact resume token, or nil when nothing is left.
function pager:cursor()
  if self._closed or self._finished then return nil end
  return self._core:cursor()
end

--- The structured error that ended the listing, if any.
function pager:err() return self._err or nil end

--- Release the pager; idempotent. A `break` out of a generic `for` does this on 5.4.
function pager:close()
  cancel_all(self)
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
-- @local
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
  -- fewest round trips first: the largest page the provider allows, never
  -- more than max_items needs (all of a page may be needed without a filter)
  local size = q.page_size or client.page_size or P.page_size
  if q.max_items and not q.page_size and not client.page_size and next(plan.client) == nil then
    size = math.max(1, math.min(size, q.max_items))
  end
  -- concurrency 1 is today's sequential listing: one page at a time, each
  -- asked for when the one before is used up
  local width = client._runner.concurrent and client.concurrency or 1
  local c = core.pager{
    provider = client.provider, url = P.list_url(client), params = plan.params,
    headers = { Accept = "application/json" }, timeout = client.timeout,
    page_size = size, query = options.canonical(q) .. "|" .. client.scope,
    max_decoded = 2 * client.max_body,
    -- the pages whose ids guard against repeats: those in flight and the one before
    window = width + 1,
    legacy = plan.legacy, drift = plan.drift, page_base = plan.page_base, cursor = q.cursor,
  }
  -- every field is present (false, not nil): the loop's lookups never reach __index
  return setmetatable({
    _client = client, _core = c, _match = filter.query_matcher(plan.client, plan.order) or false,
    _max = q.max_items or false, _yielded = 0, _empty = plan.empty or false,
    _finished = false, _closed = false, _err = false, _msg = false, _total = false,
    _inflight = {}, _width = width, _prefetch = width > 1, _speculative = width > 1,
    _speculated = false,
  }, Pager)
end

return M
