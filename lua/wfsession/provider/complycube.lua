--- ComplyCube: `GET /v1/workflowSessions` (page number + totals, newest first).
-- Facts: ../shared/reference/providers.md section 1.
-- @module wfsession.provider.complycube

local core = require "wfsession.core"
local util = require "wfsession.util"

local M = {
  name = "complycube",
  default_base_url = "https://api.complycube.com/v1",
  --- options of `wfs.new` that belong to this provider
  options = { api_key = true },
  --- raw outcome the server filters on, by normalized outcome
  server_outcome = { approved = "clear", needs_attention = "attention", rejected = "rejected" },
  --- page size of a listing that sets none: its documented maximum
  page_size = 1000,
  --- query keys that never apply (no such field at ComplyCube)
  inapplicable = { batch_id = true, file_name_contains = true },
}

--- Requests per second the API allows: 10 on live keys, 5 on test keys
-- (the key's prefix says which: `test_` / `live_`).
function M.rate_limit(secrets)
  return type(secrets.api_key) == "string" and secrets.api_key:sub(1, 5) == "test_" and 5 or 10
end

--- Check the provider's own options.
function M.validate(opts)
  util.need_secret(opts, "api_key", "complycube")
end

function M.list_url(client) return client.base_url .. "/workflowSessions" end

function M.get_url(client, id) return client.base_url .. "/workflowSessions/" .. core.escape(id) end

--- Headers of every request; the key is sent raw, without "Bearer".
function M.authorize(_, secrets, headers)
  headers["Authorization"] = secrets.api_key
  return true
end

--- Split a validated query into server parameters and what stays client-side.
-- The date filters are "greater than" / "less than" like ours. Filtering by
-- status is UNCONFIRMED upstream, so it always runs client-side.
function M.plan(query)
  local params, client_side = {}, {}
  local plan = { params = params, client = client_side, drift = true,
                 order = { field = "created_at", desc = true } }
  if query.sort and query.sort ~= "created_at" then
    return nil, "sort: complycube lists by created_at only"
  end
  if query.order and query.order ~= "desc" then
    return nil, "order: complycube lists newest first only (order = \"desc\")"
  end
  local map = { subject_id = "clientId", workflow_id = "workflowTemplateId",
                created_after = "createdAfter", created_before = "createdBefore",
                updated_after = "updatedAfter", updated_before = "updatedBefore" }
  for _, key in ipairs(util.FILTER_KEYS) do
    local v = query[key]
    if v ~= nil then
      if map[key] then
        params[#params + 1] = { map[key], v }
      elseif key == "outcome" then
        params[#params + 1] = { "outcome", M.server_outcome[v] }
      else
        client_side[key] = v
      end
    end
  end
  return plan
end

--- The session object of a get-one body.
function M.unwrap(body) return body end

return M
