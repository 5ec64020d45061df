--- wfsession: workflow sessions from ComplyCube, IDnow and Extend through one API.
--
--    local wfs = require "wfsession"
--    local client = wfs.new{ provider = "complycube", api_key = os.getenv("COMPLYCUBE_API_KEY") }
--    for s in client:sessions{ outcome = "rejected", max_items = 500 } do print(s.id, s.status) end
--
-- Argument errors raise, naming the argument. Runtime failures return
-- `nil, msg, err` (`err.kind` says what failed); a generic `for` raises `msg`
-- and keeps `err` at `pager:err()`.
-- @module wfsession

local core = require "wfsession.core"
local util = require "wfsession.util"
local retry = require "wfsession.retry"
local filter = require "wfsession.filter"
local summary = require "wfsession.summary"

local PROVIDERS = {
  complycube = require "wfsession.provider.complycube",
  idnow = require "wfsession.provider.idnow",
  extend = require "wfsession.provider.extend",
}

local wfs = { VERSION = core.VERSION }

local argerror = util.argerror

--- Secrets live here, not on the client table, so printing or dumping a
-- client can never show them.
local SECRETS = setmetatable({}, { __mode = "k" })
local SECRET_KEYS = { "api_key", "client_id", "client_secret", "token", "access_token" }

local COMMON_OPTIONS = {
  provider = true, base_url = true, page_size = true, concurrency = true, timeout = true,
  connect_timeout = true, retry = true, ca_file = true, proxy = true, user_agent = true,
  transport = true, sleep = true, on_request = true,
}

local STATUSES = { pending = true, running = true, review = true, completed = true,
                   failed = true, cancelled = true, expired = true }
local OUTCOMES = { approved = true, rejected = true, needs_attention = true }

-- ======================================================================
-- Option checks
-- ======================================================================

local function check_int(t, name, lo, hi, where)
  local v = t[name]
  if v == nil then return end
  if type(v) ~= "number" or v ~= math.floor(v) or v < lo or (hi and v > hi) then
    argerror(name, "must be an integer " .. (hi and (lo .. ".." .. hi) or (">= " .. lo)), where)
  end
end

local function check_positive(t, name)
  local v = t[name]
  if v ~= nil and (type(v) ~= "number" or v ~= v or v <= 0 or v == math.huge) then
    argerror(name, "must be a positive number of seconds")
  end
end

local function check_type(t, name, ty)
  local v = t[name]
  if v ~= nil and type(v) ~= ty then argerror(name, "must be a " .. ty .. ", got " .. type(v)) end
end

local function check_options(opts)
  local P = PROVIDERS[opts.provider]
  if not P then argerror("provider", "must be \"complycube\", \"idnow\" or \"extend\"") end
  for k in pairs(opts) do
    if type(k) ~= "string" then argerror(tostring(k), "is not an option name") end
    if not COMMON_OPTIONS[k] and not P.options[k] then
      for name, other in pairs(PROVIDERS) do
        if other.options[k] then argerror(k, "is an option of " .. name .. ", not " .. P.name) end
      end
      argerror(k, "is not a wfsession option")
    end
  end
  P.validate(opts)
  if opts.base_url ~= nil then util.check_url(opts, "base_url") end
  check_int(opts, "page_size", 1, 1000)
  check_int(opts, "concurrency", 1, 64)
  check_positive(opts, "timeout")
  check_positive(opts, "connect_timeout")
  for _, name in ipairs({ "ca_file", "proxy", "user_agent" }) do util.header_safe(opts, name) end
  check_type(opts, "sleep", "function")
  check_type(opts, "on_request", "function")
  local t = opts.transport
  if t ~= nil and t ~= "curl" and type(t) ~= "function" then
    argerror("transport", "must be \"curl\" or a function(req) -> status, headers, body")
  end
  local r = opts.retry
  if r ~= nil and r ~= false and type(r) ~= "table" then
    argerror("retry", "must be a table of retry settings or false")
  end
  return P
end

