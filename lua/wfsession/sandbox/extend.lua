--- Extend `/workflow_runs`, as the sandbox serves it, in both API versions:
-- `2026-02-09` (`{object:"list", data, nextPageToken?}`, bare get-one
-- object, `{code, message, retryable, requestId}` errors) and the legacy
-- `2025-04-21` (`{success:true, workflowRuns|workflowRun}`,
-- `{success:false, error}`).
-- `nextPageToken` is a keyset cursor signed together with the filters and
-- sort it was issued for, so replaying it with other parameters is refused.
-- @module wfsession.sandbox.extend
-- luacheck: read globals ngx

local util = require "wfsession.sandbox.util"
local data = require "wfsession.sandbox.data"
local server = require "wfsession.sandbox.server"

local S = server.S
local obj, arr, NULL, iso = util.obj, util.arr, util.NULL, util.iso

local M = {}

local CURRENT, LEGACY = "2026-02-09", "2025-04-21"

local ERRORS = {
  unauthorized = { "UNAUTHORIZED", "Invalid or missing API key", false },
  not_found = { "NOT_FOUND", "The requested resource does not exist", false },
  invalid = { "INVALID_REQUEST", "Invalid request", false },
  method = { "INVALID_REQUEST", "Method not allowed", false },
  rate_limited = { "RATE_LIMIT_EXCEEDED", "Too many requests. Back off and retry.", true },
  internal = { "INTERNAL_ERROR", "An unexpected error occurred. Please retry.", true },
  unavailable = { "INTERNAL_ERROR", "The service is temporarily unavailable. Please retry.", true },
}

--- Sends an Extend error in the body shape of the request's API version.
-- @function error
-- @tparam table req
-- @number status
-- @string kind a key of the error table
-- @tparam[opt] table headers
-- @tparam[opt] string message
function M.error(req, status, kind, headers, message)
  local e = ERRORS[kind]
  local version = S.header(req, "x-extend-api-version")
  if version == LEGACY then
    return S.reply(req, status, obj("success", false, "error", message or e[2]), headers)
  end
  return S.reply(req, status, obj("code", e[1], "message", message or e[2], "retryable", e[3],
    "requestId", S.request_id()), headers)
end

-- Rendering --------------------------------------------------------------------

local FILE_TYPES = { pdf = "PDF", jpg = "IMAGE", docx = "DOCX" }
local REVIEWERS = { "jane.doe@example.com", "li.wei@example.com", "sam.okafor@example.com" }
local NOTES = { "Invalid invoice format", "Totals do not match line items", "Document is illegible" }

local function ts(r, ms)
  return ms and iso(ms, r.has_ms) or NULL
end

local function reviewed(r)
  return r.st == "REJECTED" or (r.st == "PROCESSED" and data.sub(r.h, 60) % 10 < 3)
end

local function credits(r)
  if r.st == "PENDING" then return nil end
  return 3 + data.sub(r.h, 61) % 40
end

local function files(r, legacy)
  local out = arr()
  local list = data.files(r)
  for k = 1, #list do
    local f = list[k]
    local ext = f.name:match("%.(%w+)$")
    local o = obj("object", "file", "id", "file_" .. data.token(f.h, 1, 22), "name", f.name)
    if legacy then
      util.put(o, "presignedUrl", "https://files.sandbox.invalid/" .. data.token(f.h, 9, 16))
    else
      util.put(o, "type", FILE_TYPES[ext] or NULL)
    end
    util.put(o, "parentFileId", NULL)
    util.put(o, "metadata", obj("pageCount", 1 + f.h % 30))
    util.put(o, "createdAt", iso(r.c, r.has_ms))
    util.put(o, "updatedAt", iso(r.c, r.has_ms))
    if legacy then util.put(o, "usage", obj("credits", 1 + f.h % 10)) end
    out[k] = o
  end
  return out
end

