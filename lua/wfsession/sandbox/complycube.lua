--- ComplyCube `/v1/workflowSessions`, as the sandbox serves it.
-- Faithful to the documented behaviour: raw `Authorization: <key>`, page
-- numbers from 1, newest first, null members dropped, and "an incorrectly
-- formatted filter ... will return a 200 response with no results".
-- @module wfsession.sandbox.complycube

local util = require "wfsession.sandbox.util"
local data = require "wfsession.sandbox.data"
local server = require "wfsession.sandbox.server"

local S = server.S
local obj, arr, NULL, iso = util.obj, util.arr, util.NULL, util.iso
local ceil = math.ceil

local M = {}

local ERRORS = {
  unauthorized = { "unauthorized", "The 'Authorization' header is invalid" },
  not_found = { "resource_not_found", "The requested resource does not exist" },
  method = { "invalid_request", "Method not allowed" },
  rate_limited = { "rate_limit_exceeded", "You have exceeded the rate limit prescribed to your plan" },
  internal = { "internal_server_error", "An error has occurred, try your request again. If you " ..
    "still keep getting this error, please get in touch with Support." },
  unavailable = { "internal_server_error", "The service is temporarily unavailable, try your " ..
    "request again." },
}

--- Sends a ComplyCube error body `{type, message, param?}`.
-- @function error
-- @tparam table req
-- @number status
-- @string kind a key of the error table, or a `type` when `message` is given
-- @tparam[opt] table headers
-- @tparam[opt] string message
-- @tparam[opt] string param
function M.error(req, status, kind, headers, message, param)
  local e = ERRORS[kind]
  local body = obj("type", e and e[1] or kind, "message", message or e[2], "param", param or NULL)
  return S.reply(req, status, body, headers, true)
end

local CHECK_TYPES = { "document_check", "identity_check", "extensive_screening_check" }

local function render(ctx, r, detail)
  local flow = ctx.cc_flows[r.flow]
  local client = ctx.cc_clients[r.client]
  local id = data.id(ctx, data.sets.complycube, r.i, r)
  if not detail then
    return obj("id", id, "clientId", client.id, "entityName", client.name, "status", r.st,
      "workflowTemplateName", flow.name, "workflowTemplateId", flow.id,
      "workflowId", flow.versions[r.ver], "workflowVersion", r.ver, "outcome", r.oc or NULL,
      "createdAt", iso(r.c, true), "updatedAt", iso(r.u, true))
  end
  local tasks, checks = arr(), arr()
  local finished = r.st == "complete" or r.st == "processing"
  local last_done = NULL
  for k = 1, r.nchecks do
    local task_id = data.hex(r.h, 40 + k, 24)
    local done = finished or k < r.nchecks
    if done then last_done = task_id end
    tasks[k] = obj("id", task_id, "type", CHECK_TYPES[k], "status", done and "complete" or "pending")
    checks[k] = obj("checkId", data.hex(r.h, 50 + k, 24), "type", CHECK_TYPES[k], "taskId", task_id)
  end
  return obj("id", id, "clientId", client.id, "entityName", client.name, "status", r.st,
    "workflowTemplateId", flow.id, "workflowId", flow.versions[r.ver],
    "workflowTemplateName", flow.name, "workflowVersion", r.ver,
    "workflowDescription", "Version " .. r.ver .. " of " .. flow.name,
    "workflowTemplateDescription", flow.description,
    "compliancePolicies", arr(), "tasks", tasks, "lastCompletedTaskId", last_done,
    "allRelatedChecks", checks, "outcome", r.oc or NULL, "createdAt", iso(r.c, true),
    "completedAt", r.st == "complete" and iso(r.done, true) or NULL,
    "updatedAt", iso(r.u, true), "policyAssurance", arr())
end

local KNOWN = {
  page = true, pageSize = true, outcome = true, clientId = true, workflowTemplateId = true,
  createdAfter = true, createdBefore = true, updatedAfter = true, updatedBefore = true,
}
local DATES = { createdAfter = "ca", createdBefore = "cb", updatedAfter = "ua", updatedBefore = "ub" }

local function list(req)
  S.stat("list", "complycube")
  local a = req.args
  local page, size = 1, 100
  if a.page then
    page = util.int(a.page, 1, 1e9)
    if not page then
      return M.error(req, 400, "invalid_request", nil, "'page' must be an integer greater than " ..
        "or equal to 1", "page")
    end
  end
  if a.pageSize then
    size = util.int(a.pageSize, 1, 1000)
    if not size then
      return M.error(req, 400, "invalid_request", nil, "'pageSize' must be an integer between 1 " ..
        "and 1000", "pageSize")
    end
  end
  local f, empty = {}, false
  for _, k in ipairs(req.arg_order) do
    if not KNOWN[k] then
      empty = true          -- unsupported filter: 200 with no results
    elseif DATES[k] then
      local ms = util.parse_iso(a[k])
      if ms then f[DATES[k]] = ms else empty = true end
    elseif k ~= "page" and k ~= "pageSize" then
      f[k] = a[k]
    end
  end
  local total, recs = 0, {}
  local ctx = S.ctx()
  if not empty then
    total, recs = data.cc_list(ctx, S.count("complycube"), f, (page - 1) * size, size)
  end
  local items = arr()
  for k = 1, #recs do items[k] = render(ctx, recs[k], false) end
  S.listed("complycube")
  return S.reply(req, 200, obj("page", page, "pageSize", size, "totalItems", total,
    "pages", ceil(total / size), "items", items), nil, true)
end

local function get(req, id)
  S.stat("get", "complycube")
  local ctx = S.ctx()
  local _, r = data.decode_id(ctx, data.sets.complycube, S.count("complycube"), id)
  if not r then
    return M.error(req, 404, "not_found", nil, "Invalid workflow session id '" .. id:sub(1, 64) .. "'")
  end
  return S.reply(req, 200, render(ctx, r, true), nil, true)
end

--- Handles `/complycube/...`.
-- @function handle
-- @tparam table req
function M.handle(req)
  local seg = req.seg
  if seg[2] ~= "v1" or seg[3] ~= "workflowSessions" or #seg > 4 then
    return M.error(req, 404, "not_found")
  end
  if S.header(req, "authorization") ~= S.config().complycube_api_key then
    return M.error(req, 401, "unauthorized")
  end
  if req.method ~= "GET" then return M.error(req, 405, "method") end
  if seg[4] then return get(req, seg[4]) end
  return list(req)
end

return M
