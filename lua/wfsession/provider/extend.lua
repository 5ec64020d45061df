--- Extend: `GET /workflow_runs` (opaque `nextPageToken` cursor).
-- Facts: ../shared/reference/providers.md section 3.
-- @module wfsession.provider.extend

local core = require "wfsession.core"
local util = require "wfsession.util"

local M = {
  name = "extend",
  default_base_url = "https://api.extend.ai",
  options = { api_key = true, api_version = true, workspace_id = true },
  versions = { ["2026-02-09"] = "current", ["2025-04-21"] = "legacy" },
  --- every raw status Extend documents; outcome derives from status
  raw_statuses = { "PENDING", "PROCESSING", "NEEDS_REVIEW", "REJECTED", "PROCESSED",
                   "FAILED", "CANCELLED", "CANCELLING" },
  --- page size of a listing that sets none: its documented maximum (maxPageSize)
  page_size = 1000,
  inapplicable = {},
}

--- Requests per second the API allows on its base (PAYG) plan; larger plans
-- allow more (set `rate_limit`).
function M.rate_limit() return 10 end

function M.validate(opts)
  util.need_secret(opts, "api_key", "extend")
  local v = opts.api_version
  if v ~= nil and not M.versions[v] then
    util.argerror("api_version", "must be \"2026-02-09\" or \"2025-04-21\" (the legacy envelope)")
  end
  util.header_safe(opts, "workspace_id")
end

function M.configure(client, opts)
  client.api_version = opts.api_version or "2026-02-09"
  client.legacy = M.versions[client.api_version] == "legacy"
  client.workspace_id = opts.workspace_id
  client.scope = "extend@" .. client.api_version
end

function M.list_url(client) return client.base_url .. "/workflow_runs" end

function M.get_url(client, id) return client.base_url .. "/workflow_runs/" .. core.escape(id) end

function M.authorize(client, secrets, headers)
  headers["Authorization"] = "Bearer " .. secrets.api_key
  headers["x-extend-api-version"] = client.api_version
  if client.workspace_id then headers["x-extend-workspace-id"] = client.workspace_id end
  return true
end

--- The raw statuses that satisfy a status and outcome filter together.
local function matching_statuses(status, outcome)
  local out = {}
  for _, raw in ipairs(M.raw_statuses) do
    local st, oc = core.normalize("extend", raw)
    if (status == nil or st == status) and (outcome == nil or oc == outcome) then
      out[#out + 1] = raw
    end
  end
  return out
end

--- Split a validated query: `status` goes to the server when one raw status
-- matches (outcome derives from status, so it can ride along); workflow,
-- batch and file name always do; the rest is client-side.
function M.plan(query, client)
  local params, client_side = {}, {}
  local sort = query.sort or "updated_at"
  if sort ~= "created_at" and sort ~= "updated_at" then
    return nil, "sort: extend sorts by created_at or updated_at only"
  end
  local order = query.order or "desc"
  local plan = { params = params, client = client_side, legacy = client.legacy,
                 order = { field = sort, desc = order == "desc" } }
  if query.status or query.outcome then
    local raws = matching_statuses(query.status, query.outcome)
    if #raws == 0 then
      plan.empty = true
    elseif #raws == 1 then
      params[#params + 1] = { "status", raws[1] }
    else
      client_side.status, client_side.outcome = query.status, query.outcome
    end
  end
  local map = { workflow_id = "workflowId", batch_id = "batchId",
                file_name_contains = "fileNameContains" }
  for _, key in ipairs(util.FILTER_KEYS) do
    local v = query[key]
    if v ~= nil and key ~= "status" and key ~= "outcome" then
      if map[key] then params[#params + 1] = { map[key], v } else client_side[key] = v end
    end
  end
  if query.sort or query.order then
    params[#params + 1] = { "sortBy", sort == "created_at" and "createdAt" or "updatedAt" }
    params[#params + 1] = { "sortDir", order }
  end
  return plan
end

function M.unwrap(body, client)
  if client.legacy then
    if body.success == false then return nil end
    return body.workflowRun
  end
  return body
end

return M
