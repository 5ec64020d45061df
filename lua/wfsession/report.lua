--- An HTML report of workflow-session summaries, for `wfsession summary --html`.
--
-- Pure Lua; runs on Lua 5.1 to 5.4 and LuaJIT. `html` turns the summaries
-- of up to three providers (what `wfsession.summarize(list, { by =
-- "workflow_name" })` returns) and their completion times into one
-- self-contained HTML5 document: inline CSS and inline SVG only, no script
-- and no URL of any kind, so the file renders offline. Per provider: the
-- outcomes per workflow as stacked bars, a histogram of completion times
-- and a table of approval rates.
--
--     local report = require "wfsession.report"
--     local page = report.html{
--       title = "Workflow sessions", generated = "2026-12-02T10:00:00Z",
--       providers = { { name = "extend", summary = sum, durations = { 12.5, 60 } } },
--     }
--
-- Every number on the page is also in data attributes, for machines:
-- approval-table cells carry `data-provider`, `data-workflow` (`"*"` for
-- the provider's "all" row) and `data-field` (`total`, `approved`,
-- `rejected`, `needs_attention`, `approval_rate`; the rate cell has the raw
-- rate with 4 decimals in `data-value`, empty without a rate); histogram
-- bars `data-provider`, `data-bin` (an id of `BINS`) and `data-count`; bar
-- segments `data-provider`, `data-workflow`, `data-outcome` (`approved`,
-- `rejected`, `needs_attention`, `none`) and `data-count`.
--
-- @module wfsession.report

local summary = require "wfsession.summary"
local util = require "wfsession.util"

local type, tostring, pairs, ipairs, error = type, tostring, pairs, ipairs, error
local math_floor, math_huge, math_max = math.floor, math.huge, math.max
local math_type = math.type  -- nil before 5.3
local string_format, string_byte, string_sub = string.format, string.byte, string.sub
local table_concat, table_sort = table.concat, table.sort

local R = {}

-- the outcome segments of a bar, in order; "none" is total minus the three
local OUTCOMES = { "approved", "rejected", "needs_attention", "none" }
local OUTCOME_LABEL = { approved = "approved", rejected = "rejected", needs_attention = "needs attention",
                        none = "no outcome" }
local FILL = { approved = "#2f9e62", rejected = "#d9473f", needs_attention = "#f0b429", none = "#c3cad5" }
-- label colors inside a segment (contrast with its fill)
local INK = { approved = "#ffffff", rejected = "#ffffff", needs_attention = "#3d2c00", none = "#1d2433" }
local HIST_FILL = "#4f6bed"

-- completion-time bins: [lo, hi) seconds
local BINS = {
  { id = "lt_1m", label = "< 1 min", lo = 0, hi = 60 },
  { id = "1m_5m", label = "1\226\128\1475 min", lo = 60, hi = 300 },
  { id = "5m_15m", label = "5\226\128\14715 min", lo = 300, hi = 900 },
  { id = "15m_1h", label = "15\226\128\14760 min", lo = 900, hi = 3600 },
  { id = "1h_4h", label = "1\226\128\1474 h", lo = 3600, hi = 14400 },
  { id = "4h_1d", label = "4\226\128\14724 h", lo = 14400, hi = 86400 },
  { id = "ge_1d", label = "\226\137\165 1 day", lo = 86400, hi = math_huge },
}

local PROVIDER_LABEL = { complycube = "ComplyCube", idnow = "IDnow", extend = "Extend" }
local MAX_PROVIDERS = 3
local MAX_BARS = 40        -- workflows drawn as bars; the table lists them all
local LABEL_CHARS = 34     -- workflow names in the bar chart are cut after this many characters
local DASH = "\226\128\147"  -- shown for a missing approval rate

--- Fill colors of the bar segments, by outcome (`approved`, `rejected`,
-- `needs_attention`, `none`), and `histogram` for the histogram bars; each
-- `"#rrggbb"`. A copy: changing it changes no report.
R.COLORS = { histogram = HIST_FILL }
for k, v in pairs(FILL) do R.COLORS[k] = v end

--- The completion-time bins of the histogram, in order: an array of
-- `{ id, label, lo, hi }`, a duration `d` falls in the bin where
-- `lo <= d < hi` (seconds; the last `hi` is `math.huge`). A copy.
R.BINS = {}
for i, b in ipairs(BINS) do R.BINS[i] = { id = b.id, label = b.label, lo = b.lo, hi = b.hi } end

