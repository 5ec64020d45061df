--- What the examples share: a client of one provider, from real credentials
-- when the environment has them, else from a throwaway sandbox (nginx on
-- loopback) that lives as long as the run, and is stopped at its end, also
-- on an error or a Ctrl-C.
--
--     package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;" .. package.path
--     local common = require "common"
--     local args = common.args(arg, { provider = "string", now = "time" }, USAGE)
--     os.exit(common.run(args.provider, function(client, sb) ... return 0 end))
--
-- Provider: `--provider P`, else `WFS_PROVIDER`, else complycube. Credentials:
-- `COMPLYCUBE_API_KEY`; `IDNOW_CLIENT_ID`, `IDNOW_CLIENT_SECRET`, `IDNOW_FLOW_ID`
-- (and `IDNOW_ENVIRONMENT`, default live); `EXTEND_API_KEY`. `WFS_BASE_URL` (and
-- for IDnow `WFS_AUTH_URL`) point the client at another host. The sandbox holds
-- `WFS_SANDBOX_SESSIONS` sessions (1000) of seed 7, `WFS_SANDBOX_LATENCY` s a request.
-- @module common
local wfs = require "wfsession"

local M = {}

-- client option <- environment variable, per provider
local CREDENTIALS = {
  complycube = { api_key = "COMPLYCUBE_API_KEY" },
  idnow = { client_id = "IDNOW_CLIENT_ID", client_secret = "IDNOW_CLIENT_SECRET", flow_id = "IDNOW_FLOW_ID" },
  extend = { api_key = "EXTEND_API_KEY" },
}

local function env(name)
  local v = os.getenv(name)
  if v ~= "" then return v end
end

--- Client options of `provider` from the environment; nil when none of its credentials is set.
-- @raise when only some of them are set
function M.env_options(provider)
  local o, missing, set = { provider = provider, base_url = env("WFS_BASE_URL") }, {}, false
  for option, name in pairs(CREDENTIALS[provider]) do
    o[option] = env(name)
    if o[option] then set = true else missing[#missing + 1] = name end
  end
  if not set then return nil end
  if #missing > 0 then error("set " .. table.concat(missing, " and ") .. " as well", 0) end
  if provider == "idnow" then o.auth_url, o.environment = env("WFS_AUTH_URL"), env("IDNOW_ENVIRONMENT") end
  return o
end

--- Run `main(client, sb)` (sb: the sandbox, nil with real credentials) and return
-- the exit status: main's (default 0), 1 on an error, 130 on a Ctrl-C.
function M.run(provider, main)
  provider = provider or env("WFS_PROVIDER") or "complycube"
  local sb
  local ok, res = pcall(function()
    if not CREDENTIALS[provider] then error("unknown provider " .. provider .. " (complycube, idnow, extend)", 0) end
    local opts = M.env_options(provider)
    if not opts then
      local n = tonumber(env("WFS_SANDBOX_SESSIONS")) or 1000
      local err
      sb, err = require("wfsession.sandbox").start{ sessions = n, seed = 7,
                                                    latency = tonumber(env("WFS_SANDBOX_LATENCY")) }
      if not sb then error("cannot start the sandbox: " .. tostring(err), 0) end
      io.stderr:write(("no %s credentials: using a throwaway sandbox of %d sessions at %s (nginx pid %s)\n")
        :format(provider, n, sb.url, sb.pid))
      opts = sb:options(provider)
    end
    return main(wfs.new(opts), sb)
  end)
  if sb then sb:stop() end
  if ok then return res or 0 end
  -- a Ctrl-C raises "interrupted!" wherever the script was: the place does not matter
  local msg = tostring(res)
  local interrupted = msg:match("interrupted!.*")
  io.stderr:write(arg[0], ": ", interrupted or msg, "\n")
  return interrupted and 130 or 1
end

--- Parse `argv`: `--name value` for each name in `spec` ("string", "number" or
-- "time", ISO 8601), the rest positional (`args[1]`, ...). `--help` prints `usage`
-- and exits 0, a bad option prints it and exits 2.
function M.args(argv, spec, usage)
  local args, i = {}, 1
  while argv[i] do
    local name = argv[i]:match("^%-%-([%w-]+)$")
    local key = name and name:gsub("-", "_")
    local kind, v = spec[key], argv[i + 1]
    if argv[i] == "--help" then
      M.usage(usage)
      os.exit(0)
    elseif not name then
      args[#args + 1] = argv[i]
    elseif kind == "string" and v or kind == "number" and tonumber(v) or kind == "time" and v and wfs.time(v) then
      args[key], i = kind == "number" and tonumber(v) or v, i + 1
    else
      io.stderr:write(arg[0], ": bad option ", argv[i], " ", v or "", "\n")
      os.exit(M.usage(usage))
    end
    i = i + 1
  end
  return args
end

--- Print `usage` to stderr; returns 2, the exit status of a usage error.
function M.usage(usage)
  io.stderr:write("usage: ", usage, "\n")
  return 2
end

--- Epoch seconds as ISO 8601 UTC with milliseconds: `2025-01-07T10:30:00.000Z`.
function M.iso(t)
  local s = math.floor(t)
  return os.date("!%Y-%m-%dT%H:%M:%S", s) .. (".%03dZ"):format(math.floor((t - s) * 1000))
end

--- "Now" for a report, in epoch seconds: `given` (ISO 8601) if any; else, in the
-- sandbox (whose dates are fixed, in the past), just after its newest session;
-- else the clock.
function M.now(client, given, sb)
  if given then return wfs.time(given) end
  if not sb then return os.time() end
  local newest = wfs.collect(client:sessions{ sort = "created_at", order = "desc", max_items = 1 })[1]
  return newest and math.floor(wfs.time(newest.created_at)) + 1 or os.time()
end

return M
