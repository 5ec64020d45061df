--- IDnow Trust Platform: `GET /api/v1/flows/:flowId/:env/sessions` (Spring page).
-- Facts: ../shared/reference/providers.md section 2. The page base, the
-- default order and the error body are UNCONFIRMED upstream: the base is the
-- `idnow_page_base` option; nothing is assumed about the default order.
-- @module wfsession.provider.idnow

local core = require "wfsession.core"
local util = require "wfsession.util"

local M = {
  name = "idnow",
  default_base_url = "https://api.eu.platform.idnow.io/api",
  default_auth_url = "https://auth.eu.platform.idnow.io",
  options = { client_id = true, client_secret = true, token = true, flow_id = true,
              environment = true, auth_url = true, idnow_page_base = true, idnow_auth = true },
  --- page size of a listing that sets none: its maximum is UNCONFIRMED upstream: a conservative page
  page_size = 100,
  inapplicable = { batch_id = true, file_name_contains = true },
}

--- A token is renewed this long before the server says it expires.
local EARLY = 60

function M.validate(opts)
  if opts.token ~= nil then
    util.need_secret(opts, "token", "idnow")
    if opts.client_id ~= nil or opts.client_secret ~= nil then
      util.argerror("token", "give either token or client_id + client_secret, not both")
    end
  else
    util.need_secret(opts, "client_id", "idnow (or a ready token)")
    util.need_secret(opts, "client_secret", "idnow (or a ready token)")
  end
  util.need_string(opts, "flow_id", "idnow")
  local env = opts.environment
  if env ~= nil and env ~= "live" and env ~= "staging" then
    util.argerror("environment", "must be \"live\" or \"staging\"")
  end
  local base = opts.idnow_page_base
  if base ~= nil and base ~= "auto" and base ~= 0 and base ~= 1 then
    util.argerror("idnow_page_base", "must be \"auto\", 0 or 1")
  end
  local auth = opts.idnow_auth
  if auth ~= nil and auth ~= "post" and auth ~= "basic" then
    util.argerror("idnow_auth", "must be \"post\" or \"basic\"")
  end
  if opts.auth_url ~= nil then util.check_url(opts, "auth_url") end
end

function M.configure(client, opts)
  client.flow_id = opts.flow_id
  client.environment = opts.environment or "live"
  client.auth_url = util.strip_slash(opts.auth_url or M.default_auth_url)
  client.page_base = opts.idnow_page_base == nil and "auto" or opts.idnow_page_base
  client.idnow_auth = opts.idnow_auth or "post"
  client.scope = "idnow@" .. client.flow_id .. "/" .. client.environment
end

function M.list_url(client)
  return client.base_url .. "/v1/flows/" .. core.escape(client.flow_id) .. "/"
    .. client.environment .. "/sessions"
end

function M.get_url(client, id)
  return client.base_url .. "/v1/" .. client.environment .. "/sessions/" .. core.escape(id)
end

--- The Authorization value of client_secret_basic (RFC 6749 2.3.1: both
-- parts form-encoded, then base64). The scrubber spells secrets this way too.
function M.basic_credentials(id, secret)
  return util.base64(core.escape(id) .. ":" .. core.escape(secret))
end

--- Fetch a token with the client credentials (client_secret_post by default).
-- @return token, lifetime in seconds | nil, msg, err
local function fetch_token(client, secrets)
  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded",
                    ["Accept"] = "application/json" }
  local body = "grant_type=client_credentials"
  if client.idnow_auth == "basic" then
    headers["Authorization"] = "Basic " .. M.basic_credentials(secrets.client_id, secrets.client_secret)
  else
    body = body .. "&client_id=" .. core.escape(secrets.client_id)
      .. "&client_secret=" .. core.escape(secrets.client_secret)
  end
  local req = { method = "POST", url = client.auth_url .. "/oidc/token", headers = headers,
                body = body, timeout = client.timeout }
  local status, rheaders, rbody = client:_send(req)
  if not status then return nil, rheaders, rbody end
  if status < 200 or status > 299 then
    local msg, err = core.http_error("idnow", status, rheaders, rbody)
    if status == 400 or status == 401 then err.kind = "auth" end
    return nil, msg, err
  end
  local doc = core.decode(rbody or "")
  if type(doc) ~= "table" or type(doc.access_token) ~= "string" or doc.access_token == "" then
    local msg, err = core.error("idnow", "protocol", "token response has no access_token")
    return nil, msg, err
  end
  local ttl = tonumber(doc.expires_in) or 86400
  return doc.access_token, ttl
end

--- Put the bearer token on `headers`, fetching or renewing it when needed.
-- @param force renew even if the cached token looks valid (after a 401)
function M.authorize(client, secrets, headers, force)
  headers["Accept"] = "application/json"
  if secrets.token then
    headers["Authorization"] = "Bearer " .. secrets.token
    return true
  end
  local now = client.clock()
  -- after a 401, a token that another request renewed meanwhile is fresh enough
  local stale = force and headers["Authorization"] == "Bearer " .. tostring(secrets.access_token)
  if stale or not secrets.access_token or now >= secrets.expires_at then
    -- one token request at a time: whoever needs a token while one is on
    -- its way waits for that one (concurrent pages and lookups)
    local runner, pending = client._runner, secrets.pending
    if not pending then
      pending = runner:spawn(fetch_token, client, secrets)
      secrets.pending = pending
    end
    local token, ttl, err = runner:join(pending)
    if secrets.pending == pending then secrets.pending = nil end
    if not token then return nil, ttl, err end
    if secrets.access_token ~= token then
      secrets.access_token = token
      secrets.expires_at = now + math.max(ttl - math.min(EARLY, ttl / 10), 0)
    end
  end
  headers["Authorization"] = "Bearer " .. secrets.access_token
  return true
end

--- Whether a 401 is worth one renewal: only a token we fetched ourselves.
function M.renewable(_, secrets) return secrets.token == nil end

--- Split a validated query. IDnow documents no filters, only `sortBy` /
-- `sortDesc`; everything else is client-side.
function M.plan(query, client)
  local params, client_side = {}, {}
  local sort, order = query.sort, query.order
  if order and not sort then sort = "created_at" end
  if sort and sort ~= "created_at" and sort ~= "status" then
    return nil, "sort: idnow sorts by created_at or status only"
  end
  local plan = { params = params, client = client_side, page_base = client.page_base }
  if sort then
    order = order or "desc"
    params[1] = { "sortBy", sort == "created_at" and "createdAt" or "status" }
    params[2] = { "sortDesc", order == "desc" and "true" or "false" }
    if sort == "created_at" then
      plan.order = { field = "created_at", desc = order == "desc" }
      plan.drift = order == "desc"
    end
  end
  for _, key in ipairs(util.FILTER_KEYS) do
    if query[key] ~= nil then client_side[key] = query[key] end
  end
  return plan
end

function M.unwrap(body) return body end

return M