--[[
** Text. Strings from data are made valid UTF-8 (a bad byte becomes
** U+FFFD), control characters other than tab and newline become U+FFFD,
** and the five HTML specials become character references: the result is
** safe in element content and in a double- or single-quoted attribute.
]]
local REPLACEMENT = "\239\191\189"

-- length of the valid UTF-8 sequence at i, or nil
local function utf8_len(s, i, c)
  local len, lo, hi
  if c >= 0xC2 and c <= 0xDF then len, lo, hi = 2, 0x80, 0xBF
  elseif c == 0xE0 then len, lo, hi = 3, 0xA0, 0xBF
  elseif c == 0xED then len, lo, hi = 3, 0x80, 0x9F
  elseif c >= 0xE1 and c <= 0xEF then len, lo, hi = 3, 0x80, 0xBF
  elseif c == 0xF0 then len, lo, hi = 4, 0x90, 0xBF
  elseif c >= 0xF1 and c <= 0xF3 then len, lo, hi = 4, 0x80, 0xBF
  elseif c == 0xF4 then len, lo, hi = 4, 0x80, 0x8F
  else return nil end
  local b = string_byte(s, i + 1)
  if not b or b < lo or b > hi then return nil end
  for k = 2, len - 1 do
    b = string_byte(s, i + k)
    if not b or b < 0x80 or b > 0xBF then return nil end
  end
  return len
end

