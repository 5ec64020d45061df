--- IDnow Trust Platform, as the sandbox serves it: the OAuth2 token
-- endpoint (`/idnow/auth/oidc/token`) and the session API (`/idnow/api/v1`).
-- Tokens are stateless (signed, with an expiry and a generation number), so
-- revoking every token issued so far is one counter increment.
-- The error body shape `{errorCode, message}` is an ASSUMPTION: IDnow does
-- not document one (see docs/sandbox.md).
-- @module wfsession.sandbox.idnow
-- luacheck: read globals ngx

local cjson = require "cjson.safe"
local util = require "wfsession.sandbox.util"
local data = require "wfsession.sandbox.data"
local server = require "wfsession.sandbox.server"

local S = server.S
local obj, arr, NULL, iso = util.obj, util.arr, util.NULL, util.iso
local ceil = math.ceil

local M = {}

local ERRORS = {
  unauthorized = { "UNAUTHORIZED", "Invalid or missing Bearer token" },
  not_found = { "NOT_FOUND", "The requested resource does not exist" },
  method = { "METHOD_NOT_ALLOWED", "Method not allowed" },
  rate_limited = { "TOO_MANY_REQUESTS", "Too many requests" },
  internal = { "INTERNAL_ERROR", "An unexpected error occurred" },
  unavailable = { "SERVICE_UNAVAILABLE", "The service is temporarily unavailable" },
}

--- Sends an IDnow error body `{errorCode, message}` (assumed shape).
-- @function error
-- @tparam table req
-- @number status
-- @string kind a key of the error table, or an errorCode when `message` is given
-- @tparam[opt] table headers
-- @tparam[opt] string message
function M.error(req, status, kind, headers, message)
  local e = ERRORS[kind]
  if kind == "unauthorized" then
    headers = headers or {}
    headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
  end
  return S.reply(req, status, obj("errorCode", e and e[1] or kind, "message", message or e[2]),
    headers)
end

-- Tokens ---------------------------------------------------------------------------

local function b64url(s)
  return (ngx.encode_base64(s, true):gsub("[+/]", { ["+"] = "-", ["/"] = "_" }))
end

