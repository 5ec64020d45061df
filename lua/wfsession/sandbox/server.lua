--- The sandbox's request handler, run inside nginx (LuaJIT).
-- One `content_by_lua` entry point routes every request: the three
-- providers, and the control plane under `/_sandbox/`. Counters and knobs
-- live in a `lua_shared_dict`, so any number of workers would agree.
-- @module wfsession.sandbox.server
-- luacheck: globals ngx

local cjson = require "cjson.safe"
local util = require "wfsession.sandbox.util"
local data = require "wfsession.sandbox.data"
local knobs = require "wfsession.sandbox.knobs"
local KNOBS = knobs.KNOBS

local floor = math.floor

local server = {}

local DICT = "wfs_sandbox"
local PROVIDERS = { "complycube", "idnow", "extend" }
local DEFAULTS = {
  seed = 1, sessions = 1000, latency = 0, token_ttl = 86400, idnow_page_base = 0,
  insert_every = 0, insert_count = 1, rate_limit = 0, fault_rate = 0,
  faults = { "500", "503", "drop", "truncate", "malformed", "slow" }, slow_seconds = 2,
  fault_random = false, retry_after = 1,
  gzip = false, tls = false,
  complycube_api_key = "test_sbx_5f1c0a8e2b7d4c3f9e6a1b0d",
  extend_api_key = "sk_sbx_8d2f6b1e4a7c9e3d5f0b2a6c",
  idnow_client_id = "wfs-sandbox-client",
  idnow_client_secret = "sbx_secret_3e9a7c1f5b2d8e4a6c0f",
}

-- Applies `changes` over `cfg` (a copy is returned); `initial` allows the
-- start-only knobs. Actions (revoke_tokens) are returned separately.
local function merge_config(cfg, changes, initial)
  local out, actions = {}, {}
  for k, v in pairs(cfg) do out[k] = v end
  if type(changes) ~= "table" then return nil, "configuration must be a JSON object" end
  for k, v in pairs(changes) do
    local knob = KNOBS[k]
    if not knob then return nil, "unknown knob '" .. tostring(k) .. "'" end
    if knob.runtime == false and not initial then
      return nil, "knob '" .. k .. "' can only be set at start"
    end
    local clean, why = knobs.check(k, v)
    if clean == nil then return nil, "knob " .. why end
    if knob.action then
      actions[k] = clean
    else
      out[k] = clean
    end
  end
  return out, actions
end

-- Shared state -------------------------------------------------------------------

local dict
local cfg, cfg_version

local function shared()
  dict = dict or ngx.shared[DICT]
  return dict
end

local function config()
  local d = shared()
  local v = d:get("config_version")
  if v ~= cfg_version then
    cfg = cjson.decode(d:get("config"))
    cfg_version = v
  end
  return cfg
end

local function store_config(c)
  local d = shared()
  d:set("config", cjson.encode(c))
  d:incr("config_version", 1, 0)
end

local function count(key, by)
  shared():incr(key, by or 1, 0)
end