-- ======================================================================
-- Client
-- ======================================================================

local Client = { __name = "wfsession.client" }
Client.__index = Client

function Client.__tostring(self)
  return "wfsession.client: " .. self.provider .. " (" .. self.base_url .. ")"
end

--- Create a client. See DESIGN.md for every option.
-- @tparam table opts `{ provider = "complycube"|"idnow"|"extend", ... }`
-- @treturn table client
function wfs.new(opts)
  if type(opts) ~= "table" then error("wfsession: wfs.new expects a table of options", 2) end
  local P = check_options(opts)
  local policy = retry.policy(opts.retry)
  if opts.sleep and not (type(opts.retry) == "table" and opts.retry.sleep) then
    policy.sleep = opts.sleep
  end
  local client = setmetatable({
    provider = P.name,
    base_url = util.strip_slash(opts.base_url or P.default_base_url),
    page_size = opts.page_size or 100,
    concurrency = opts.concurrency or 4,
    timeout = opts.timeout or 30,
    connect_timeout = opts.connect_timeout or 10,
    retry = policy,
    sleep = policy.sleep,
    clock = policy.clock,
    on_request = opts.on_request,
    _impl = P,
    _curl_opts = { connect_timeout = opts.connect_timeout or 10, ca_file = opts.ca_file,
                   proxy = opts.proxy, user_agent = opts.user_agent },
    _transport = type(opts.transport) == "function" and opts.transport or nil,
  }, Client)
  client.scope = P.name
  if P.configure then P.configure(client, opts) end
  local secrets = {}
  for _, k in ipairs(SECRET_KEYS) do secrets[k] = opts[k] end
  SECRETS[client] = secrets
  return client
end

--- Replace every secret in `s` by "[redacted]".
local function scrub(client, s)
  if type(s) ~= "string" then return s end
  local secrets = SECRETS[client]
  for _, k in ipairs(SECRET_KEYS) do
    local v = secrets and secrets[k]
    if type(v) == "string" and #v >= 4 then
      local at = 1
      for _ = 1, 64 do
        local i, j = s:find(v, at, true)
        if not i then break end
        s = s:sub(1, i - 1) .. "[redacted]" .. s:sub(j + 1)
        at = i + 10
      end
    end
  end
  return s
end

local function fail(client, msg, err)
  err.provider = err.provider or client.provider
  err.message = scrub(client, err.message)
  return nil, scrub(client, msg), err
end

function Client:_transport_fn()
  local t = self._transport
  if t == nil then
    local close
    t, close = require("wfsession.transport.curl").new(self._curl_opts)
    self._transport, self._owned = t, close
  end
  return t
end

--- Perform one request through the transport; failures become `nil, msg, err`.
function Client:_send(req)
  local started = self.clock()
  local status, headers, body = self:_transport_fn()(req)
  local info = self.on_request and { provider = self.provider, method = req.method, url = req.url,
                                     status = status, seconds = self.clock() - started }
  if not status then
    local err = type(body) == "table" and body or { kind = "network", message = tostring(headers) }
    err.kind = err.kind or "network"
    if err.retryable == nil then err.retryable = err.kind == "network" or err.kind == "timeout" end
    err.method, err.url = req.method, req.url
    if info then info.error = err.kind; self.on_request(info) end
    return fail(self, self.provider .. ": " .. tostring(headers), err)
  end
  if info then self.on_request(info) end
  return status, headers or {}, body or ""
end