local function unb64url(s)
  s = s:gsub("[-_]", { ["-"] = "+", ["_"] = "/" })
  return ngx.decode_base64(s .. string.rep("=", (4 - #s % 4) % 4))
end

local function secret()
  return "wfsession-sandbox-token/" .. S.config().seed
end

local HEADER = b64url('{"alg":"HS1","typ":"JWT"}')

local function issue(client_id, ttl)
  ngx.update_time()
  local now = ngx.now()
  local claims = util.json(obj("iss", "wfsession-sandbox", "sub", client_id,
    "gen", S.token_generation(), "iat", now, "exp", now + ttl))
  local signed = HEADER .. "." .. b64url(claims)
  return signed .. "." .. b64url(ngx.hmac_sha1(secret(), signed))
end

-- Returns true when the bearer token is valid now.
local function valid(token)
  if type(token) ~= "string" or #token > 2048 then return false end
  local h, p, sig = token:match("^([%w_%-]+)%.([%w_%-]+)%.([%w_%-]+)$")
  if not h then return false end
  if b64url(ngx.hmac_sha1(secret(), h .. "." .. p)) ~= sig then return false end
  local claims = cjson.decode(unb64url(p) or "")
  if type(claims) ~= "table" or claims.gen ~= S.token_generation() then return false end
  ngx.update_time()
  return type(claims.exp) == "number" and claims.exp > ngx.now()
end

local function oauth_error(req, status, code, description, headers)
  headers = headers or {}
  headers["Cache-Control"] = "no-store"
  return S.reply(req, status, obj("error", code, "error_description", description), headers)
end

local function token_endpoint(req)
  S.stat("token", "idnow")
  if req.method ~= "POST" then
    return oauth_error(req, 405, "invalid_request", "The token endpoint only accepts POST")
  end
  ngx.req.read_body()
  local form = util.parse_query(ngx.req.get_body_data() or "")
  local cfg = S.config()
  local id, secret_given, basic
  local auth = S.header(req, "authorization")
  if auth then
    local b = auth:match("^[Bb]asic%s+(%S+)$")
    local decoded = b and ngx.decode_base64(b)
    local u, s = (decoded or ""):match("^([^:]*):(.*)$")
    if not u then
      return oauth_error(req, 401, "invalid_client", "Client authentication failed",
        { ["WWW-Authenticate"] = 'Basic realm="idnow"' })
    end
    -- client_secret_basic form-encodes both parts before base64 (RFC 6749 2.3.1).
    id = util.unescape((u:gsub("%+", " ")))
    secret_given = util.unescape((s:gsub("%+", " ")))
    basic = true
  else
    id, secret_given = form.client_id, form.client_secret
  end
  if form.grant_type == nil then
    return oauth_error(req, 400, "invalid_request", "Missing grant_type")
  elseif form.grant_type ~= "client_credentials" then
    return oauth_error(req, 400, "unsupported_grant_type", "Only client_credentials is supported")
  end
  if id ~= cfg.idnow_client_id or secret_given ~= cfg.idnow_client_secret then
    return oauth_error(req, 401, "invalid_client", "Client authentication failed",
      basic and { ["WWW-Authenticate"] = 'Basic realm="idnow"' } or nil)
  end
  return S.reply(req, 200, obj("access_token", issue(id, cfg.token_ttl),
    "expires_in", cfg.token_ttl, "token_type", "Bearer"),
    { ["Cache-Control"] = "no-store", Pragma = "no-cache" })
end

-- Sessions ---------------------------------------------------------------------------

local function last_step(r)
  if not r.start then return NULL end
  local ending = r.st == "COMPLETED"
  local verdict = NULL
  if ending and r.oc and r.oc ~= "NO_OUTCOME" then verdict = r.oc:lower() end
  if r.old_step then
    local name = ending and "END" or "START"
    return obj("stepName", name, "stepType", name, "verdict", verdict)
  end
  return obj("stepId", ending and "step_end_001" or "step_start_001",
    "stepDescription", ending and "Final decision step" or "Session start step",
    "verdict", verdict)
end

local EXPIRING = { CREATED = true, RUNNING = true, EXPIRED = true }

local function render(ctx, ds, r, detail)
  local id = data.id(ctx, ds, r.i, r)
  local o = obj("sessionId", id, "sessionStatus", r.st, "flowId", ctx.idnow_flow,
    "flowVersion", r.ver, "environment", ds.env,
    "subjectId", r.subj and ctx.idnow_subjects[r.subj] or NULL, "outcome", r.oc or NULL,
    "createdAt", iso(r.c, true), "startedAt", r.start and iso(r.start, true) or NULL,
    "updatedAt", iso(r.u, true), "completedAt", r.done and iso(r.done, true) or NULL,
    "expiresAt", EXPIRING[r.st] and iso(r.c + 86400000, true) or NULL,
    "lastStep", last_step(r))
  if detail then
    util.put(o, "redirectUrl", r.i % 4 == 0 and ("https://example.com/kyc/return?session=" .. id)
      or NULL)
    util.put(o, "state", NULL)
  end
  return o
end

local function dataset(env)
  if env == "live" or env == "staging" then return data.sets["idnow_" .. env] end
  return nil
end

local function list(req, flow_id, env)
  S.stat("list", "idnow")
  local ds = dataset(env)
  if not ds then return M.error(req, 404, "not_found", nil, "Unknown environment") end
  local ctx = S.ctx()
  if flow_id ~= ctx.idnow_flow then
    return M.error(req, 404, "FLOW_NOT_FOUND", nil, "Flow '" .. flow_id:sub(1, 64) .. "' not found")
  end
  local a, base = req.args, S.config().idnow_page_base
  local page, size = base, 10
  if a.page then
    page = util.int(a.page, base, 1e9)
    if not page then
      return M.error(req, 400, "INVALID_REQUEST", nil, "page must be an integer >= " .. base)
    end
  end
  if a.size then
    size = util.int(a.size, 1, 1000)
    if not size then
      return M.error(req, 400, "INVALID_REQUEST", nil, "size must be an integer between 1 and 1000")
    end
  end
  local sort_by = a.sortBy or "createdAt"
  if sort_by ~= "createdAt" and sort_by ~= "status" then
    return M.error(req, 400, "INVALID_REQUEST", nil, "sortBy must be createdAt or status")
  end
  local desc = a.sortDesc or "false"
  if desc ~= "true" and desc ~= "false" then
    return M.error(req, 400, "INVALID_REQUEST", nil, "sortDesc must be true or false")
  end
  local total, recs = data.idnow_list(ctx, ds, S.count(ds.name), sort_by, desc == "true",
    (page - base) * size, size)
  local content = arr()
  for k = 1, #recs do content[k] = render(ctx, ds, recs[k], false) end
  S.listed(ds.name)
  return S.reply(req, 200, obj("content", content, "page", obj("size", size, "number", page,
    "totalElements", total, "totalPages", ceil(total / size))))
end

local function get(req, env, id)
  S.stat("get", "idnow")
  local ds = dataset(env)
  if not ds then return M.error(req, 404, "not_found", nil, "Unknown environment") end
  local ctx = S.ctx()
  local _, r = data.decode_id(ctx, ds, S.count(ds.name), id)
  if not r then
    return M.error(req, 404, "SESSION_NOT_FOUND", nil, "Session '" .. id:sub(1, 64) .. "' not found")
  end
  return S.reply(req, 200, render(ctx, ds, r, true))
end

--- Handles `/idnow/...`.
-- @function handle
-- @tparam table req
function M.handle(req)
  local seg = req.seg
  if seg[2] == "auth" then
    if seg[3] == "oidc" and seg[4] == "token" and #seg == 4 then return token_endpoint(req) end
    return oauth_error(req, 404, "invalid_request", "Unknown endpoint")
  end
  if seg[2] ~= "api" or seg[3] ~= "v1" then return M.error(req, 404, "not_found") end
  local is_list = seg[4] == "flows" and seg[7] == "sessions" and #seg == 7
  local is_get = seg[5] == "sessions" and #seg == 6 and seg[4] ~= "flows"
  if not (is_list or is_get) then return M.error(req, 404, "not_found") end
  local auth = S.header(req, "authorization")
  if not valid(auth and auth:match("^[Bb]earer%s+(%S+)$")) then
    return M.error(req, 401, "unauthorized")
  end
  if req.method ~= "GET" then return M.error(req, 405, "method") end
  if is_list then return list(req, seg[5], seg[6]) end
  return get(req, seg[4], seg[6])
end

return M
