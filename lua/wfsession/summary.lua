--- Summaries of a set of sessions: counts, approval rate, completion times.
--
-- Pure Lua; runs on Lua 5.1 to 5.4 and LuaJIT. The source is read once,
-- item by item (a pager, an iterator function or an array, as in
-- `wfsession.filter`); only the completion times are kept, to compute
-- percentiles.
--
--     local sum = summary.summarize(client:sessions{}, { by = "workflow_name" })
--     print(sum:format())
--
-- @module wfsession.summary

local util = require "wfsession.util"
local is_callable = util.is_callable

local F = require "wfsession.filter"

local type, tostring, pairs, ipairs, next, error, pcall, setmetatable =
      type, tostring, pairs, ipairs, next, error, pcall, setmetatable
local math_floor, math_ceil, math_huge = math.floor, math.ceil, math.huge
local table_sort, table_concat = table.sort, table.concat
local string_rep, string_format = string.rep, string.format

local S = {}

-- the order a person expects: the life of a session, then the verdicts
-- (the core's vocabularies, in their order: looked up on first use, like
-- the core's time parser in wfsession.filter)
local vocabulary
local function vocabularies()
  if not vocabulary then
    local core = require "wfsession.core"
    vocabulary = { core.STATUSES, core.OUTCOMES }
  end
  return vocabulary[1], vocabulary[2]
end

--- Group name of sessions whose `by` key is nil.
S.NONE = "(none)"

local MAXLINE = 99       -- format() keeps every line shorter than 100 columns
local MAXLABEL = 40      -- longest status/outcome label shown

local Summary = { __name = "wfsession.summary" }
Summary.__index = Summary

-- a field of an item read like a table; nil for items that cannot be indexed
local function field(s, k)
  local t = type(s)
  if t == "table" or t == "userdata" then return s[k] end
  return nil
end

-- a status or outcome as a table key
local function label(v)
  if v == nil or type(v) == "string" then return v end
  return tostring(v)
end

local function new_acc()
  return { total = 0, decided = 0, by_status = {}, by_outcome = {}, durations = {} }
end

local function add(acc, status, outcome, secs)
  acc.total = acc.total + 1
  if status ~= nil then acc.by_status[status] = (acc.by_status[status] or 0) + 1 end
  if outcome ~= nil then
    acc.by_outcome[outcome] = (acc.by_outcome[outcome] or 0) + 1
    acc.decided = acc.decided + 1
  end
  if secs then acc.durations[#acc.durations + 1] = secs end
end

-- nearest-rank percentile of a sorted array: the value at rank ceil(p/100 * n)
local function percentile(sorted, p)
  -- p * n is exact for integer p, so the division cannot round across an integer
  local rank = math_ceil(p * #sorted / 100)
  if rank < 1 then rank = 1 end
  return sorted[rank]
end

local function finish(acc)
  local d = acc.durations
  table_sort(d)
  local completion = {}
  if #d > 0 then
    completion.p50 = percentile(d, 50)
    completion.p90 = percentile(d, 90)
    completion.p99 = percentile(d, 99)
    completion.max = d[#d]
  end
  local rate
  if acc.decided > 0 then rate = (acc.by_outcome.approved or 0) / acc.decided end
  return setmetatable({
    total = acc.total,
    by_status = acc.by_status,
    by_outcome = acc.by_outcome,
    approval_rate = rate,
    completion_seconds = completion,
  }, Summary)
end

--- Seconds from `created_at` to `completed_at`, when both parse and are in
-- order (what the completion percentiles count).
-- @local
-- @tparam table s a session
-- @treturn ?number
local function completion_time(s)
  local done = field(s, "completed_at")
  if done == nil then return nil end
  local created = field(s, "created_at")
  if created == nil then return nil end
  local t1, t0 = F.epoch(done), F.epoch(created)
  if not (t1 and t0) or t1 < t0 then return nil end
  return t1 - t0
end
S.completion_time = completion_time

--- Summarize sessions.
-- `by_status[st]` and `by_outcome[oc]` count sessions (a session without an
-- outcome is counted in `total` only); `approval_rate` is
-- `by_outcome.approved / (sessions with an outcome)`, nil when none has
-- one; `completion_seconds` holds nearest-rank percentiles (rank =
-- ceil(p/100 * n)) of `completed_at - created_at` over the sessions where
-- both parse (a negative difference is ignored), each nil without data.
-- With `opts.by`, `groups[key]` is the summary of the sessions with that
-- key (without its own `groups`); a nil key goes to group `"(none)"`.
-- Without `by`, `groups` is empty.
-- @function summarize
-- @param x a pager, an iterator function or an array of sessions
-- @tparam[opt] table opts `by`: a field name, or a function(session) -> key
-- @treturn table `{ total, by_status, by_outcome, approval_rate, groups,
--   completion_seconds = { p50, p90, p99, max } }`, with a `format` method
--   (also its `__tostring`); `by` is set to the field name when grouped by one
-- @raise on a bad argument; from the source, as `wfsession.filter` does
function S.summarize(x, opts)
  local ok, src = pcall(F.iterator, x)
  if not ok then error((tostring(src):gsub("'iterator'", "'summarize'")), 2) end
  local by
  if opts ~= nil then
    if type(opts) ~= "table" then
      error("bad argument #2 to 'summarize' (options table expected, got " .. type(opts) .. ")", 2)
    end
    for k in pairs(opts) do
      if k ~= "by" then
        error("bad argument #2 to 'summarize' (unknown option '" .. tostring(k) .. "')", 2)
      end
    end
    by = opts.by
    if by ~= nil and not is_callable(by) and (type(by) ~= "string" or by == "") then
      error("bad argument #2 to 'summarize' (by: field name or function expected, got "
            .. (by == "" and "an empty string" or type(by)) .. ")", 2)
    end
  end

  local all = new_acc()
  local groups = {}
  -- bounded by the source: one item per pass (a plain call, not a generic
  -- for, so that a pager may yield inside a task of wfs.multi on Lua 5.1)
  while true do
    local s = src()
    if s == nil then break end
    local status, outcome = label(field(s, "status")), label(field(s, "outcome"))
    local secs = completion_time(s)
    add(all, status, outcome, secs)
    if by ~= nil then
      local key
      if type(by) == "string" then key = field(s, by) else key = by(s) end
      if key == nil or key ~= key then key = S.NONE end  -- NaN cannot be a table key
      local acc = groups[key]
      if not acc then
        acc = new_acc()
        groups[key] = acc
      end
      add(acc, status, outcome, secs)
    end
  end

  local sum = finish(all)
  sum.groups = {}
  for key, acc in pairs(groups) do sum.groups[key] = finish(acc) end
  if type(by) == "string" then sum.by = by end
  return sum
end

--- A duration for people: `45s`, `2m10s`, `3h04m`, `2d03h`.
-- Below ten seconds a fraction is shown with one decimal (`2.5s`); above,
-- the value is rounded to the unit shown.
-- @function duration
-- @tparam number secs seconds (>= 0)
-- @treturn string the duration, or `"-"` for nil or a value that is not
--   a finite number >= 0
function S.duration(secs)
  if type(secs) ~= "number" or not (secs >= 0 and secs < math_huge) then return "-" end
  if secs < 9.95 and secs ~= math_floor(secs) then return string_format("%.1fs", secs) end
  local s = math_floor(secs + 0.5)
  if s < 60 then return string_format("%ds", s) end
  if s < 3600 then return string_format("%dm%02ds", math_floor(s / 60), s % 60) end
  local m = math_floor(s / 60 + 0.5)
  if m < 1440 then return string_format("%dh%02dm", math_floor(m / 60), m % 60) end
  local h = math_floor(m / 60 + 0.5)
  return string_format("%.0fd%02dh", math_floor(h / 24), h % 24)
end

--[[
** Text layout. Widths count UTF-8 characters, not bytes, so a workflow
** named "Vérification" lines up; control characters in names from the
** provider are replaced so that one name cannot break the table.
]]
local function width(s)
  local _, n = s:gsub("[^\128-\191]", "")
  return n
end

local function clean(v, max)
  local s = tostring(v):gsub("%c", "?")
  if width(s) <= max then return s end
  local out, n = {}, 0
  for ch in s:gmatch("[^\128-\191][\128-\191]*") do
    if n >= max - 3 then break end
    n = n + 1
    out[n] = ch
  end
  return table_concat(out) .. "..."
end

local function pct(n, total)
  if not total or total == 0 then return "-" end
  return string_format("%.1f%%", n / total * 100)
end

--[[
** Render rows of cells as aligned lines: column i is left-aligned when
** align[i] is "l", right-aligned otherwise; the last cell of a row is not
** padded on the right, so no line ends in blanks.
]]
local function render(rows, align, out)
  local w = {}
  for _, row in ipairs(rows) do
    for i, cell in ipairs(row) do
      local n = width(cell)
      if not w[i] or n > w[i] then w[i] = n end
    end
  end
  for _, row in ipairs(rows) do
    local parts = {}
    for i, cell in ipairs(row) do
      local pad = string_rep(" ", w[i] - width(cell))
      if align[i] == "l" then
        parts[i] = i == #row and cell or cell .. pad
      else
        parts[i] = pad .. cell
      end
    end
    out[#out + 1] = table_concat(parts, "  ")
  end
end

-- keys of `counts`: the known ones in their order, then the others sorted
local function ordered(counts, known)
  local keys, seen = {}, {}
  for _, k in ipairs(known) do
    if counts[k] then
      keys[#keys + 1] = k
      seen[k] = true
    end
  end
  local rest = {}
  for k in pairs(counts) do
    if not seen[k] then rest[#rest + 1] = k end
  end
  table_sort(rest, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(rest) do keys[#keys + 1] = k end
  return keys
end

local function count_block(rows, title, counts, known, total, first)
  rows[#rows + 1] = first and { title, "count", "share" } or { title }
  local counted = 0
  for _, k in ipairs(ordered(counts, known)) do
    counted = counted + counts[k]
    rows[#rows + 1] = { "  " .. clean(k, MAXLABEL), tostring(counts[k]), pct(counts[k], total) }
  end
  if counted < total then
    rows[#rows + 1] = { "  " .. S.NONE, tostring(total - counted), pct(total - counted, total) }
  end
end

local function group_table(sum, out)
  local names = {}
  for key in pairs(sum.groups) do names[#names + 1] = key end
  if #names == 0 then return end
  table_sort(names, function(a, b)
    local ta, tb = sum.groups[a].total, sum.groups[b].total
    if ta ~= tb then return ta > tb end
    return tostring(a) < tostring(b)
  end)

  local header = { sum.by and "by " .. sum.by or "group", "total", "approved", "rejected",
                   "needs_attention", "approval", "p50" }
  local rows = { header }
  for _, key in ipairs(names) do
    local g = sum.groups[key]
    rows[#rows + 1] = { key, tostring(g.total), tostring(g.by_outcome.approved or 0),
                        tostring(g.by_outcome.rejected or 0), tostring(g.by_outcome.needs_attention or 0),
                        g.approval_rate and pct(g.approval_rate, 1) or "-",
                        S.duration(g.completion_seconds.p50) }
  end
  -- the name column gets what the numbers leave of the line
  local rest = 0
  for i = 2, #header do
    local w = 0
    for _, row in ipairs(rows) do
      if width(row[i]) > w then w = width(row[i]) end
    end
    rest = rest + 2 + w
  end
  local namemax = MAXLINE - rest
  if namemax < 12 then namemax = 12 end
  rows[1][1] = clean(header[1], namemax)
  for i = 2, #rows do rows[i][1] = "  " .. clean(rows[i][1], namemax - 2) end
  render(rows, { "l", "r", "r", "r", "r", "r", "r" }, out)
end

--- The summary as an aligned text table, for people.
-- A header line with the total and the approval rate; a block of counts
-- and shares per status (in life-cycle order, then others sorted) and per
-- outcome; completion-time percentiles as durations (`2m10s`); and, when
-- grouped, one row per group (largest first, then by name) with its total,
-- approved, rejected and needs_attention counts, approval rate and p50.
-- Lines stay under 100 columns (long names are cut with `...`).
-- @function format
-- @treturn string the text, lines joined with "\n", no final newline
function Summary:format()
  local total = self.total or 0
  local out = {}
  local rate
  if self.approval_rate then
    local decided = 0
    for _, n in pairs(self.by_outcome) do decided = decided + n end
    rate = string_format("%s (%d of %d with an outcome)", pct(self.approval_rate, 1),
                         self.by_outcome.approved or 0, decided)
  else
    rate = "- (no session has an outcome)"
  end
  if total == 0 then return "wfsession summary: 0 sessions" end
  out[1] = string_format("wfsession summary: %d session%s, approval rate %s",
                         total, total == 1 and "" or "s", rate)

  out[#out + 1] = ""
  local rows = {}
  local statuses, outcomes = vocabularies()
  count_block(rows, "status", self.by_status, statuses, total, true)
  count_block(rows, "outcome", self.by_outcome, outcomes, total, false)
  render(rows, { "l", "r", "r" }, out)

  out[#out + 1] = ""
  local c = self.completion_seconds or {}
  if c.p50 then
    out[#out + 1] = string_format("completion time  p50 %s  p90 %s  p99 %s  max %s",
      S.duration(c.p50), S.duration(c.p90), S.duration(c.p99), S.duration(c.max))
  else
    out[#out + 1] = "completion time  - (no session has both created_at and completed_at)"
  end

  if self.groups and next(self.groups) ~= nil then
    out[#out + 1] = ""
    group_table(self, out)
  end
  return table_concat(out, "\n")
end

Summary.__tostring = Summary.format

return S
