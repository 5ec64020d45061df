--- Handlers of the nginx that hosts wfsession in spec/57-openresty_spec.lua
-- (runs inside nginx, LuaJIT). `wfs_test_config` is written by the spec:
-- the sandbox's URLs and credentials.
-- luacheck: globals ngx
local wfs = require "wfsession"
local cjson = require "cjson.safe"
local config = require "wfs_test_config"

local T = {}

local function client(provider, extra, set)
  local p = (set or config)[provider]
  local o = { provider = provider, base_url = p.base_url, timeout = 20 }
  if provider == "idnow" then
    o.client_id, o.client_secret, o.flow_id, o.auth_url = p.client_id, p.client_secret, p.flow_id, p.auth_url
  else
    o.api_key = p.api_key
  end
  for k, v in pairs(extra or {}) do o[k] = v end
  return wfs.new(o)
end

-- List with the query arguments of the request (or `args`); a summary table.
local function list(args)
  local extra = { concurrency = tonumber(args.concurrency) or 4 }
  if args.transport and args.transport ~= "" then extra.transport = args.transport end
  local ok, c = pcall(client, args.provider or "complycube", extra, args.tls == "1" and config.tls)
  if not ok then return { error = tostring(c) } end
  ngx.update_time()
  local t0, seen, n, dup = ngx.now(), {}, 0, 0
  local pager = c:sessions{ page_size = tonumber(args.page_size) or 20, max_items = tonumber(args.max_items) }
  while true do
    local s, msg, err = pager:next()
    if not s then
      ngx.update_time()
      return { n = n, dup = dup, seconds = ngx.now() - t0, error = msg, kind = err and err.kind }
    end
    if seen[s.id] then dup = dup + 1 end
    seen[s.id] = true
    n = n + 1
  end
end

function T.ping() ngx.say("pong") end

function T.list() ngx.say(cjson.encode(list(ngx.req.get_uri_args()))) end

--- Start a listing in a zero-delay timer; /timer/result reads what it found.
function T.timer_start()
  local args = ngx.req.get_uri_args()
  ngx.shared.wfs_test:delete("timer")
  local ok, err = ngx.timer.at(0, function(premature)
    if premature then return end
    ngx.shared.wfs_test:set("timer", cjson.encode(list(args)))
  end)
  ngx.say(ok and "started" or tostring(err))
end

function T.timer_result() ngx.say(ngx.shared.wfs_test:get("timer") or "") end

-- A request where nginx has no cosockets: the message it returns.
local function attempt(key)
  local ok, c = pcall(client, "complycube")
  local msg
  if ok then
    local s, m = c:session("any-id")
    msg = s and "a session?!" or m
  else
    msg = "raised: " .. tostring(c)
  end
  ngx.shared.wfs_test:set(key, msg)
end

function T.init_worker() attempt("init_worker") end

function T.log_phase() attempt("log") end

function T.phase_result() ngx.say(ngx.shared.wfs_test:get(ngx.var.arg_key) or "") end

return T