--- One API exchange: authorize, send, renew an expired token once on a 401,
-- hand the answer to `handle`; retried per the client's policy.
-- @tparam function build returns the request table
-- @tparam function handle (status, headers, body) -> result | nil, msg, err
function Client:_exchange(build, handle)
  local P, secrets = self._impl, SECRETS[self]
  local renewed = false
  return retry.run(self.retry, function()
    local req = build()
    local ok, msg, err = P.authorize(self, secrets, req.headers)
    if not ok then return fail(self, msg, err) end
    local status, headers, body = self:_send(req)
    if not status then return nil, headers, body end
    if status == 401 and not renewed and P.renewable and P.renewable(self, secrets) then
      renewed = true
      ok, msg, err = P.authorize(self, secrets, req.headers, true)
      if not ok then return fail(self, msg, err) end
      status, headers, body = self:_send(req)
      if not status then return nil, headers, body end
    end
    local result
    result, msg, err = handle(status, headers, body)
    if result == nil then
      err.method, err.url = req.method, req.url
      err.retry_after = retry.server_wait(headers, self.clock(), status)
      return fail(self, msg, err)
    end
    return result
  end)
end

local function check_id(id)
  if type(id) ~= "string" then argerror("id", "must be a string, got " .. type(id)) end
  if id == "" then argerror("id", "must not be empty") end
  if util.unsafe(id) then argerror("id", "must not contain CR, LF or NUL") end
end

--- One session, full detail.
-- @tparam string id the provider's id (sent percent-encoded as one path segment)
-- @return session | nil, msg, err
function Client:session(id)
  check_id(id)
  local P = self._impl
  return self:_exchange(function()
    return { method = "GET", url = P.get_url(self, id), timeout = self.timeout,
             headers = { Accept = "application/json" } }
  end, function(status, headers, body)
    if status < 200 or status > 299 then return nil, core.http_error(self.provider, status, headers, body) end
    local doc, derr = core.decode(body)
    if type(doc) ~= "table" then
      return nil, core.error(self.provider, "decode", "session response is not a JSON object"
        .. (derr and (" (" .. derr .. ")") or ""))
    end
    local raw = P.unwrap(doc, self)
    if type(raw) ~= "table" then
      if doc.success == false then return nil, core.http_error(self.provider, status, headers, body) end
      return nil, core.error(self.provider, "protocol", "session response has no session object")
    end
    return core.session(self.provider, raw)
  end)
end

--- Sessions by id, in order: `for id, s, msg, err in client:sessions_by_id(ids) do`.
-- Requests run one after another over the client's connection.
-- @tparam table ids array of id strings (checked before any request)
-- @tparam[opt] table opts `{ concurrency = n }` (accepted for the contract; 1..64)
function Client:sessions_by_id(ids, opts)
  if type(ids) ~= "table" then argerror("ids", "must be an array of id strings") end
  for i = 1, #ids do
    if type(ids[i]) ~= "string" or ids[i] == "" or util.unsafe(ids[i]) then
      argerror("ids[" .. i .. "]", "must be a non-empty string without CR, LF or NUL")
    end
  end
  if opts ~= nil then
    if type(opts) ~= "table" then argerror("opts", "must be a table") end
    check_int(opts, "concurrency", 1, 64)
  end
  local i = 0
  return function()
    i = i + 1
    local id = ids[i]
    if id == nil then return nil end
    return id, self:session(id)
  end
end

--- Poll a session until its status is terminal.
-- @tparam string id
-- @tparam[opt] table opts `{ timeout = 600, interval = 5 }` seconds
-- @return session | nil, msg, err (`err.kind == "timeout"` when time ran out)
function Client:wait(id, opts)
  check_id(id)
  opts = opts or {}
  if type(opts) ~= "table" then argerror("opts", "must be a table") end
  check_positive(opts, "timeout")
  check_positive(opts, "interval")
  local timeout, interval = opts.timeout or 600, opts.interval or 5
  local deadline = self.clock() + timeout
  for _ = 1, math.ceil(timeout / interval) + 2 do
    local s, msg, err = self:session(id)
    if not s then return nil, msg, err end
    if s:is_terminal() then return s end
    local left = deadline - self.clock()
    if left <= 0 then break end
    self.sleep(math.min(interval, left))
  end
  local msg = self.provider .. ": timeout: session " .. id .. " not terminal after " .. timeout .. " s"
  return nil, msg, { kind = "timeout", provider = self.provider, message = msg, retryable = false }
end

