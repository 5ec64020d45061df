--- The client (`wfs.new` makes one): authorization, one
-- exchange under the retry policy, one session, sessions by id, waiting
-- for a session, and the listings of `wfsession.listing`.
-- @module wfsession.client

local core = require "wfsession.core"
local util = require "wfsession.util"
local options = require "wfsession.options"
local retry = require "wfsession.retry"
local host = require "wfsession.host"
local listing = require "wfsession.listing"
local budget = require "wfsession.budget"

local argerror = util.argerror

local M = {}

--- Secrets live here, not on the client table, so printing or dumping a
-- client can never show them.
local SECRETS = setmetatable({}, { __mode = "k" })
local SECRET_KEYS = { "api_key", "client_id", "client_secret", "token", "access_token" }

local Client = { __name = "wfsession.client" }
Client.__index = Client

function Client.__tostring(self)
  return "wfsession.client: " .. self.provider .. " (" .. self.base_url .. ")"
end

--- Create a client from options already checked by `options.client`.
-- @tparam table opts
-- @tparam table P the provider module
-- @treturn table client
-- @local
function M.new(opts, P)
  local policy = retry.policy(opts.retry)
  local runner = host.runner(opts)
  if not (type(opts.retry) == "table" and opts.retry.sleep) then
    -- the client's sleep, else the runner's: a multi's timer, ngx.sleep, nanosleep
    policy.sleep = opts.sleep or function(seconds) return runner:sleep(seconds) end
  end
  local client = setmetatable({
    provider = P.name,
    base_url = util.strip_slash(opts.base_url or P.default_base_url),
    page_size = opts.page_size,   -- nil: the provider's default (listing.lua)
    concurrency = opts.concurrency or 4,
    timeout = opts.timeout or 30,
    connect_timeout = opts.connect_timeout or 10,
    max_body = opts.max_body or core.TRANSFER.max_body,
    retry = policy,
    sleep = policy.sleep,
    clock = policy.clock,
    on_request = opts.on_request,
    _impl = P,
    _runner = runner,
  }, Client)
  client.scope = P.name
  if P.configure then P.configure(client, opts) end
  local secrets = {}
  for _, k in ipairs(SECRET_KEYS) do secrets[k] = opts[k] end
  SECRETS[client] = secrets
  client._budget = budget.new(opts, P, client.base_url, secrets, function(msg)
    if client.on_request then client.on_request({ provider = client.provider, notice = msg }) end
  end, runner.cosockets)
  return client
end

