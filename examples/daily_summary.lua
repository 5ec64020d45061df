--- A daily outcome summary per workflow: for each UTC day of the last N days
-- (7 by default, the day of NOW being the last), the outcome counts of the
-- sessions created that day, per workflow, then the day's total.
--
--     lua5.4 examples/daily_summary.lua [--provider P] [--now ISO-8601] [--days N]
--
-- One listing covers the whole window (from midnight UTC of the first day to
-- NOW); the sessions are put in their day, and wfs.summarize counts each day's
-- outcomes by workflow ("none": no outcome yet, or none given). Without
-- credentials it runs against a throwaway sandbox (see common.lua), whose dates
-- are fixed: there NOW defaults to just after its newest session.
package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;" .. package.path
local wfs = require "wfsession"
local common = require "common"

local USAGE = "daily_summary.lua [--provider P] [--now ISO-8601] [--days N]"
local ROW = "%-10s  %-44s %6s %9s %9s %16s %5s\n"

--- A session's workflow: its name, else its id (IDnow flows have no name).
local function workflow(s) return s.workflow_name or s.workflow_id end

--- One line of counts for the summary `g` of some sessions.
local function line(day, name, g)
  local o = g.by_outcome
  local decided = (o.approved or 0) + (o.rejected or 0) + (o.needs_attention or 0)
  io.write(ROW:format(day, name, g.total, o.approved or 0, o.rejected or 0, o.needs_attention or 0,
                      g.total - decided))
end

local args = common.args(arg, { provider = "string", now = "time", days = "number" }, USAGE)

os.exit(common.run(args.provider, function(client, sb)
  local now = common.now(client, args.now, sb)
  local days = args.days or 7
  local first = (math.floor(now / 86400) - days + 1) * 86400     -- midnight UTC of the first day
  -- both bounds are exclusive: a millisecond before midnight takes a session created at 00:00:00.000
  local sessions_of = {}
  for s in client:sessions{ created_after = common.iso(first - 0.001), created_before = common.iso(now) } do
    local day = os.date("!%Y-%m-%d", math.floor(wfs.time(s.created_at)))
    sessions_of[day] = sessions_of[day] or {}
    table.insert(sessions_of[day], s)
  end
  io.write(ROW:format("day", "workflow", "total", "approved", "rejected", "needs_attention", "none"))
  for d = 0, days - 1 do
    local day = os.date("!%Y-%m-%d", first + d * 86400)
    local sum = wfs.summarize(sessions_of[day] or {}, { by = workflow })
    local names = {}
    for name in pairs(sum.groups) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do line(day, name, sum.groups[name]) end
    line(day, "(all)", sum)
  end
  io.stderr:write(("%s sessions created from %s to %s (UTC)\n"):format(client.provider, common.iso(first),
                                                                     common.iso(now)))
  return 0
end))