--- Release the client's connection. The client stays usable (a new one opens).
function Client:close()
  local close = self._owned
  if close then
    self._owned, self._transport = nil, nil
    close()
  end
end

-- ======================================================================
-- Queries
-- ======================================================================

local QUERY_TYPES = {
  status = "string", outcome = "string", created_after = "time", created_before = "time",
  updated_after = "time", updated_before = "time", workflow_id = "string", subject_id = "string",
  batch_id = "string", file_name_contains = "string", sort = "string", order = "string",
  page_size = "number", max_items = "number", cursor = "string", server_only = "boolean",
}

local W = "client:sessions"

--- The filters of a query as one canonical string (what a cursor carries).
local function canonical(q)
  local parts = {}
  for _, k in ipairs(util.FILTER_KEYS) do
    if q[k] ~= nil then parts[#parts + 1] = k .. "=" .. util.escape(q[k]) end
  end
  return table.concat(parts, "&")
end

local function parse_canonical(s)
  local q = {}
  for k, v in s:gmatch("([%w_]+)=([^&]*)") do
    q[k] = v:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
  end
  return q
end

local function check_query(client, query)
  if query == nil then query = {} end
  if type(query) ~= "table" then error("wfsession: " .. W .. " expects a table or nil", 3) end
  local P = client._impl
  local q = {}
  for k, v in pairs(query) do
    local ty = QUERY_TYPES[k]
    if not ty then argerror(tostring(k), "is not a query key", W) end
    if P.inapplicable[k] then argerror(k, "does not apply to " .. P.name, W) end
    if (ty == "time" and type(v) ~= "string") or (ty ~= "time" and type(v) ~= ty) then
      argerror(k, "must be a " .. (ty == "time" and "ISO-8601 string" or ty) .. ", got " .. type(v), W)
    end
    if ty == "time" and not core.time(v) then argerror(k, "is not an ISO-8601 timestamp", W) end
    if type(v) == "string" and util.unsafe(v) then argerror(k, "must not contain CR, LF or NUL", W) end
    q[k] = v
  end
  if q.status and not STATUSES[q.status] then
    argerror("status", "must be one of pending running review completed failed cancelled expired", W)
  end
  if q.outcome and not OUTCOMES[q.outcome] then
    argerror("outcome", "must be one of approved rejected needs_attention", W)
  end
  if q.sort and q.sort ~= "created_at" and q.sort ~= "updated_at" and q.sort ~= "status" then
    argerror("sort", "must be \"created_at\", \"updated_at\" or \"status\"", W)
  end
  if q.order and q.order ~= "asc" and q.order ~= "desc" then
    argerror("order", "must be \"asc\" or \"desc\"", W)
  end
  check_int(q, "page_size", 1, 1000, W)
  check_int(q, "max_items", 0, nil, W)
  if q.cursor then
    local info, msg = core.cursor_decode(q.cursor)
    if not info then argerror("cursor", msg, W) end
    if info.provider ~= client.provider then
      argerror("cursor", "was made by a " .. tostring(info.provider) .. " listing, not " .. client.provider, W)
    end
    local filters, scope = tostring(info.query):match("^(.*)|([^|]*)$")
    if scope ~= client.scope then argerror("cursor", "was made for another flow, environment or API version", W) end
    local given = canonical(q)
    if given ~= "" and given ~= filters then
      argerror("cursor", "was made for other filters than these (" .. filters .. ")", W)
    end
    for k, v in pairs(parse_canonical(filters)) do q[k] = v end
  end
  return q
end

local STOP = {}

--- Compile the client-side part of a query into `match(s) -> true | false | STOP`.
-- On a listing ordered by a date, a bound on that date ends the listing as
-- soon as it is passed instead of scanning to the end.
local function compile(cs, order)
  local tests = {}
  for _, key in ipairs({ "status", "outcome", "workflow_id", "subject_id" }) do
    local want = cs[key]
    if want ~= nil then tests[#tests + 1] = function(s) return s[key] == want end end
  end
  local stop_field, stop_at, stop_desc
  for _, field in ipairs({ "created", "updated" }) do
    local after, before = cs[field .. "_after"], cs[field .. "_before"]
    local at = field .. "_at"
    local lo, hi = after and core.time(after), before and core.time(before)
    if lo or hi then
      tests[#tests + 1] = function(s)
        local v = s[at]
        local t = type(v) == "string" and core.time(v) or nil
        return t ~= nil and (lo == nil or t > lo) and (hi == nil or t < hi)
      end
      if order and order.field == at then
        if order.desc and lo then stop_field, stop_at, stop_desc = at, lo, true end
        if not order.desc and hi then stop_field, stop_at, stop_desc = at, hi, false end
      end
    end
  end
  if #tests == 0 then return nil end
  return function(s)
    if stop_field then
      local v = s[stop_field]
      local t = type(v) == "string" and core.time(v) or nil
      if t and ((stop_desc and t <= stop_at) or (not stop_desc and t >= stop_at)) then return STOP end
    end
    for i = 1, #tests do
      if not tests[i](s) then return false end
    end
    return true
  end
end

-- ======================================================================
-- Pager
-- ======================================================================

local Pager = { __name = "wfsession.pager" }
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
  return "wfsession.pager: " .. self._client.provider .. " (" .. state .. ")"
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

--- List sessions lazily: `for s in client:sessions{...} do`, or keep the pager.
-- @tparam[opt] table query filters and `page_size`, `max_items`, `cursor`, `server_only`
-- @return pager, nil, nil, pager (the 4th value closes it when a loop ends)
function Client:sessions(query)
  local q = check_query(self, query)
  local P = self._impl
  local plan, why = P.plan(q, self)
  if not plan then
    local name, rest = why:match("^([%w_]+): (.*)$")
    argerror(name, rest, W)
  end
  if q.server_only then
    local keys = {}
    for k in pairs(plan.client) do keys[#keys + 1] = k end
    table.sort(keys)
    if #keys > 0 then
      argerror("server_only", P.name .. " cannot filter by " .. table.concat(keys, ", ") .. " on the server", W)
    end
  end
  local c = core.pager{
    provider = self.provider, url = P.list_url(self), params = plan.params,
    headers = { Accept = "application/json" }, timeout = self.timeout,
    page_size = q.page_size or self.page_size, query = canonical(q) .. "|" .. self.scope,
    legacy = plan.legacy, drift = plan.drift, page_base = plan.page_base, cursor = q.cursor,
  }
  -- every field is present (false, not nil): the loop's lookups never reach __index
  local pager = setmetatable({
    _client = self, _core = c, _match = compile(plan.client, plan.order) or false,
    _max = q.max_items or false, _yielded = 0, _empty = plan.empty or false,
    _finished = false, _closed = false, _err = false, _msg = false, _total = false,
  }, Pager)
  return pager, nil, nil, pager
end

--- Pages instead of sessions: `for page in client:pages{...} do` (page = array of
-- sessions with `.number`, `.total`, `.cursor`).
function Client:pages(query)
  local pager = self:sessions(query)
  local function iter()
    local page, msg = pager:next_page()
    if page == nil and msg ~= nil then error(msg, 2) end
    return page
  end
  return iter, nil, nil, pager
end

-- ======================================================================
-- Helpers
-- ======================================================================

--- Keep the sessions that match a spec table or a predicate (pager, iterator or array).
wfs.filter = filter.filter
--- At most n sessions; never pulls the n+1-th.
wfs.take = filter.take
--- All sessions into an array.
wfs.collect = filter.collect
--- Counts, rates and completion percentiles; `:format()` prints them.
wfs.summarize = summary.summarize
--- Run `fn` under a retry policy: `wfs.retry(fn, policy)`.
wfs.retry = retry.call

--- Epoch seconds of an ISO-8601 timestamp.
-- @return number | nil, msg
function wfs.time(s)
  if type(s) ~= "string" then argerror("time", "expects an ISO-8601 string, got " .. type(s)) end
  return core.time(s)
end

return wfs
