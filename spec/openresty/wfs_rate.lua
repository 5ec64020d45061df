--- The nginx of spec/66-rate_spec.lua (inside nginx, LuaJIT): every worker
-- lists the sandbox's sessions once, from a timer, pacing through the
-- `lua_shared_dict wfs_budget`, through Redis (resty.redis) or not at all;
-- /results says what each found.
-- `wfs_rate_config` is written by the spec.
-- luacheck: globals ngx
local wfs = require "wfsession"
local cjson = require "cjson.safe"
local config = require "wfs_rate_config"

local R = {}

local function job(premature)
  if premature then return end
  local pid = ngx.worker.pid()
  local out = { pid = pid }
  local ok, err = pcall(function()
    local first
    local c = wfs.new{
      provider = "complycube", base_url = config.base_url, api_key = config.api_key, timeout = 20,
      retry = { max_retries = 20, retry_after_max = 5 },
      rate_limit = config.share and { rps = config.rps,
        share = config.share == "dict" and ngx.shared.wfs_budget or config.share } or false,
      on_request = function(info)
        if info.notice then out.notice = info.notice return end
        ngx.update_time()
        local started = ngx.now() - (info.seconds or 0)
        if not first or started < first then first = started end
      end,
    }
    local seen, n = {}, 0
    for s in c:sessions{ page_size = config.page_size } do
      if seen[s.id] then error("an id twice: " .. s.id) end
      seen[s.id] = true
      n = n + 1
    end
    ngx.update_time()
    out.n, out.first, out.last = n, first, ngx.now()
  end)
  if not ok then out.error = tostring(err) end
  ngx.shared.wfs_rate:set("r:" .. pid, cjson.encode(out))
end

function R.init_worker()
  ngx.timer.at(0, job)
end

function R.results()
  local list = {}
  for _, k in ipairs(ngx.shared.wfs_rate:get_keys(0)) do
    list[#list + 1] = cjson.decode(ngx.shared.wfs_rate:get(k))
  end
  ngx.say(cjson.encode(list))
end

return R