local function valid_utf8(s)
  if not s:find("[\128-\255]") then return s end
  local out, start, i, n = {}, 1, 1, #s
  while i <= n do
    local c = string_byte(s, i)
    if c < 0x80 then
      i = i + 1
    else
      local len = utf8_len(s, i, c)
      if len then
        i = i + len
      else
        out[#out + 1] = string_sub(s, start, i - 1)
        out[#out + 1] = REPLACEMENT
        i = i + 1
        start = i
      end
    end
  end
  out[#out + 1] = string_sub(s, start)
  return table_concat(out)
end

local SPECIAL = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }

local function clean(v)
  local s = valid_utf8(tostring(v))
  return (s:gsub("[%z\1-\8\11-\31\127]", REPLACEMENT))
end

local function esc(v)
  return (clean(v):gsub("[&<>\"']", SPECIAL))
end

--- Escape a value for HTML element content or a quoted attribute.
-- `tostring(v)`, made valid UTF-8 (a bad byte becomes U+FFFD), control
-- characters other than tab and newline replaced by U+FFFD, and `& < > " '`
-- written as character references.
-- @param v any value
-- @treturn string
function R.escape(v) return esc(v) end

-- at most `max` UTF-8 characters of a cleaned string, "…" when cut
local function cut(s, max)
  local n, out = 0, {}
  for ch in s:gmatch("[^\128-\191][\128-\191]*") do
    n = n + 1
    if n > max then
      out[max] = "\226\128\166"
      return table_concat(out), true
    end
    out[n] = ch
  end
  return s, false
end

--[[
** Numbers. A count is a finite number >= 0; anything else (nil, NaN, a
** negative number, a string) counts as 0, so odd data draws as empty.
]]
local function count(v)
  if not util.is_finite(v) or v < 0 then return 0 end
  return v
end

-- the text of a count: integers exactly, other values with 15 digits
local function num(v)
  if math_type and math_type(v) == "integer" then return tostring(v) end
  if v == math_floor(v) and v < 2 ^ 53 then return string_format("%.0f", v) end
  return string_format("%.15g", v)
end

-- a coordinate: 2 decimals, no "-0.00"
local function coord(v)
  local s = string_format("%.2f", v)
  if s == "-0.00" then s = "0.00" end
  return (s:gsub("%.?0+$", ""))
end

-- a rate (finite number) or nil
local function rate_of(v)
  if not util.is_finite(v) then return nil end
  return v
end

local function pct(rate)
  if rate == nil then return DASH end
  return string_format("%.1f%%", rate * 100)
end

--- The index in `BINS` of a completion time, or nil for a value that is
-- not a finite number >= 0.
-- @tparam number secs seconds
-- @treturn ?int
function R.bin(secs)
  if not util.is_finite(secs) or secs < 0 then return nil end
  for i = #BINS, 1, -1 do
    if secs >= BINS[i].lo then return i end
  end
  return nil
end

--[[
** Data. The counts of a summary (or group) table, read defensively.
]]
local function tbl(v)
  if type(v) == "table" then return v end
  return {}
end

-- { total, approved, rejected, needs_attention, none, rate } of a summary table
local function counts_of(sum)
  sum = tbl(sum)
  local oc = tbl(sum.by_outcome)
  local c = { total = count(sum.total), approved = count(oc.approved), rejected = count(oc.rejected),
              needs_attention = count(oc.needs_attention), rate = rate_of(sum.approval_rate) }
  -- what the three leave of the total (0 when the data says more than the total);
  -- clamped at each step, so integers cannot wrap
  local rest = c.total
  for _, k in ipairs({ "approved", "rejected", "needs_attention" }) do
    rest = rest - c[k]
    if rest < 0 then rest = 0 end
  end
  c.none = rest
  return c
end

local function key_less(a, b)
  local sa, sb = tostring(a.key), tostring(b.key)
  if sa ~= sb then return sa < sb end
  return type(a.key) < type(b.key)
end

-- the groups of a summary as { key, c } sorted by total (descending), then by name
local function workflows(sum)
  local list = {}
  local groups = tbl(tbl(sum).groups)
  for key, g in pairs(groups) do
    list[#list + 1] = { key = key, c = counts_of(g) }
  end
  table_sort(list, function(a, b)
    if a.c.total ~= b.c.total then return a.c.total > b.c.total end
    return key_less(a, b)
  end)
  return list
end

-- { [bin index] = count }, the number binned and the number skipped
local function histogram(durations)
  local counts, n, skipped = {}, 0, 0
  for i = 1, #BINS do counts[i] = 0 end
  if type(durations) == "table" then
    for i = 1, #durations do
      local b = R.bin(durations[i])
      if b then
        counts[b] = counts[b] + 1
        n = n + 1
      else
        skipped = skipped + 1
      end
    end
  end
  return counts, n, skipped
end

--[[
** Rendering. Each piece appends strings to `out`.
]]
local CSS = [[
:root{--bg:#f5f6f8;--card:#fff;--ink:#1d2433;--muted:#667085;--line:#e4e7ec}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
.top,main,footer{max-width:1120px;margin:0 auto;padding:24px 24px 0}
h1{font-size:26px;margin:0 0 2px;letter-spacing:-.01em}
h2{font-size:19px;margin:0}
h3{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);margin:0 0 10px}
.meta,.sub,.note{color:var(--muted);margin:0}
.totals{display:flex;flex-wrap:wrap;gap:12px;list-style:none;padding:0;margin:16px 0 0}
.totals li{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:10px 16px;min-width:190px}
.totals a{color:inherit;text-decoration:none;font-weight:600}
.totals .n{display:block;font-size:24px;font-weight:650;font-variant-numeric:tabular-nums}
section{margin:0 0 28px}
.head{display:flex;align-items:baseline;gap:12px;flex-wrap:wrap;margin:0 0 12px}
.grid{display:grid;grid-template-columns:minmax(0,2fr) minmax(0,3fr);gap:16px}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:16px 18px;min-width:0;
box-shadow:0 1px 2px rgba(16,24,40,.05)}
.wide{grid-column:1/-1}
svg{display:block;width:100%;height:auto;overflow:visible}
svg text{font-family:inherit;font-size:12px;fill:var(--ink)}
svg .muted{fill:var(--muted)}
svg .small{font-size:10.5px}
.legend{display:flex;flex-wrap:wrap;gap:6px 16px;list-style:none;padding:0;margin:0 0 10px;color:var(--muted)}
.legend i{display:inline-block;width:11px;height:11px;border-radius:3px;margin-right:6px;vertical-align:-1px}
table{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:6px 8px;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left;white-space:normal;overflow-wrap:break-word}
thead th{font-size:12px;font-weight:600;color:var(--muted);white-space:normal;vertical-align:bottom}
tfoot td{font-weight:650;border-top:2px solid var(--line);border-bottom:0}
.empty{color:var(--muted);text-align:center;padding:40px 0;margin:0}
footer{color:var(--muted);font-size:12px;padding-bottom:24px}
@media (max-width:860px){.grid{grid-template-columns:1fr}}
]]

local function attrs(provider, workflow)
  local s = ' data-provider="' .. esc(provider) .. '"'
  if workflow ~= nil then s = s .. ' data-workflow="' .. esc(workflow) .. '"' end
  return s
end

local function legend(out)
  out[#out + 1] = '<ul class="legend">'
  for _, k in ipairs(OUTCOMES) do
    out[#out + 1] = '<li><i style="background:' .. FILL[k] .. '"></i>' .. OUTCOME_LABEL[k] .. '</li>'
  end
  out[#out + 1] = '</ul>'
end

-- chart geometry (SVG user units; the chart scales to its card)
local BAR = { width = 1040, label = 268, x = 280, span = 680, row = 30, height = 20, top = 4, min = 2 }

local function bars(out, provider, rows, all)
  out[#out + 1] = '<div class="card wide"><h3>Outcomes per workflow</h3>'
  if #rows == 0 and all.total == 0 then
    out[#out + 1] = '<p class="empty">No sessions.</p></div>'
    return
  end
  legend(out)
  if #rows == 0 then rows = { { key = "*", label = "all sessions", c = all } } end
  local shown = #rows
  if shown > MAX_BARS then shown = MAX_BARS end
  -- the longest bar spans the chart; every other bar is to its scale
  local scale = 0
  for i = 1, shown do
    local c, len = rows[i].c, 0
    for _, k in ipairs(OUTCOMES) do len = len + c[k] * 1.0 end
    if len > scale then scale = len end
  end
  local h = BAR.top * 2 + shown * BAR.row
  out[#out + 1] = string_format('<svg viewBox="0 0 %d %d" role="img" aria-label="Outcomes per workflow">',
                                BAR.width, h)
  for i = 1, shown do
    local row = rows[i]
    local c = row.c
    local y = BAR.top + (i - 1) * BAR.row
    local mid = coord(y + BAR.height / 2 + 4)
    local name = clean(row.label or row.key)
    local short, was_cut = cut(name, LABEL_CHARS)
    out[#out + 1] = string_format('<text x="%d" y="%s" text-anchor="end">%s%s</text>', BAR.label, mid,
                                  was_cut and "<title>" .. esc(name) .. "</title>" or "", esc(short))
    local x = BAR.x
    for _, k in ipairs(OUTCOMES) do
      local n = c[k]
      local w = 0
      if n > 0 and scale > 0 then w = math_max(BAR.min, n / scale * BAR.span) end
      out[#out + 1] = string_format('<rect x="%s" y="%d" width="%s" height="%d" fill="%s"%s data-outcome="%s"'
        .. ' data-count="%s"><title>%s: %s</title></rect>', coord(x), y, coord(w), BAR.height, FILL[k],
        attrs(provider, row.key), k, num(n), OUTCOME_LABEL[k], num(n))
      local text = num(n)
      if n > 0 and w >= #text * 7 + 8 then
        out[#out + 1] = string_format('<text x="%s" y="%s" text-anchor="middle" style="fill:%s">%s</text>',
                                      coord(x + w / 2), mid, INK[k], text)
      end
      x = x + w
    end
    out[#out + 1] = string_format('<text x="%s" y="%s" class="muted">%s</text>', coord(x + 8), mid, num(c.total))
  end
  out[#out + 1] = '</svg>'
  if #rows > shown then
    out[#out + 1] = string_format('<p class="note">%d more workflows are in the table.</p>', #rows - shown)
  end
  out[#out + 1] = '</div>'
end

-- histogram geometry
local HIST = { width = 400, height = 220, left = 4, right = 4, top = 20, base = 186, fill = 0.7, min = 2 }

local function hist(out, provider, durations, completion)
  out[#out + 1] = '<div class="card"><h3>Completion time</h3>'
  local counts, n, skipped = histogram(durations)
  if n == 0 then
    out[#out + 1] = '<p class="empty">No completion times (no session has both created_at and completed_at).</p>'
  else
    local maxc = 0
    for i = 1, #BINS do if counts[i] > maxc then maxc = counts[i] end end
    local slot = (HIST.width - HIST.left - HIST.right) / #BINS
    local bw = slot * HIST.fill
    local room = HIST.base - HIST.top - 4
    out[#out + 1] = string_format('<svg viewBox="0 0 %d %d" role="img" aria-label="Completion time histogram">',
                                  HIST.width, HIST.height)
    for i, b in ipairs(BINS) do
      local c = counts[i]
      local bh = 0
      if c > 0 then bh = math_max(HIST.min, c / maxc * room) end
      local cx = HIST.left + (i - 0.5) * slot
      out[#out + 1] = string_format('<rect x="%s" y="%s" width="%s" height="%s" rx="3" fill="%s"%s data-bin="%s"'
        .. ' data-count="%d"><title>%s: %d</title></rect>', coord(cx - bw / 2), coord(HIST.base - bh),
        coord(bw), coord(bh), HIST_FILL, attrs(provider), b.id, c, esc(b.label), c)
      out[#out + 1] = string_format('<text x="%s" y="%s" text-anchor="middle"%s>%d</text>', coord(cx),
                                    coord(HIST.base - bh - 6), c == 0 and ' class="muted"' or "", c)
      out[#out + 1] = string_format('<text x="%s" y="%d" text-anchor="middle" class="muted small">%s</text>', coord(cx),
                                    HIST.base + 18, esc(b.label))
    end
    out[#out + 1] = string_format('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#d0d5dd"/>', HIST.left,
                                  HIST.base, HIST.width - HIST.right, HIST.base)
    out[#out + 1] = '</svg>'
    local cs = tbl(completion)
    local facts = { string_format("%d completion time%s", n, n == 1 and "" or "s") }
    for _, p in ipairs({ "p50", "p90", "max" }) do
      if type(cs[p]) == "number" then facts[#facts + 1] = p .. " " .. esc(summary.duration(cs[p])) end
    end
    out[#out + 1] = '<p class="note">' .. table_concat(facts, " \194\183 ") .. '</p>'
  end
  if skipped > 0 then
    out[#out + 1] = string_format('<p class="note">%d duration%s skipped (negative or not a finite number).</p>',
                                  skipped, skipped == 1 and "" or "s")
  end
  out[#out + 1] = '</div>'
end

local FIELDS = { "total", "approved", "rejected", "needs_attention" }

local function table_row(out, provider, key, label, c)
  out[#out + 1] = '<tr><td>' .. esc(label) .. '</td>'
  local a = attrs(provider, key)
  for _, f in ipairs(FIELDS) do
    out[#out + 1] = '<td' .. a .. ' data-field="' .. f .. '">' .. num(c[f]) .. '</td>'
  end
  out[#out + 1] = '<td' .. a .. ' data-field="approval_rate" data-value="'
    .. (c.rate and string_format("%.4f", c.rate) or "") .. '">' .. pct(c.rate) .. '</td></tr>'
end

local function rates(out, provider, rows, all)
  out[#out + 1] = '<div class="card"><h3>Approval rate</h3><table><thead><tr><th>Workflow</th><th>Total</th>'
    .. '<th>Approved</th><th>Rejected</th><th>Needs attention</th><th>Approval rate</th></tr></thead><tbody>'
  for _, row in ipairs(rows) do table_row(out, provider, row.key, row.key, row.c) end
  out[#out + 1] = '</tbody><tfoot>'
  table_row(out, provider, "*", "all", all)
  out[#out + 1] = '</tfoot></table></div>'
end

local function display_name(name)
  return PROVIDER_LABEL[name] or name
end

local function section(out, i, p)
  local all = counts_of(p.summary)
  local rows = workflows(p.summary)
  local facts = { num(all.total) .. " sessions" }
  if #rows > 0 then facts[#facts + 1] = #rows .. (#rows == 1 and " workflow" or " workflows") end
  facts[#facts + 1] = "approval rate " .. pct(all.rate)
  out[#out + 1] = string_format('<section id="provider-%d"%s><div class="head"><h2>%s</h2><p class="sub">%s</p>'
    .. '</div><div class="grid">', i, attrs(p.name), esc(display_name(p.name)), table_concat(facts, " \194\183 "))
  bars(out, p.name, rows, all)
  hist(out, p.name, p.durations, tbl(p.summary).completion_seconds)
  rates(out, p.name, rows, all)
  out[#out + 1] = '</div></section>'
end

--[[
** Arguments.
]]
local OPTION = { title = true, generated = true, providers = true }
local PROVIDER_KEY = { name = true, summary = true, durations = true }

-- nil, or the message of the first argument error
local function check(opts)
  if type(opts) ~= "table" then
    return "wfsession.report: 'html' expects a table of options, got " .. type(opts)
  end
  for k in pairs(opts) do
    if not OPTION[k] then return "wfsession.report: unknown option '" .. clean(k) .. "'" end
  end
  for _, k in ipairs({ "title", "generated" }) do
    if opts[k] ~= nil and type(opts[k]) ~= "string" then
      return "wfsession.report: '" .. k .. "' must be a string, got " .. type(opts[k])
    end
  end
  local ps = opts.providers
  local n = type(ps) == "table" and #ps or 0
  local keys = 0
  if type(ps) == "table" then
    for _ in pairs(ps) do keys = keys + 1 end
  end
  if n < 1 or n > MAX_PROVIDERS or keys ~= n then
    return "wfsession.report: 'providers' must be an array of 1 to " .. MAX_PROVIDERS
      .. " provider tables, got " .. (type(ps) == "table" and (keys ~= n and "a table that is not an array"
      or n .. " entries") or type(ps))
  end
  local seen = {}
  for i = 1, n do
    local p, where = ps[i], "'providers[" .. i .. "]"
    if type(p) ~= "table" then return "wfsession.report: " .. where .. "' must be a table, got " .. type(p) end
    for k in pairs(p) do
      if not PROVIDER_KEY[k] then
        return "wfsession.report: " .. where .. "' has an unknown key '" .. clean(k) .. "'"
      end
    end
    if type(p.name) ~= "string" or p.name == "" then
      return "wfsession.report: " .. where .. ".name' must be a non-empty string"
    end
    if seen[p.name] then return "wfsession.report: " .. where .. ".name' repeats '" .. clean(p.name) .. "'" end
    seen[p.name] = true
    if type(p.summary) ~= "table" then
      return "wfsession.report: " .. where .. ".summary' must be a summary table, got " .. type(p.summary)
    end
    if p.durations ~= nil and type(p.durations) ~= "table" then
      return "wfsession.report: " .. where .. ".durations' must be an array of seconds, got " .. type(p.durations)
    end
  end
  return nil
end

--- Render the report: one complete, self-contained HTML5 document.
-- A header with the title, the generated time and each provider's totals;
-- then a section per provider, in the order given: its outcomes per
-- workflow as stacked bars (one bar per group of `summary.groups`, largest
-- first then by name, at most 40; segments approved, rejected,
-- needs_attention and none = total minus the three), a histogram of
-- `durations` in the bins of `BINS` (values that are not finite numbers
-- >= 0 are skipped and counted in a note), and the approval-rate table (a
-- row per group and an "all" row from the summary itself). Odd data draws
-- as empty rather than raising: a count that is not a finite number >= 0
-- counts as 0, a non-finite approval rate is shown as missing.
-- @tparam table opts
--   `title` (optional string, default "Workflow sessions"),
--   `generated` (optional string shown in the header),
--   `providers`: an array of 1 to 3 tables `{ name = string, summary = table,
--   durations = array of seconds (optional) }`, names unique; `summary` as
--   returned by `wfsession.summarize(list, { by = "workflow_name" })`
-- @treturn string the HTML document
-- @raise on a bad argument, naming it
function R.html(opts)
  local msg = check(opts)
  if msg then error(msg, 2) end
  local title = opts.title or "Workflow sessions"
  local out = {
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
    '<meta name="color-scheme" content="light">',
    '<title>' .. esc(title) .. '</title>\n<style>\n' .. CSS .. '</style></head>\n<body>',
    '<header class="top"><h1>' .. esc(title) .. '</h1>',
  }
  if opts.generated then
    out[#out + 1] = '<p class="meta">Generated <time>' .. esc(opts.generated) .. '</time></p>'
  end
  out[#out + 1] = '<ul class="totals">'
  for i, p in ipairs(opts.providers) do
    local c = counts_of(p.summary)
    out[#out + 1] = string_format('<li><a href="#provider-%d">%s</a><span class="n"%s data-total="%s">%s</span>'
      .. '<span class="meta">sessions \194\183 approval rate %s</span></li>', i, esc(display_name(p.name)),
      attrs(p.name), num(c.total), num(c.total), pct(c.rate))
  end
  out[#out + 1] = '</ul></header>\n<main>'
  for i, p in ipairs(opts.providers) do
    section(out, i, p)
    out[#out + 1] = "\n"
  end
  out[#out + 1] = '</main><footer>wfsession report</footer></body></html>\n'
  return table_concat(out)
end

return R
