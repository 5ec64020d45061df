--- Validation of client options and of queries (internal).
-- Every check raises an argument error that names the option or query key
-- and never quotes its value (it may be a secret).
-- @module wfsession.options

local core = require "wfsession.core"
local util = require "wfsession.util"
local PROVIDERS = require "wfsession.provider"

local argerror = util.argerror

local M = {}

--- Options every provider takes.
local COMMON_OPTIONS = {
  provider = true, base_url = true, page_size = true, concurrency = true, timeout = true,
  connect_timeout = true, retry = true, ca_file = true, proxy = true, user_agent = true,
  transport = true, sleep = true, on_request = true, multi = true, allow_insecure = true,
  max_body = true, low_speed_time = true, rate_limit = true,
}

-- The vocabularies are the core's (wfs_session.c), as sets.
local function set_of(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end
local STATUSES, OUTCOMES = set_of(core.STATUSES), set_of(core.OUTCOMES)

--- Raise unless `t[name]` is nil or an integer in lo..hi (hi nil: no bound).
function M.check_int(t, name, lo, hi, where)
  local v = t[name]
  if v == nil then return end
  if type(v) ~= "number" or v ~= math.floor(v) or v < lo or (hi and v > hi) then
    argerror(name, "must be an integer " .. (hi and (lo .. ".." .. hi) or (">= " .. lo)), where)
  end
end

--- Raise unless `t[name]` is nil or a positive number of seconds, at most
-- util.MAX_SECONDS (11.5 days: a larger wait is nobody's intent, and would
-- overflow the hosts' timers later instead of failing now).
function M.check_positive(t, name, where)
  local v = t[name]
  if v ~= nil and not (util.is_finite(v) and v > 0 and v <= util.MAX_SECONDS) then
    argerror(name, "must be a positive number of seconds, at most " .. util.MAX_SECONDS, where)
  end
end

local function check_type(t, name, ty)
  local v = t[name]
  if v ~= nil and type(v) ~= ty then argerror(name, "must be a " .. ty .. ", got " .. type(v)) end
end

local RATE_KEYS = { rps = true, burst = true, share = true }
local MAX_RPS = 100000

local function check_rps(v, name)
  if not (util.is_finite(v) and v > 0 and v <= MAX_RPS) then
    argerror(name, "must be a number of requests per second in (0, " .. MAX_RPS .. "]")
  end
end

--- Check `rate_limit`: requests per second, `{ rps, burst, share }` or false.
function M.check_rate_limit(rl)
  if rl == nil or rl == false then return end
  if type(rl) == "number" then return check_rps(rl, "rate_limit") end
  if type(rl) ~= "table" then
    argerror("rate_limit", "must be requests per second, a table { rps, burst, share } or false")
  end
  for k in pairs(rl) do
    if not RATE_KEYS[k] then
      argerror("rate_limit." .. tostring(k), "is not a rate_limit setting (rps, burst, share)")
    end
  end
  if rl.rps ~= nil then check_rps(rl.rps, "rate_limit.rps") end
  M.check_int({ ["rate_limit.burst"] = rl.burst }, "rate_limit.burst", 1, 1000)
  local share = rl.share
  if share == nil or share == "process" then return end
  local redis = type(share) == "string" and require("wfsession.budget").parse_redis(share)
  local dict = type(share) == "table" and type(share.add) == "function" and type(share.get) == "function"
  if not (redis or dict) then
    argerror("rate_limit.share", "must be \"process\", \"redis://host[:port][/db]\" or an ngx.shared.DICT")
  end
end

--- Check the options of `wfs.new`.
-- @tparam table opts
-- @treturn table the provider module
function M.client(opts)
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
  M.check_int(opts, "page_size", 1, 1000)
  M.check_int(opts, "concurrency", 1, 64)
  M.check_positive(opts, "timeout")
  M.check_positive(opts, "connect_timeout")
  M.check_positive(opts, "low_speed_time")
  M.check_int(opts, "max_body", 1024, 1024 * 1024 * 1024)
  check_type(opts, "allow_insecure", "boolean")
  for _, name in ipairs({ "ca_file", "proxy", "user_agent" }) do util.header_safe(opts, name) end
  check_type(opts, "sleep", "function")
  check_type(opts, "on_request", "function")
  local t = opts.transport
  if t ~= nil and t ~= "curl" and t ~= "resty" and type(t) ~= "function" then
    argerror("transport", "must be \"curl\", \"resty\" or a function(req) -> status, headers, body")
  end
  if opts.multi ~= nil then
    if not require("wfsession.multi").is_multi(opts.multi) then
      argerror("multi", "must be a wfs.multi()")
    end
    if type(t) == "function" then argerror("multi", "cannot drive a transport function") end
  end
  M.check_rate_limit(opts.rate_limit)
  local r = opts.retry
  if r ~= nil and r ~= false and type(r) ~= "table" then
    argerror("retry", "must be a table of retry settings or false")
  end
  return P
end

local QUERY_TYPES = {
  status = "string", outcome = "string", created_after = "time", created_before = "time",
  updated_after = "time", updated_before = "time", workflow_id = "string", subject_id = "string",
  batch_id = "string", file_name_contains = "string", sort = "string", order = "string",
  page_size = "number", max_items = "number", cursor = "string", server_only = "boolean",
}

local W = "client:sessions"

--- The filters of a query as one canonical string (what a cursor carries).
function M.canonical(q)
  local parts = {}
  for _, k in ipairs(util.FILTER_KEYS) do
    if q[k] ~= nil then parts[#parts + 1] = k .. "=" .. core.escape(q[k]) end
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

--- Check a query of `client:sessions` and fold in what its cursor carries.
-- @tparam table client
-- @tparam ?table query
-- @treturn table the validated query (a copy)
function M.query(client, query)
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
    argerror("status", "must be one of " .. table.concat(core.STATUSES, " "), W)
  end
  if q.outcome and not OUTCOMES[q.outcome] then
    argerror("outcome", "must be one of " .. table.concat(core.OUTCOMES, " "), W)
  end
  if q.sort and q.sort ~= "created_at" and q.sort ~= "updated_at" and q.sort ~= "status" then
    argerror("sort", "must be \"created_at\", \"updated_at\" or \"status\"", W)
  end
  if q.order and q.order ~= "asc" and q.order ~= "desc" then
    argerror("order", "must be \"asc\" or \"desc\"", W)
  end
  M.check_int(q, "page_size", 1, 1000, W)
  -- math.huge (or anything past 2^53, where integers end) means no limit
  if q.max_items ~= nil and type(q.max_items) == "number" and q.max_items >= 2 ^ 53 then q.max_items = nil end
  M.check_int(q, "max_items", 0, nil, W)
  for k, v in pairs(q) do
    if type(v) == "string" and #v > util.MAX_VALUE then
      argerror(k, "is too long for a URL (at most " .. util.MAX_VALUE .. " bytes)", W)
    end
  end
  if q.cursor then
    local info, msg = core.cursor_decode(q.cursor)
    if not info then argerror("cursor", msg, W) end
    if info.provider ~= client.provider then
      argerror("cursor", "was made by a " .. tostring(info.provider) .. " listing, not " .. client.provider, W)
    end
    local filters, scope = tostring(info.query):match("^(.*)|([^|]*)$")
    if scope ~= client.scope then argerror("cursor", "was made for another flow, environment or API version", W) end
    local given = M.canonical(q)
    if given ~= "" and given ~= filters then
      argerror("cursor", "was made for other filters than these (" .. filters .. ")", W)
    end
    for k, v in pairs(parse_canonical(filters)) do q[k] = v end
  end
  return q
end

return M
