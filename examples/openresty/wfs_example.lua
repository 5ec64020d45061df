--- wfsession inside OpenResty: a handler that streams sessions as JSON
-- lines, and a timer job that keeps an outcome summary in a lua_shared_dict.
-- Wired up by examples/openresty/nginx.conf; the client comes from the
-- environment (declare the variables with `env` in nginx.conf):
--
--   WFS_PROVIDER          complycube (default), idnow or extend
--   COMPLYCUBE_API_KEY / EXTEND_API_KEY / IDNOW_CLIENT_ID + IDNOW_CLIENT_SECRET + IDNOW_FLOW_ID
--   WFS_BASE_URL          another base URL (a sandbox), WFS_AUTH_URL for IDnow
--   WFS_SUMMARY_EVERY     seconds between two summaries (default 300)
--
-- Everything here runs on cosockets: a listing yields to nginx at every
-- wait, and the worker goes on serving its other requests meanwhile.
-- luacheck: globals ngx
local wfs = require "wfsession"
local cjson = require "cjson.safe"

local M = {}

local FIELDS = { "id", "provider", "status", "outcome", "raw_status", "raw_outcome", "workflow_id",
                 "workflow_name", "workflow_version", "subject_id", "subject_name", "created_at",
                 "updated_at", "started_at", "completed_at", "expires_at" }

--- The client of this worker, made on first use from the environment.
local client
local function get_client()
  if client then return client end
  local provider = os.getenv("WFS_PROVIDER") or "complycube"
  local o = { provider = provider, base_url = os.getenv("WFS_BASE_URL") }
  if provider == "idnow" then
    o.client_id, o.client_secret = os.getenv("IDNOW_CLIENT_ID"), os.getenv("IDNOW_CLIENT_SECRET")
    o.flow_id, o.auth_url = os.getenv("IDNOW_FLOW_ID"), os.getenv("WFS_AUTH_URL")
  else
    o.api_key = os.getenv(provider == "extend" and "EXTEND_API_KEY" or "COMPLYCUBE_API_KEY")
  end
  client = wfs.new(o)
  return client
end

--- GET /sessions.jsonl[?status=..&outcome=..&max_items=..]: one JSON object per
-- session, the normalized fields, sent page by page as they arrive.
function M.stream()
  local args = ngx.req.get_uri_args()
  local query = { status = args.status, outcome = args.outcome,
                  max_items = tonumber(args.max_items) }
  ngx.header["Content-Type"] = "application/x-ndjson"
  local pager = get_client():sessions(query)
  local n = 0
  while true do
    local s, msg = pager:next()
    if not s then
      -- the status line is out already: an error ends the stream with a last line
      if msg then ngx.say(cjson.encode({ error = msg })) end
      return
    end
    local row = {}
    for _, k in ipairs(FIELDS) do row[k] = s[k] end
    ngx.say(cjson.encode(row))
    n = n + 1
    if n % 100 == 0 then ngx.flush(true) end
  end
end

-- One summary into the shared dict: what /summary shows.
local function summarize(premature)
  if premature then return end
  local dict = ngx.shared.wfs_summary
  local pager = get_client():sessions{}
  local ok, sum = pcall(wfs.summarize, pager, { by = "workflow_name" })
  if not ok then
    dict:set("error", tostring(sum))
    return
  end
  local groups = {}
  for name, g in pairs(sum.groups) do
    groups[name] = { total = g.total, by_outcome = g.by_outcome, approval_rate = g.approval_rate }
  end
  ngx.update_time()
  dict:set("summary", cjson.encode({ total = sum.total, by_status = sum.by_status,
    by_outcome = sum.by_outcome, approval_rate = sum.approval_rate, groups = groups, at = ngx.now() }))
  dict:delete("error")
end

--- init_worker_by_lua: worker 0 summarizes now, then every WFS_SUMMARY_EVERY
-- seconds, in timers (init_worker itself has no cosockets).
function M.start_summary_job()
  if ngx.worker.id() ~= 0 then return end
  local every = tonumber(os.getenv("WFS_SUMMARY_EVERY") or "") or 300
  ngx.timer.at(0, summarize)
  ngx.timer.every(every, summarize)
end

--- GET /summary: the last summary (JSON), or 503 until there is one.
function M.show_summary()
  local dict = ngx.shared.wfs_summary
  local text = dict:get("summary")
  ngx.header["Content-Type"] = "application/json"
  if not text then
    ngx.status = 503
    ngx.say(cjson.encode({ error = dict:get("error") or "no summary yet" }))
    return
  end
  ngx.say(text)
end

return M