--- Initializes the shared state from the start-up JSON file (init_by_lua).
-- @function init
-- @string path file written by the control API
function server.init(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  local given = assert(cjson.decode(text))
  local c = assert(merge_config(DEFAULTS, given, true))
  local d = shared()
  d:flush_all()
  d:set("token_generation", 1)
  store_config(c)
  -- Load everything now, in the master: workers then never read files,
  -- whatever user they run as.
  require "wfsession.sandbox.complycube"
  require "wfsession.sandbox.idnow"
  require "wfsession.sandbox.extend"
  data.context(c.seed)
end

-- The context handed to provider modules ------------------------------------------

local S = {}
server.S = S

--- Current configuration (a decoded copy, cached per worker).
function S.config() return config() end

--- The data context of the configured seed.
function S.ctx() return data.context(config().seed) end

--- Number of sessions currently in a data set (base + drift insertions).
-- @string ds data set name
function S.count(ds)
  return config().sessions + (shared():get("extra:" .. ds) or 0)
end

--- Current token generation (bumped by `revoke_tokens`).
function S.token_generation()
  return shared():get("token_generation") or 1
end

--- Counts a list or get request of a provider.
-- @string kind "list" | "get" | "token"
-- @string provider
function S.stat(kind, provider)
  count("n:" .. kind .. ":" .. provider)
end

--- Records a served listing of a data set; applies the drift knob.
-- @string ds data set name
function S.listed(ds)
  local c = config()
  if c.insert_every <= 0 or c.insert_count <= 0 then return end
  local n = shared():incr("drift:" .. ds, 1, 0)
  if n and n % c.insert_every == 0 then
    shared():incr("extra:" .. ds, c.insert_count, 0)
  end
end

--- A request id (Extend's `requestId`), distinct per request.
function S.request_id()
  local n = shared():incr("n:request_id", 1, 0) or 0
  return "req_" .. data.token(data.fmix(n % 4294967296), 7, 20)
end

-- The latency knob is the time from a request to its answer: what the
-- sandbox spent computing the body counts, the rest is slept. (A real API's
-- latency includes its own work too, and the client's floor is then exactly
-- latency x round trips.)
local function pace(req)
  local latency = config().latency
  if not req or req.paced or latency <= 0 then return end
  req.paced = true
  ngx.update_time()
  local left = latency - (ngx.now() - req.started)
  if left > 0 then ngx.sleep(left) end
end
S.pace = pace

-- Sends the response, applying a pending body fault (truncate, malformed, slow).
local function send(req, status, body, headers)
  pace(req)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  if headers then
    for k, v in pairs(headers) do ngx.header[k] = v end
  end
  local fault = req and req.fault
  if fault == "truncate" and #body > 1 then
    -- Announce the whole length, send half, then close: a short read.
    ngx.header["Content-Length"] = #body
    ngx.print(body:sub(1, floor(#body / 2)))
    ngx.flush(true)
    return ngx.exit(444)
  elseif fault == "malformed" then
    body = body:sub(1, floor(#body / 2)) .. "\0}{<html>"
  elseif fault == "trickle" then
    -- one byte a second: only a low-speed abort gets out before the timeout
    ngx.header["Content-Length"] = #body
    for k = 1, #body do
      ngx.print(body:sub(k, k))
      ngx.flush(true)
      ngx.sleep(1)
    end
    return ngx.exit(status)
  elseif fault == "slow" then
    local total = config().slow_seconds
    local parts = 10
    local size = math.max(1, math.ceil(#body / parts))
    ngx.header["Content-Length"] = #body
    for k = 1, #body, size do
      ngx.print(body:sub(k, k + size - 1))
      ngx.flush(true)
      ngx.sleep(total / parts)
    end
    return ngx.exit(status)
  end
  ngx.header["Content-Length"] = #body
  ngx.print(body)
  return ngx.exit(status)
end

--- Sends a JSON response.
-- @tparam table req the request
-- @number status
-- @param value an encodable value (see `util.json`) or a string
-- @tparam[opt] table headers
-- @tparam[opt] boolean drop_nulls
function S.reply(req, status, value, headers, drop_nulls)
  local body = type(value) == "string" and value or util.json(value, drop_nulls)
  return send(req, status, body, headers)
end

-- Routing ----------------------------------------------------------------------

local modules = {}
local function provider_module(name)
  local m = modules[name]
  if not m then
    m = require("wfsession.sandbox." .. name)
    modules[name] = m
  end
  return m
end

local function parse_request()
  local raw = ngx.var.request_uri or "/"
  local path, qs = raw:match("^([^?]*)%??(.*)$")
  local seg = {}
  for s in path:gmatch("[^/]+") do
    seg[#seg + 1] = util.unescape(s)
    if #seg > 16 then break end
  end
  local args, order = util.parse_query(qs)
  ngx.update_time()
  return {
    started = ngx.now(),
    method = ngx.req.get_method(),
    seg = seg,
    path = path,
    args = args,
    arg_order = order,
    headers = ngx.req.get_headers(100),
  }
end

--- The first value of a request header (lower-case name), or nil.
-- @tparam table req
-- @string name
function S.header(req, name)
  local v = req.headers[name]
  if type(v) == "table" then return nil end   -- repeated: treat as invalid
  return v
end

-- Rate limiting: fixed one-second windows per provider.
local function rate_limited(provider, limit)
  if not limit or limit <= 0 then return false end
  local now = ngx.now()
  local sec = floor(now)
  -- per key, as the providers count: the credential (or token) the request carries
  local who = ngx.crc32_long(ngx.var.http_authorization or "")
  local n = shared():incr("rl:" .. provider .. ":" .. who .. ":" .. sec, 1, 0, 2)
  if n and n > limit then
    return true, math.max(1, math.ceil(sec + 1 - now))
  end
  return false
end

-- Faults: by default the n-th provider request fails when n * rate crosses
-- an integer, and the failures cycle through the fault list; with
-- `fault_random`, each request fails with probability `fault_rate`, its
-- fault drawn from the list (seeded by `seed`: a run can be replayed).
local seeded
local function pick_fault(c)
  if c.fault_rate <= 0 or #c.faults == 0 then return nil end
  local n = shared():incr("n:fault_seq", 1, 0)
  if c.fault_random then
    if seeded ~= c.seed then
      math.randomseed(c.seed)
      seeded = c.seed
    end
    if math.random() >= c.fault_rate then return nil end
    count("n:faults")
    return c.faults[math.random(#c.faults)]
  end
  local now, before = floor(n * c.fault_rate), floor((n - 1) * c.fault_rate)
  if now == before then return nil end
  count("n:faults")
  return c.faults[(now - 1) % #c.faults + 1]
end

local HTML502 = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
  .. "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"

local control = {}

local function handle_provider(req, name)
  local c = config()
  count("n:requests")
  if ngx.var.connection_requests == "1" then count("n:connections") end
  count("n:provider:" .. name)
  local mod = provider_module(name)
  local limited, wait = rate_limited(name, c.rate_limit)
  if limited then
    count("n:rate_limited")
    return mod.error(req, 429, "rate_limited", { ["Retry-After"] = tostring(wait) })
  end
  local fault = pick_fault(c)
  if fault == "drop" then
    pace(req)
    return ngx.exit(444)
  elseif fault == "500" then
    return mod.error(req, 500, "internal")
  elseif fault == "502" then
    return mod.error(req, 502, "unavailable")
  elseif fault == "503" then
    return mod.error(req, 503, "unavailable")
  elseif fault == "429" then
    count("n:rate_limited")
    return mod.error(req, 429, "rate_limited", { ["Retry-After"] = tostring(c.retry_after) })
  elseif fault == "html502" then
    -- a proxy's page in front of the API: not the provider's JSON at all
    pace(req)
    ngx.status = 502
    ngx.header["Content-Type"] = "text/html"
    ngx.header["Content-Length"] = #HTML502
    ngx.print(HTML502)
    return ngx.exit(502)
  end
  req.fault = fault
  return mod.handle(req)
end

local function dispatch()
  local req = parse_request()
  local first = req.seg[1]
  if first == "_sandbox" then
    req.paced = req.seg[2] ~= "echo"  -- the latency knob is for provider paths and echo only
    local fn = control[req.seg[2] or ""]
    if not fn then
      return S.reply(req, 404, { error = "unknown control path" })
    end
    return fn(req)
  elseif first == "complycube" or first == "idnow" or first == "extend" then
    return handle_provider(req, first)
  end
  return S.reply(req, 404, { error = "not found", hint = "paths: /complycube/v1, /idnow/api, " ..
    "/idnow/auth, /extend, /_sandbox" })
end

--- The content handler (content_by_lua).
-- @function handle
function server.handle()
  local ok, err = xpcall(dispatch, debug.traceback)
  if not ok then
    ngx.log(ngx.ERR, "wfsession sandbox: ", err)
    if not ngx.headers_sent then
      ngx.status = 500
      ngx.header["Content-Type"] = "application/json"
      ngx.print(util.json({ error = "sandbox internal error" }))
    end
    return ngx.exit(ngx.headers_sent and 444 or 500)
  end
end

-- Control plane ----------------------------------------------------------------

local function read_body()
  ngx.req.read_body()
  return ngx.req.get_body_data() or ""
end

control.ping = function(req)
  return S.reply(req, 200, { ok = true })
end

control.info = function(req)
  local c = config()
  local ctx = S.ctx()
  local sessions = {}
  for name in pairs(data.sets) do sessions[name] = S.count(name) end
  return S.reply(req, 200, {
    seed = c.seed, sessions = sessions, idnow_flow_id = ctx.idnow_flow, pid = ngx.worker.pid(),
    complycube_api_key = c.complycube_api_key, extend_api_key = c.extend_api_key,
    idnow_client_id = c.idnow_client_id, idnow_client_secret = c.idnow_client_secret,
  })
end

control.stats = function(req)
  local d = shared()
  local function get(k) return d:get(k) or 0 end
  local by, lists, gets = {}, {}, {}
  for _, p in ipairs(PROVIDERS) do
    by[p] = get("n:provider:" .. p)
    lists[p] = get("n:list:" .. p)
    gets[p] = get("n:get:" .. p)
  end
  local sessions, inserted = {}, {}
  for name in pairs(data.sets) do
    sessions[name] = S.count(name)
    inserted[name] = get("extra:" .. name)
  end
  return S.reply(req, 200, {
    requests = get("n:requests"), connections = get("n:connections"),
    token_requests = get("n:token:idnow"), echo_requests = get("n:echo"),
    rate_limited = get("n:rate_limited"), faults = get("n:faults"),
    by_provider = by, list_requests = lists, get_requests = gets,
    sessions = sessions, inserted = inserted,
  })
end

control.reset = function(req)
  if req.method ~= "POST" then return S.reply(req, 405, { error = "use POST" }) end
  local d = shared()
  local keys = d:get_keys(0)
  local drift = req.args.drift == "1" or req.args.drift == "true"
  for _, k in ipairs(keys) do
    if k:find("^n:") or (drift and (k:find("^extra:") or k:find("^drift:"))) then
      d:delete(k)
    end
  end
  if drift then data.flush() end
  return S.reply(req, 200, { ok = true })
end

control.config = function(req)
  if req.method == "GET" then return S.reply(req, 200, config()) end
  if req.method ~= "POST" then return S.reply(req, 405, { error = "use GET or POST" }) end
  local changes = cjson.decode(read_body())
  if type(changes) ~= "table" then
    return S.reply(req, 400, { error = "body must be a JSON object" })
  end
  local c, actions = merge_config(config(), changes, false)
  if not c then return S.reply(req, 400, { error = actions }) end
  store_config(c)
  if actions.revoke_tokens then shared():incr("token_generation", 1, 1) end
  return S.reply(req, 200, config())
end

control.echo = function(req)
  count("n:requests")
  count("n:echo")
  if ngx.var.connection_requests == "1" then count("n:connections") end
  local headers = {}
  for k, v in pairs(req.headers) do
    headers[k] = type(v) == "table" and table.concat(v, ", ") or v
  end
  return S.reply(req, 200, {
    method = req.method, uri = ngx.var.request_uri, headers = headers, body = read_body(),
  })
end

local TRUTH_KEYS = {
  provider = true, environment = true, status = true, outcome = true, created_after = true,
  created_before = true, updated_after = true, updated_before = true, workflow_id = true,
  subject_id = true, batch_id = true, file_name_contains = true, sort = true, order = true,
}
local STATUSES = { pending = true, running = true, review = true, completed = true, failed = true,
  cancelled = true, expired = true }
local OUTCOMES = { approved = true, rejected = true, needs_attention = true, none = true }

control.truth = function(req)
  local q = {}
  for k, v in pairs(req.args) do
    if not TRUTH_KEYS[k] then return S.reply(req, 400, { error = "unknown query key '" .. k .. "'" }) end
    q[k] = v
  end
  local ds
  if q.provider == "complycube" or q.provider == "extend" then
    ds = data.sets[q.provider]
  elseif q.provider == "idnow" then
    local env = q.environment or "live"
    ds = data.sets["idnow_" .. env]
    if not ds then return S.reply(req, 400, { error = "environment must be live or staging" }) end
  else
    return S.reply(req, 400, { error = "provider must be complycube, idnow or extend" })
  end
  if q.status and not STATUSES[q.status] then return S.reply(req, 400, { error = "bad status" }) end
  if q.outcome and not OUTCOMES[q.outcome] then return S.reply(req, 400, { error = "bad outcome" }) end
  if q.sort and q.sort ~= "created_at" and q.sort ~= "updated_at" and q.sort ~= "status" then
    return S.reply(req, 400, { error = "bad sort" })
  end
  if q.order and q.order ~= "asc" and q.order ~= "desc" then
    return S.reply(req, 400, { error = "bad order" })
  end
  for _, k in ipairs({ "created_after", "created_before", "updated_after", "updated_before" }) do
    if q[k] then
      q[k] = util.parse_iso(q[k])
      if not q[k] then return S.reply(req, 400, { error = "bad date in " .. k }) end
    end
  end
  local ids = data.truth(S.ctx(), ds, S.count(ds.name), q)
  return S.reply(req, 200, util.arr(ids))
end

return server
