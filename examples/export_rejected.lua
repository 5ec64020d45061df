--- Export the rejected sessions of the last 7 days to CSV (RFC 4180, a header row).
--
--     lua5.4 examples/export_rejected.lua [OUT.csv] [--provider P] [--now ISO-8601] [--days N]
--
-- Writes OUT.csv (default stdout) and the count to stderr. The library does the
-- filtering (`status`, `outcome`, `created_after`, `created_before`): what the
-- provider can filter on goes to its server, the rest is applied client-side.
-- The window is (NOW - N days, NOW), both bounds exclusive. Without credentials
-- in the environment it runs against a throwaway sandbox (see common.lua), whose
-- dates are fixed: there NOW defaults to just after its newest session.
package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;" .. package.path
local common = require "common"

local USAGE = "export_rejected.lua [OUT.csv] [--provider P] [--now ISO-8601] [--days N]"
local COLUMNS = { "id", "provider", "status", "outcome", "raw_status", "raw_outcome", "workflow_id",
                  "workflow_name", "subject_id", "subject_name", "created_at", "completed_at" }

--- One CSV field: quoted when it holds a comma, a quote, CR or LF; quotes doubled.
local function field(v)
  if v == nil then return "" end
  v = tostring(v)
  if v:find('[,"\r\n]') then return '"' .. v:gsub('"', '""') .. '"' end
  return v
end

--- One CSV record, CRLF-terminated: `get(name)` gives each column's value.
local function record(get)
  local cells = {}
  for i, name in ipairs(COLUMNS) do cells[i] = field(get(name)) end
  return table.concat(cells, ",") .. "\r\n"
end

local args = common.args(arg, { provider = "string", now = "time", days = "number" }, USAGE)

os.exit(common.run(args.provider, function(client, sb)
  local now = common.now(client, args.now, sb)
  local query = { status = "completed", outcome = "rejected",
                  created_after = common.iso(now - (args.days or 7) * 86400), created_before = common.iso(now) }
  local out = io.stdout
  if args[1] then out = assert(io.open(args[1], "wb")) end
  out:write(record(function(name) return name end))
  local n = 0
  for s in client:sessions(query) do
    out:write(record(function(name) return s[name] end))
    n = n + 1
  end
  if out ~= io.stdout then out:close() end
  io.stderr:write(("%d rejected %s sessions created after %s and before %s\n")
    :format(n, client.provider, query.created_after, query.created_before))
  return 0
end))