--[[
** Every spelling of the client's secrets the library itself writes: raw
** (also inside "Bearer ..."), percent- and form-encoded, and IDnow's
** client_secret_basic base64 of client_id:client_secret. Longest first, so
** that a secret that holds another goes whole. The list follows the IDnow
** token the client fetches (a new one replaces the old one's spellings).
]]
local MIN_SECRET = 4  -- shorter values would redact ordinary words

local function spellings(secrets)
  local list, seen = {}, {}
  local function add(v)
    if type(v) == "string" and #v >= MIN_SECRET and not seen[v] then
      seen[v] = true
      list[#list + 1] = v
    end
  end
  for _, k in ipairs(SECRET_KEYS) do
    local v = secrets[k]
    if type(v) == "string" then
      add(v)
      add(core.escape(v))
    end
  end
  if type(secrets.client_id) == "string" and type(secrets.client_secret) == "string" then
    add(require("wfsession.provider.idnow").basic_credentials(secrets.client_id, secrets.client_secret))
    add(util.base64(secrets.client_id .. ":" .. secrets.client_secret))
  end
  table.sort(list, function(x, y) return #x > #y end)
  return list
end

local function plain_replace(s, v)
  local at = 1
  for _ = 1, 1000 do
    local i, j = s:find(v, at, true)
    if not i then break end
    s = s:sub(1, i - 1) .. "[redacted]" .. s:sub(j + 1)
    at = i + 10
  end
  return s
end

--- Replace every spelling of every secret in `s` by "[redacted]"; a message
-- cut short ("...") loses a secret's beginning at the cut too.
local function scrub(client, s)
  if type(s) ~= "string" then return s end
  local secrets = SECRETS[client]
  if not secrets then return s end
  if secrets.spelled_for ~= secrets.access_token or not secrets.spelled then
    secrets.spelled, secrets.spelled_for = spellings(secrets), secrets.access_token
  end
  local list = secrets.spelled
  for i = 1, #list do s = plain_replace(s, list[i]) end
  local head = s:match("^(.-)%.%.%.$")
  if head then
    for i = 1, #list do
      local v = list[i]
      for k = #v - 1, MIN_SECRET, -1 do
        if head:sub(-k) == v:sub(1, k) then
          return head:sub(1, -k - 1) .. "[redacted]..."
        end
      end
    end
  end
  return s
end

--- Scrub `msg` and every string field of `err`: a server may echo a secret
-- into its error code, its request id or anything else.
local function fail(client, msg, err)
  err.provider = err.provider or client.provider
  for k, v in pairs(err) do
    if type(v) == "string" then err[k] = scrub(client, v) end
  end
  return nil, scrub(client, msg), err
end

--- The same for failures the listing itself finds (protocol faults).
-- @local
function Client:_fail(msg, err) return fail(self, msg, err) end

--- Perform one request through the transport; failures become `nil, msg, err`.
-- @local
function Client:_send(req)
  local paced = self._budget
  if paced then paced:acquire(self.sleep) end
  local started = self.clock()
  local status, headers, body = self._runner:send(req)
  -- a 429 slows down everyone on the budget, and holds them back as the server says
  if status == 429 and paced then paced:penalize(retry.server_wait(headers, self.clock(), status)) end
  local info = self.on_request and { provider = self.provider, method = req.method,
                                     url = scrub(self, req.url), status = status,
                                     seconds = self.clock() - started }
  if not status then
    local err = type(body) == "table" and body or { kind = "network", message = tostring(headers) }
    err.kind = err.kind or "network"
    if err.retryable == nil then err.retryable = core.RETRYABLE[err.kind] == true end
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
-- @local
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

local function check_id(id, name) util.check_text(id, name or "id", false, true) end

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
    -- the decoded session may take twice max_body (a hostile body would take more)
    local doc, derr, kind = core.decode(body, 2 * self.max_body)
    if kind then return nil, core.error(self.provider, kind, "session response: " .. derr) end
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
-- @tparam table ids array of id strings (checked before any request)
-- @tparam[opt] table opts `{ concurrency = n }` (1..64)
function Client:sessions_by_id(ids, opts)
  if type(ids) ~= "table" then argerror("ids", "must be an array of id strings") end
  for i = 1, #ids do check_id(ids[i], "ids[" .. i .. "]") end
  if opts ~= nil then
    if type(opts) ~= "table" then argerror("opts", "must be a table") end
    options.check_int(opts, "concurrency", 1, 64)
  end
  -- a window of lookups in flight, handed out in input order
  local runner = self._runner
  local width = runner.concurrent and (opts and opts.concurrency or self.concurrency) or 1
  local tasks, started, given = {}, 0, 0
  local function lookup(id) return self:session(id) end
  local function iter()
    given = given + 1
    local id = ids[given]
    if id == nil then return nil end
    while started < #ids and started < given + width - 1 do
      started = started + 1
      tasks[started] = runner:spawn(lookup, ids[started])
    end
    local task = tasks[given]
    tasks[given] = nil
    return id, runner:join(task)
  end
  -- the closing value of a generic for (5.4): a break cancels the lookups in flight
  local closer = setmetatable({}, { __close = function()
    for i, task in pairs(tasks) do
      runner:cancel(task)
      tasks[i] = nil
    end
    given = #ids
  end })
  return iter, nil, nil, closer
end

--- Poll a session until its status is terminal.
-- @tparam string id
-- @tparam[opt] table opts `{ timeout = 600, interval = 5 }` seconds
-- @return session | nil, msg, err (`err.kind == "timeout"` when time ran out)
function Client:wait(id, opts)
  check_id(id)
  opts = opts or {}
  if type(opts) ~= "table" then argerror("opts", "must be a table") end
  options.check_positive(opts, "timeout")
  options.check_positive(opts, "interval")
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

--- Release the client's connections. The client stays usable (new ones open).
function Client:close()
  self._runner:close()
end

--- List sessions lazily: `for s in client:sessions{...} do`, or keep the pager.
-- @tparam[opt] table query filters and `page_size`, `max_items`, `cursor`, `server_only`
-- @return pager, nil, nil, pager (the 4th value closes it when a loop ends)
function Client:sessions(query)
  local pager = listing.new(self, options.query(self, query))
  return pager, nil, nil, pager
end

--- Pages instead of sessions: `for page in client:pages{...} do` (page = array of
-- sessions with `.number`, `.total`, `.cursor`).
function Client:pages(query)
  local pager = listing.new(self, options.query(self, query))
  local function iter()
    local page, msg = pager:next_page()
    if page == nil and msg ~= nil then error(msg, 2) end
    return page
  end
  return iter, nil, nil, pager
end

return M