local function render(ctx, r, detail, legacy)
  local ds = data.sets.extend
  local id = data.id(ctx, ds, r.i, r)
  local flow = ctx.ext_flows[r.flow]
  local version = flow.versions[r.ver]
  local rev = reviewed(r)
  local reviewer = rev and REVIEWERS[data.sub(r.h, 62) % #REVIEWERS + 1] or NULL
  local note = r.st == "REJECTED" and NOTES[data.sub(r.h, 63) % #NOTES + 1] or NULL
  local batch = r.batch and ctx.batches[r.batch] or NULL
  local cr = credits(r)
  if legacy and not detail then
    return obj("id", id, "status", r.st, "initialRunAt", ts(r, r.start),
      "reviewedByUser", reviewer, "reviewedAt", rev and ts(r, r.u) or NULL,
      "startTime", ts(r, r.start), "endTime", ts(r, r.done), "workflowId", flow.id,
      "workflowName", flow.name, "workflowVersionId", version.id, "batchId", batch,
      "rejectionNote", note, "createdAt", ts(r, r.c), "updatedAt", ts(r, r.u),
      "usage", cr and obj("credits", cr) or NULL)
  end
  local failed = r.st == "FAILED"
  if legacy then
    local first = data.files(r)[1]
    return obj("object", "workflow_run", "id", id, "name", first and first.name or NULL,
      "url", "https://dashboard.extend.ai/workflows/" .. flow.id .. "?workflowRunId=" .. id,
      "status", r.st, "metadata", obj("source", "wfsession-sandbox", "index", r.i),
      "batchId", batch, "files", files(r, true),
      "failureReason", failed and "PROCESSING_ERROR" or NULL,
      "failureMessage", failed and "The document could not be processed." or NULL,
      "initialRunAt", ts(r, r.start), "reviewedBy", reviewer, "reviewed", rev,
      "rejectionNote", note, "reviewedAt", rev and ts(r, r.u) or NULL,
      "startTime", ts(r, r.start), "endTime", ts(r, r.done),
      "createdAt", ts(r, r.c), "updatedAt", ts(r, r.u), "outputs", arr(),
      "stepRuns", arr({ obj("object", "workflow_step_run",
        "id", "workflow_step_run_" .. data.token(r.h, 70, 22), "status", r.st == "PENDING"
          and "PENDING" or "PROCESSED",
        "step", obj("object", "workflow_step", "id", "step_" .. data.token(r.h, 76, 22),
          "name", "Extract fields", "type", "EXTRACT")) }),
      "workflow", obj("object", "workflow", "id", flow.id, "version", version.version,
        "name", flow.name),
      "usage", cr and obj("credits", cr) or NULL)
  end
  local workflow = obj("object", "workflow", "id", flow.id, "name", flow.name,
    "createdAt", flow.created, "updatedAt", flow.updated)
  local wv = obj("object", "workflow_version", "id", version.id, "version", version.version,
    "name", version.name, "createdAt", version.created)
  local dashboard = "https://dashboard.extend.ai/workflows/" .. id
  if not detail then
    return obj("object", "workflow_run", "id", id, "status", r.st, "workflow", workflow,
      "workflowVersion", wv, "dashboardUrl", dashboard, "reviewedByUser", reviewer,
      "reviewedAt", rev and ts(r, r.u) or NULL, "initialRunAt", ts(r, r.start),
      "startTime", ts(r, r.start), "endTime", ts(r, r.done), "batchId", batch,
      "rejectionNote", note, "files", files(r, false), "createdAt", ts(r, r.c),
      "updatedAt", ts(r, r.u),
      "usage", cr and obj("credits", cr, "totalCredits", cr + 2) or NULL)
  end
  return obj("object", "workflow_run", "id", id, "workflow", workflow, "workflowVersion", wv,
    "dashboardUrl", dashboard, "status", r.st,
    "metadata", obj("source", "wfsession-sandbox", "index", r.i), "batchId", batch,
    "files", files(r, false), "failureReason", failed and "PROCESSING_ERROR" or NULL,
    "failureMessage", failed and "The document could not be processed." or NULL,
    "initialRunAt", ts(r, r.start), "reviewedByUser", reviewer, "reviewed", rev,
    "rejectionNote", note, "reviewedAt", rev and ts(r, r.u) or NULL,
    "startTime", ts(r, r.start), "endTime", ts(r, r.done),
    "createdAt", ts(r, r.c), "updatedAt", ts(r, r.u),
    "stepRuns", arr({ obj("stepType", "EXTRACT", "object", "workflow_step_run",
      "id", "workflow_step_run_" .. data.token(r.h, 70, 22), "workflowRunId", id,
      "status", r.st == "PENDING" and "PENDING" or "PROCESSED",
      "step", obj("object", "workflow_step", "id", "step_" .. data.token(r.h, 76, 22),
        "name", "Extract fields")) }),
    "usage", cr and obj("credits", cr, "totalCredits", cr + 2) or NULL)
end

-- A listed run is a pure function of (seed, index, envelope): its JSON is kept,
-- so that a long listing costs the sandbox the keyset scan and not the
-- encoding of every run again (the latency knob then stays the floor).
local listed, listed_ctx, listed_n = {}, nil, 0
local LISTED_MAX = 50000

local function render_listed(ctx, r, legacy)
  if listed_ctx ~= ctx or listed_n >= LISTED_MAX then
    listed, listed_ctx, listed_n = {}, ctx, 0
  end
  local key = legacy and -1 - r.i or r.i
  local text = listed[key]
  if not text then
    text = util.json(render(ctx, r, false, legacy))
    listed[key] = text
    listed_n = listed_n + 1
  end
  return util.raw(text)
end

-- Cursor -------------------------------------------------------------------------

local function secret()
  return "wfsession-sandbox-cursor/" .. S.config().seed
end

-- The parameters a token is bound to, in a fixed order.
local function binding(f, sort_by, sort_dir)
  return table.concat({ f.status or "", f.workflowId or "", f.batchId or "",
    f.fileNameContains or "", sort_by, sort_dir }, "\0")
end

local function make_token(f, sort_by, sort_dir, r)
  local payload = table.concat({ "v1", string.format("%.0f", sort_by == "createdAt" and r.c or r.u),
    r.i }, ":")
  local sig = ngx.hmac_sha1(secret(), payload .. "\0" .. binding(f, sort_by, sort_dir))
  return ngx.encode_base64(payload) .. ":" .. ngx.encode_base64(sig)
end

local function read_token(token, f, sort_by, sort_dir)
  if #token > 512 then return nil end
  local p64, s64 = token:match("^([%w+/=]+):([%w+/=]+)$")
  local payload = p64 and ngx.decode_base64(p64)
  local sig = s64 and ngx.decode_base64(s64)
  if not (payload and sig) then return nil end
  if ngx.hmac_sha1(secret(), payload .. "\0" .. binding(f, sort_by, sort_dir)) ~= sig then
    return nil
  end
  local key, i = payload:match("^v1:(%d+):(%d+)$")
  if not key then return nil end
  return { u = tonumber(key), i = tonumber(i) }
end

-- Handlers ---------------------------------------------------------------------

local function list(req, legacy)
  S.stat("list", "extend")
  local a = req.args
  local f = { status = a.status, workflowId = a.workflowId, batchId = a.batchId,
    fileNameContains = a.fileNameContains }
  if f.status and not data.extend_statuses[f.status] then
    return M.error(req, 400, "invalid", nil, "Invalid value for 'status': '" ..
      f.status:sub(1, 32) .. "'")
  end
  local sort_by, sort_dir = a.sortBy or "updatedAt", a.sortDir or "desc"
  if sort_by ~= "updatedAt" and sort_by ~= "createdAt" then
    return M.error(req, 400, "invalid", nil, "sortBy must be 'updatedAt' or 'createdAt'")
  end
  if sort_dir ~= "asc" and sort_dir ~= "desc" then
    return M.error(req, 400, "invalid", nil, "sortDir must be 'asc' or 'desc'")
  end
  local size = 10
  if a.maxPageSize then
    size = util.int(a.maxPageSize, 1, 1000)
    if not size then
      return M.error(req, 400, "invalid", nil, "maxPageSize must be an integer between 1 and 1000")
    end
  end
  local cursor
  if a.nextPageToken then
    cursor = read_token(a.nextPageToken, f, sort_by, sort_dir)
    if not cursor then
      return M.error(req, 400, "invalid", nil, "Invalid nextPageToken: it is malformed or was " ..
        "issued for different parameters")
    end
  end
  local ctx = S.ctx()
  local recs = data.extend_list(ctx, S.count("extend"), f, sort_by, sort_dir == "desc", cursor,
    size + 1)
  local items = arr()
  for k = 1, math.min(size, #recs) do items[k] = render_listed(ctx, recs[k], legacy) end
  local body
  if legacy then
    body = obj("success", true, "workflowRuns", items)
  else
    body = obj("object", "list", "data", items)
  end
  if #recs > size then
    util.put(body, "nextPageToken", make_token(f, sort_by, sort_dir, recs[size]))
  end
  S.listed("extend")
  return S.reply(req, 200, body)
end

local function get(req, id, legacy)
  S.stat("get", "extend")
  local ctx = S.ctx()
  local _, r = data.decode_id(ctx, data.sets.extend, S.count("extend"), id)
  if not r then
    return M.error(req, 404, "not_found", nil, "Workflow run '" .. id:sub(1, 64) .. "' not found")
  end
  local run = render(ctx, r, true, legacy)
  if legacy then return S.reply(req, 200, obj("success", true, "workflowRun", run)) end
  return S.reply(req, 200, run)
end

--- Handles `/extend/...`.
-- @function handle
-- @tparam table req
function M.handle(req)
  local seg = req.seg
  if seg[2] ~= "workflow_runs" or #seg > 3 then return M.error(req, 404, "not_found") end
  local version = S.header(req, "x-extend-api-version")
  if version == nil then
    return M.error(req, 400, "invalid", nil, "Missing required header 'x-extend-api-version'")
  elseif version ~= CURRENT and version ~= LEGACY then
    return M.error(req, 400, "invalid", nil, "Unsupported API version '" .. version:sub(1, 32) ..
      "'; supported: " .. CURRENT .. ", " .. LEGACY)
  end
  local auth = S.header(req, "authorization")
  if auth ~= "Bearer " .. S.config().extend_api_key then
    return M.error(req, 401, "unauthorized")
  end
  if req.method ~= "GET" then return M.error(req, 405, "method") end
  local legacy = version == LEGACY
  if seg[3] then return get(req, seg[3], legacy) end
  return list(req, legacy)
end

return M
