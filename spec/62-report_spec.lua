-- The HTML report (wfsession.report): unit tests on the string, the PNG
-- reader the spec uses, and the real thing: the sandbox's sessions of the
-- three providers summarized, rendered, drawn by headless Chromium and read
-- back (the screenshot is not blank, the DOM has summarize's numbers).
local wfs = require "wfsession"
local report = require "wfsession.report"
local helpers = require "helpers"
local png = require "png"

local CHROMIUM = "/usr/bin/chromium"
local PROVIDERS = { "complycube", "idnow", "extend" }
local HOSTILE = '<script>&"x"'
local THIS_FILE = debug.getinfo(1, "S").short_src:match("[^/]+$")

-- Shell and files --------------------------------------------------------------

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function run(cmd)
  local a, _, c = os.execute(cmd)
  if type(a) == "number" then return a == 0, a end
  return a == true and (c == nil or c == 0), c
end

local slurp, capture = helpers.slurp, helpers.capture

local function spit(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function now() return tonumber(capture("date +%s.%N")) end

-- a fresh directory under /tmp, and its removal (only what mktemp made here)
local function tmpdir()
  local d = capture("mktemp -d /tmp/wfs-report-XXXXXXXX"):gsub("%s+$", "")
  assert(d:match("^/tmp/wfs%-report%-[%w]+$"), "mktemp failed: " .. d)
  return d
end

local function rmdir(d)
  if d and d:match("^/tmp/wfs%-report%-[%w]+$") then run("rm -rf " .. q(d)) end
end

-- live (not zombie) processes of process group `pgid`
local function group_alive(pgid)
  local n = 0
  for line in capture("ps -eo pgid=,stat= 2>/dev/null"):gmatch("[^\n]+") do
    local g, stat = line:match("^%s*(%d+)%s+(%S+)")
    if tonumber(g) == pgid and not stat:find("^Z") then n = n + 1 end
  end
  return n
end

--[[
Run Chromium headless on `html` with `mode_args` (--screenshot=... or
--dump-dom), stdout to `stdout`. It runs in a session (and process group)
of its own under `timeout` (60 s, then KILL 5 s later), so that group is
everything it started: when it returns, and in a `finally` of the calling
test should anything raise, the group is waited for and what is left of
it is ended by its id; the `finally` removes the profile. Returns ok, the
log's tail, the exit code and { leftover = processes that had to be
ended, seconds = how long Chromium ran }.
]]
local function chromium(work, name, mode_args, html, stdout)
  local profile = work .. "/profile-" .. name
  local pidfile, log = work .. "/" .. name .. ".pid", work .. "/" .. name .. ".log"
  assert(run("mkdir " .. q(profile)))
  local reaped = false
  -- wait (5 s at most) for the group to empty, then end what is left; the count left
  local function reap()
    if reaped then return 0 end
    reaped = true
    local pgid = tonumber(slurp(pidfile) or "")
    if not pgid then return 0 end
    local deadline = now() + 5
    while group_alive(pgid) > 0 and now() < deadline do run("sleep 0.1") end
    local left = group_alive(pgid)
    if left > 0 then
      run("kill -TERM -- -" .. pgid .. " 2>/dev/null; sleep 1; kill -KILL -- -" .. pgid .. " 2>/dev/null")
    end
    return left
  end
  finally(function()
    reap()
    run("rm -rf " .. q(profile))
  end)
  local cmd = table.concat({
    -- (shared memory in /tmp: a container or chroot may have no /dev/shm)
    CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
    "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--user-data-dir=" .. profile, "--window-size=1280,2400", mode_args, "file://" .. html,
  }, " ")
  local inner = "echo $$ > " .. q(pidfile) .. "; exec timeout -k 5 60 " .. cmd
  local t0 = now()
  local ok, code = run("setsid -w sh -c " .. q(inner) .. " > " .. q(stdout or "/dev/null") .. " 2> " .. q(log))
  local took = now() - t0
  return ok, (slurp(log) or ""):sub(-2000), code, { leftover = reap(), seconds = took }
end

-- The page read back -------------------------------------------------------------

local ENTITY = { amp = "&", lt = "<", gt = ">", quot = '"', apos = "'", nbsp = "\194\160" }

local function utf8_char(n)
  if n < 0x80 then return string.char(n) end
  if n < 0x800 then return string.char(0xC0 + math.floor(n / 64), 0x80 + n % 64) end
  if n < 0x10000 then
    return string.char(0xE0 + math.floor(n / 4096), 0x80 + math.floor(n / 64) % 64, 0x80 + n % 64)
  end
  return string.char(0xF0 + math.floor(n / 262144), 0x80 + math.floor(n / 4096) % 64,
                     0x80 + math.floor(n / 64) % 64, 0x80 + n % 64)
end

local function unescape(s)
  return (s:gsub("&(#?)([xX]?)(%w+);", function(hash, x, name)
    if hash == "#" then return utf8_char(tonumber(name, x ~= "" and 16 or 10)) end
    return ENTITY[name] or ("&" .. name .. ";")
  end))
end

local function attributes(s)
  local a = {}
  for k, v in s:gmatch('([%w%-]+)="([^"]*)"') do a[k] = unescape(v) end
  return a
end

--[[
The machine-readable numbers of a page (our HTML or Chromium's DOM):
cells[provider][workflow][field] = { text, value }, with a count of
repeats; bins[provider][bin] = count; segments[provider][workflow][outcome]
= count; totals[provider] = header total.
]]
local function numbers(html)
  local p = { cells = {}, bins = {}, segments = {}, totals = {}, repeats = 0 }
  local function slot(t, a, b)
    t[a] = t[a] or {}
    if b == nil then return t[a] end
    t[a][b] = t[a][b] or {}
    return t[a][b]
  end
  for attrs, text in html:gmatch("<td(%s[^>]*)>(.-)</td>") do
    local a = attributes(attrs)
    if a["data-field"] then
      local c = slot(p.cells, a["data-provider"], a["data-workflow"])
      if c[a["data-field"]] then p.repeats = p.repeats + 1 end
      c[a["data-field"]] = { text = unescape(text), value = a["data-value"] }
    end
  end
  for attrs in html:gmatch("<rect(%s[^>]*)>") do
    local a = attributes(attrs)
    local n = tonumber(a["data-count"])
    if a["data-bin"] then
      local b = slot(p.bins, a["data-provider"])
      if b[a["data-bin"]] then p.repeats = p.repeats + 1 end
      b[a["data-bin"]] = n
    elseif a["data-outcome"] then
      local s = slot(p.segments, a["data-provider"], a["data-workflow"])
      if s[a["data-outcome"]] then p.repeats = p.repeats + 1 end
      s[a["data-outcome"]] = n
      local w = tonumber(a.width) or 0
      if n > 0 and w <= 0 then s.invisible = true end
    end
  end
  for attrs in html:gmatch("<span(%s[^>]*)>") do
    local a = attributes(attrs)
    if a["data-total"] then p.totals[a["data-provider"]] = tonumber(a["data-total"]) end
  end
  return p
end

local function pct(rate) return string.format("%.1f%%", rate * 100) end

-- every number the page shows for one provider equals the summary's
local function check_provider(page, name, sum, durations)
  local cells = page.cells[name]
  assert.is_table(cells, "no approval table for " .. name)
  local want = { ["*"] = sum }
  for key, g in pairs(sum.groups) do want[key] = g end
  for key, g in pairs(want) do
    local row = cells[key]
    assert.is_table(row, name .. ": no row for workflow " .. key)
    local oc = g.by_outcome
    assert.equal(g.total, tonumber(row.total.text), name .. "/" .. key .. " total")
    assert.equal(oc.approved or 0, tonumber(row.approved.text), name .. "/" .. key .. " approved")
    assert.equal(oc.rejected or 0, tonumber(row.rejected.text), name .. "/" .. key .. " rejected")
    assert.equal(oc.needs_attention or 0, tonumber(row.needs_attention.text), name .. "/" .. key .. " needs")
    local r = row.approval_rate
    if g.approval_rate == nil then
      assert.equal("", r.value)
      assert.equal("\226\128\147", r.text)
    else
      assert.near(g.approval_rate, tonumber(r.value), 0.00005 + 1e-12, name .. "/" .. key .. " rate")
      assert.equal(string.format("%.4f", g.approval_rate), r.value)
      assert.equal(pct(g.approval_rate), r.text)
    end
    if key ~= "*" then
      local seg = page.segments[name][key]
      assert.is_table(seg, name .. ": no bar for workflow " .. key)
      assert.is_nil(seg.invisible, name .. "/" .. key .. ": a non-zero segment without width")
      assert.equal(oc.approved or 0, seg.approved)
      assert.equal(oc.rejected or 0, seg.rejected)
      assert.equal(oc.needs_attention or 0, seg.needs_attention)
      assert.equal(g.total - (oc.approved or 0) - (oc.rejected or 0) - (oc.needs_attention or 0), seg.none)
    end
  end
  for key in pairs(cells) do assert.is_table(want[key], name .. ": a row for no workflow: " .. key) end
  assert.equal(sum.total, page.totals[name])

  -- the histogram: every duration in one bin, the bins as [lo, hi)
  local expect, n = {}, 0
  local edges = { 0, 60, 300, 900, 3600, 14400, 86400, math.huge }
  for _, d in ipairs(durations) do
    for i = 1, 7 do
      if d >= edges[i] and d < edges[i + 1] then
        local id = report.BINS[i].id
        expect[id] = (expect[id] or 0) + 1
        n = n + 1
      end
    end
  end
  assert.equal(#durations, n)
  local bins, sum_bins = page.bins[name] or {}, 0
  for _, b in ipairs(report.BINS) do
    if #durations > 0 then assert.equal(expect[b.id] or 0, bins[b.id], name .. " bin " .. b.id) end
    sum_bins = sum_bins + (bins[b.id] or 0)
  end
  assert.equal(#durations, sum_bins)
end

-- Fixtures -----------------------------------------------------------------------

local function group(total, a, r, na)
  local decided = a + r + na
  return { total = total, by_status = {}, by_outcome = { approved = a, rejected = r, needs_attention = na },
           approval_rate = decided > 0 and a / decided or nil, completion_seconds = {} }
end

local function summary_of(groups)
  local all = group(0, 0, 0, 0)
  for _, g in pairs(groups) do
    all.total = all.total + g.total
    for k, v in pairs(g.by_outcome) do all.by_outcome[k] = all.by_outcome[k] + v end
  end
  local decided = all.by_outcome.approved + all.by_outcome.rejected + all.by_outcome.needs_attention
  all.approval_rate = decided > 0 and all.by_outcome.approved / decided or nil
  all.groups = groups
  return all
end

local function raises(fn, text)
  local ok, msg = pcall(fn)
  assert.is_false(ok, "expected an error containing: " .. text)
  msg = tostring(msg)
  assert.truthy(msg:find(text, 1, true), "got: " .. msg)
  assert.truthy(msg:find("wfsession.report: ", 1, true), "got: " .. msg)
  assert.truthy(msg:find(THIS_FILE .. ":", 1, true), "not at the caller: " .. msg)
end

local function all_seen(html)
  local p = numbers(html)
  assert.equal(0, p.repeats)
  return p
end

-- Unit tests ----------------------------------------------------------------------

describe("report.html", function()
  local sum = summary_of{ ["KYC flow"] = group(10, 5, 2, 1), ["Docs"] = group(4, 0, 0, 0) }

  it("is one complete, self-contained HTML5 document", function()
    local html = report.html{ title = "T", generated = "2026-12-02T10:00:00Z",
                              providers = { { name = "complycube", summary = sum, durations = { 12.5, 60 } } } }
    assert.equal("<!DOCTYPE html>", html:sub(1, 15))
    assert.truthy(html:find("</html>\n$"))
    assert.truthy(html:find('<meta charset="utf-8">', 1, true))
    assert.truthy(html:find("<style>", 1, true))
    assert.equal(2, select(2, html:gsub("<svg ", "")))
    assert.truthy(html:find("2026-12-02T10:00:00Z", 1, true))
    local lower = html:lower()
    assert.is_nil(lower:find("<script", 1, true))
    assert.is_nil(lower:find("http://", 1, true))
    assert.is_nil(lower:find("https://", 1, true))
    assert.is_nil(lower:find("url(", 1, true))
    assert.is_nil(lower:find("@import", 1, true))
    assert.is_nil(lower:find("<img", 1, true))
    assert.is_nil(lower:find("<link", 1, true))
    assert.is_nil(lower:find("src=", 1, true))
    for href in lower:gmatch('href="([^"]*)"') do assert.equal("#", href:sub(1, 1)) end
  end)

  it("has summarize's numbers in data attributes, workflows largest first", function()
    local html = report.html{ providers = { { name = "complycube", summary = sum, durations = { 12.5, 60, 7200 } } } }
    local p = all_seen(html)
    check_provider(p, "complycube", sum, { 12.5, 60, 7200 })
    assert.truthy(html:find('data%-workflow="KYC flow".-data%-workflow="Docs"'))
    assert.truthy(html:find('data-value="0.6250">62.5%</td>', 1, true))
    assert.truthy(html:find('data-value="">\226\128\147</td>', 1, true))  -- Docs: no outcome, no rate
    -- ties by name
    local tie = report.html{ providers = { { name = "x", summary = summary_of{ b = group(3, 1, 0, 0),
                                                                            a = group(3, 1, 0, 0) } } } }
    assert.truthy(tie:find('data%-workflow="a".-data%-workflow="b"'))
  end)

  it("escapes every string from data", function()
    local bad = summary_of{ [HOSTILE] = group(3, 1, 1, 1), ["Vérification ✓"] = group(1, 1, 0, 0),
                            ["bad\255utf8\0nul"] = group(1, 0, 0, 0) }
    local html = report.html{ title = HOSTILE, generated = HOSTILE,
                              providers = { { name = HOSTILE, summary = bad } } }
    assert.is_nil(html:find(HOSTILE, 1, true))
    assert.is_nil(html:lower():find("<script", 1, true))
    assert.truthy(html:find("&lt;script&gt;&amp;&quot;x&quot;", 1, true))
    assert.truthy(html:find("Vérification ✓", 1, true))            -- non-ASCII kept
    assert.truthy(html:find("bad\239\191\189utf8\239\191\189nul", 1, true)) -- a bad byte, a NUL: U+FFFD
    assert.is_nil(html:find("%z"))
    local p = all_seen(html)
    assert.is_table(p.cells[HOSTILE][HOSTILE])  -- the attributes read back to the name
    assert.equal("3", p.cells[HOSTILE][HOSTILE].total.text)
    assert.equal("&amp;&lt;&gt;&quot;&#39;", report.escape("&<>\"'"))
  end)

  it("shows empty states and never fails on odd data", function()
    local odd = {
      {},
      { total = 0, by_outcome = {}, groups = {} },
      { total = 5, by_outcome = { approved = 0 / 0, rejected = -3, needs_attention = "7" }, approval_rate = 0 / 0,
        groups = { x = "not a table", y = { total = math.huge } } },
      { total = 2 ^ 60, by_outcome = { approved = 2 ^ 59, rejected = 1 }, approval_rate = 0.9999999,
        groups = { huge = { total = 1e300, by_outcome = { approved = 1e300, rejected = 1 } } } },
      { total = 3, by_outcome = { approved = 9 }, approval_rate = 1, groups = {} }, -- outcomes over the total
    }
    if math.maxinteger then
      odd[#odd + 1] = { total = math.maxinteger, by_outcome = { approved = math.maxinteger, rejected = math.maxinteger,
                        needs_attention = math.maxinteger }, groups = { m = { total = math.maxinteger } } }
    end
    for i, s in ipairs(odd) do
      local durations = { 0 / 0, math.huge, -math.huge, -5, "12", 30, 59.999, 60, 86400, 1e12 }
      local html = report.html{ providers = { { name = "p" .. i, summary = s, durations = durations } } }
      assert.truthy(html:find("</html>", 1, true))
      local p = all_seen(html)
      local n = 0
      for _, c in pairs(p.bins["p" .. i]) do n = n + c end
      assert.equal(5, n)  -- the finite durations >= 0
      assert.truthy(html:find("5 durations skipped", 1, true))
      assert.is_nil(html:find("nan", 1, true))
      assert.is_nil(html:find("inf", 1, true))
    end
    -- no sessions, no durations
    local empty = report.html{ providers = { { name = "e", summary = { total = 0, by_outcome = {}, groups = {} } } } }
    assert.truthy(empty:find("No sessions.", 1, true))
    assert.truthy(empty:find("No completion times", 1, true))
    assert.truthy(empty:find('data-workflow="*" data-field="approval_rate" data-value="">', 1, true))
    -- a summary without groups still draws its bar
    local flat = report.html{ providers = { { name = "f", summary = group(4, 1, 1, 1) } } }
    assert.truthy(flat:find('data-workflow="*" data-outcome="none" data-count="1"', 1, true))
  end)

  it("draws every non-zero count with a width, in distinct colors", function()
    local s = summary_of{ big = group(1e12, 1e12 - 3, 1, 1), small = group(1, 0, 0, 0) }
    local html = report.html{ providers = { { name = "p", summary = s } } }
    local p = all_seen(html)
    assert.is_nil(p.segments.p.big.invisible)
    assert.is_nil(p.segments.p.small.invisible)
    local colors = {}
    for _, k in ipairs({ "approved", "rejected", "needs_attention", "none" }) do
      assert.truthy(report.COLORS[k]:match("^#%x%x%x%x%x%x$"))
      assert.is_nil(colors[report.COLORS[k]])
      colors[report.COLORS[k]] = true
      assert.truthy(html:find('fill="' .. report.COLORS[k] .. '"', 1, true))
    end
  end)

  it("draws at most 40 bars and lists every workflow in the table", function()
    local groups = {}
    for i = 1, 45 do groups[string.format("w%02d", i)] = group(100 - i, 1, 0, 0) end
    local html = report.html{ providers = { { name = "p", summary = summary_of(groups) } } }
    local p = all_seen(html)
    local bars, rows = 0, 0
    for _ in pairs(p.segments.p) do bars = bars + 1 end
    for _ in pairs(p.cells.p) do rows = rows + 1 end
    assert.equal(40, bars)
    assert.equal(46, rows) -- and "all"
    assert.is_table(p.segments.p.w40)
    assert.is_nil(p.segments.p.w41)
    assert.truthy(html:find("5 more workflows are in the table.", 1, true))
  end)

  it("bins durations at the human bounds", function()
    local cases = { [0] = 1, [59.999] = 1, [60] = 2, [299] = 2, [300] = 3, [899] = 3, [900] = 4, [3599] = 4,
                    [3600] = 5, [14399] = 5, [14400] = 6, [86399.9] = 6, [86400] = 7, [1e15] = 7 }
    for secs, bin in pairs(cases) do assert.equal(bin, report.bin(secs), secs) end
    for _, v in ipairs({ -1, 0 / 0, math.huge, -math.huge, "60" }) do assert.is_nil(report.bin(v)) end
    assert.equal(7, #report.BINS)
  end)

  it("raises on bad arguments, naming them", function()
    local good = { name = "complycube", summary = sum }
    raises(function() report.html() end, "expects a table of options, got nil")
    raises(function() report.html("x") end, "expects a table of options, got string")
    raises(function() report.html{} end, "'providers' must be an array of 1 to 3 provider tables, got nil")
    raises(function() report.html{ providers = {} } end, "'providers' must be an array of 1 to 3")
    raises(function() report.html{ providers = { good, good, good, good } } end, "got 4 entries")
    raises(function() report.html{ providers = { good, [3] = good } } end, "not an array")
    raises(function() report.html{ providers = { x = good } } end, "not an array")
    raises(function() report.html{ providers = { "complycube" } } end, "'providers[1]' must be a table")
    raises(function() report.html{ providers = { { summary = sum } } } end, "'providers[1].name' must be a non-empty")
    raises(function() report.html{ providers = { { name = "", summary = sum } } } end, "'providers[1].name'")
    raises(function() report.html{ providers = { good, { name = "complycube", summary = sum } } } end,
           "'providers[2].name' repeats 'complycube'")
    raises(function() report.html{ providers = { { name = "a" } } } end,
           "'providers[1].summary' must be a summary table, got nil")
    raises(function() report.html{ providers = { { name = "a", summary = sum, durations = 5 } } } end,
           "'providers[1].durations' must be an array of seconds, got number")
    raises(function() report.html{ providers = { { name = "a", summary = sum, color = 1 } } } end,
           "'providers[1]' has an unknown key 'color'")
    raises(function() report.html{ providers = { good }, title = 5 } end, "'title' must be a string, got number")
    raises(function() report.html{ providers = { good }, generated = {} } end, "'generated' must be a string")
    raises(function() report.html{ providers = { good }, css = "x" } end, "unknown option 'css'")
  end)
end)

-- The PNG reader ---------------------------------------------------------------

local function unhex(h) return (h:gsub("%s", ""):gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end)) end

-- made with Python's zlib: pixel (x, y) = pattern(x, y), row y filtered with type y % 5;
-- compressed with level 0 (stored blocks), Z_FIXED (fixed Huffman) and level 9 (dynamic Huffman)
local VECTORS = {
  { name = "stored", w = 7, h = 5, channels = 3, btype = 0, hex = [[
89504e470d0a1a0a0000000d494844520000000700000005080200000006f8618f00000079494441547801016e0091ff0000
0000250d014a1a046f2709943410b94119de4e24010b4705250d01250d03250d05250d07250d09250d0b020b47050b47050b
47050b47050b47050b47050b470503168e0a182a03182a04182a05182a0618aa0718aa08040b47050b0d010b0d030b0d050b
47050b0d050b0d0529870d1c3c55412d0000000049454e44ae426082]] },
  { name = "fixed", w = 6, h = 10, channels = 4, btype = 1, hex = [[
89504e470d0a1a0a0000000d49484452000000060000000a0806000000970e2f330000008d49444154780163600002555e46
4e2f2916a17c754ee92926022a3b1d257519b9dd59a54112aabccc40cc0ac4ec40ccc9c90492c08699c5fab8cc24b4988524
b45880981588d9842456b10bb18055008de2061ac50d340ac807d30ce6c992ed310552131a6b65672eeb525a747abae6ea0f
4b8cb6303aad925b449ae54607c4ab2456a15a3e430b9be5102c0d00bc4422c0eae7d49c0000000049454e44ae426082]] },
  { name = "dynamic", w = 40, h = 10, channels = 3, btype = 2, hex = [[
89504e470d0a1a0a0000000d49484452000000280000000a080200000049f88b07000002594944415478dae5d25b48136014
07f0adcdcb9c27b774fadfe6664b4f73472abc8465483335d130b220985d042bb20b54929084812205426616b82e869448fb
28a2c0c0c82e564408dd102ac9c030221fa20c8c6ed4ac487b89a2871e82ffc3e1703efedfc34fa3d16898b44536fd16b7e1
6086a92bc7fa6471926e456a7285b7b8aaa4b26e6dcbbeea8b479b060381d0f3d753ae0d2eb9aba91a701d1ecebbfc76c390
bec960ee9ae91c5a9662de31c7db9abfad6769fbf3b247919b4da9d585cb77d7ef3c70b5ad4d73e374cef085faa89bb732fa
4cbe41dfae97ed273ebcd61a0b4282c54c3aa6e010c6646032321153149399299ac9c214c76465b233399812985c4c894ccc
e466f230a530cd609ac594ca94ce349b2993692ed33ca66ca6f94c394cb94cf94c054c854c8b988a27058bff4974b18d1110
1d440f09818442854185fb95012ab83742222104990c89829820664833241a1203b14062217110400e41d9a0ec50f1500ea8
639004c854880b721c92e8972408433a206e4832c4a31feb27ad917446fafa171a0bd3f7e17753f087f714a2c95c635db9d5
565be3e86898d6dbe279d59e66399b9d75a9a8acd757ff7063e059cded91e6379f0388ecc9b60e944f7fbf27dd7aca9b75af
78d568699d7d7dc0bbfdfebada4f0d8d72e688afef64c3bbce6e67cf48ee1d4fc5e3f2bd2f5acf8df63fd0593f9a4a5d8ed6
85f27453a6a729afb2b3a4bb7f7584768172fe67b8d2aec4418de3f24b18241c62808ce3f28fe3da0f9902150d15e35716a8
6fb8fc102bc406b1fb251ee2803827e2f24b227ee0526ea864a8c0cfb8feda11ff7a39e1ed177404e01920685f4600000000
49454e44ae426082]] },
}

local function pattern(x, y)
  return (x * 37 + y * 11) % 256, (x * 13 + y * 71) % 256, (x * x + y * 5) % 256, (x + y * 3) * 9 % 256
end

local function be32(n)
  return string.char(math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
end
local function chunk(ctype, body) return be32(#body) .. ctype .. body .. be32(png.crc32(ctype .. body)) end
local function ihdr(w, h, depth, ctype, interlace)
  return "\137PNG\r\n\26\n" .. chunk("IHDR", be32(w) .. be32(h) .. string.char(depth, ctype, 0, 0, interlace))
end

describe("spec/png.lua", function()
  it("computes CRC-32", function()
    assert.equal(0xCBF43926, png.crc32("123456789"))
    assert.equal(0, png.crc32(""))
  end)

  for _, v in ipairs(VECTORS) do
    it("decodes " .. v.name .. " blocks and the five filters", function()
      local data = unhex(v.hex)
      -- the first deflate block is of the kind named (zlib header: 2 bytes, IDAT data at byte 42)
      assert.equal("IDAT", data:sub(38, 41))
      assert.equal(v.btype, math.floor(data:byte(44) / 2) % 4)
      local img = png.decode(data)
      assert.equal(v.w, img.width)
      assert.equal(v.h, img.height)
      assert.equal(v.channels, img.channels)
      for y = 0, v.h - 1 do
        for x = 0, v.w - 1 do
          local r, g, b, a = pattern(x, y)
          if v.channels == 3 then a = 255 end
          assert.same({ r, g, b, a }, { img.pixel(x, y) })
        end
      end
      assert.has_error(function() img.pixel(v.w, 0) end)
      assert.has_error(function() img.pixel(0, -1) end)
    end)
  end

  it("refuses what it cannot or should not read", function()
    local function fails(data, text)
      local ok, msg = pcall(png.decode, data)
      assert.is_false(ok)
      assert.truthy(tostring(msg):find(text, 1, true), tostring(msg))
    end
    local tail = chunk("IDAT", "\120\1\1\0\0\255\255\0\0\0\1") .. chunk("IEND", "")
    fails("GIF89a", "not a PNG")
    fails(ihdr(100000, 10, 8, 2, 0) .. tail, "image too large")
    fails(ihdr(16000, 16000, 8, 2, 0) .. tail, "image too large")
    fails(ihdr(1, 1, 16, 2, 0) .. tail, "bit depth 16")
    fails(ihdr(1, 1, 8, 3, 0) .. tail, "color type 3")
    fails(ihdr(1, 1, 8, 2, 1) .. tail, "interlaced")
    fails(ihdr(1, 1, 8, 2, 0) .. tail, "shorter than the header")
    local good = unhex(VECTORS[1].hex)
    fails(good:sub(1, 15), "truncated chunk")
    fails(good:sub(1, 60), "chunk longer than the file")
    fails(good:sub(1, 33) .. chunk("IDAT", good:sub(42, 100)) .. chunk("IEND", ""), "truncated stored block")
    fails(good:sub(1, 33) .. chunk("IEND", ""), "no IDAT")
    fails(good:sub(1, 33) .. chunk("IDAT", "\120\1\7\0\0\0\0\0") .. chunk("IEND", ""), "bad block type 3")
    local flipped = good:sub(1, 50) .. string.char((good:byte(51) + 1) % 256) .. good:sub(52)
    fails(flipped, "CRC mismatch")
    -- a stream that inflates to more than the header allows (a 1 x 1 image, 4 bytes of data)
    local big = ihdr(1, 1, 8, 2, 0) .. chunk("IDAT", "\120\1\1\8\0\247\255" .. ("\0"):rep(8) .. "\0\0\0\1")
      .. chunk("IEND", "")
    fails(big, "larger than the header")
  end)
end)

-- In Chromium, over the sandbox ----------------------------------------------------

describe("the report of the sandbox's sessions", function()
  local sb, work, html_path, html
  local data = {}  -- provider -> { summary, durations }

  setup(function()
    sb = assert(require("wfsession.sandbox").start{ sessions = 300, seed = 5 })
    local providers = {}
    for _, name in ipairs(PROVIDERS) do
      local client = helpers.client(sb, name)
      local list = assert(wfs.collect(client:sessions{}))
      client:close()
      local durations = {}
      for _, s in ipairs(list) do
        if s.completed_at and s.created_at then
          durations[#durations + 1] = wfs.time(s.completed_at) - wfs.time(s.created_at)
        end
      end
      local sum = wfs.summarize(list, { by = "workflow_name" })
      data[name] = { summary = sum, durations = durations, n = #list }
      providers[#providers + 1] = { name = name, summary = sum, durations = durations }
    end
    html = report.html{ title = "Workflow sessions", generated = "2026-12-02T10:00:00Z", providers = providers }
    work = tmpdir()
    html_path = work .. "/report.html"
    spit(html_path, html)
  end)

  teardown(function()
    if sb then sb:stop() end
    rmdir(work)
  end)

  it("lists what the sandbox holds", function()
    for _, name in ipairs(PROVIDERS) do
      assert.equal(300, data[name].n)
      assert.equal(300, data[name].summary.total)
      assert.truthy(next(data[name].summary.groups))
    end
    assert.truthy(#html < 64 * 1024, "the page is " .. #html .. " bytes")
  end)

  it("has summarize's numbers in the HTML it writes", function()
    local page = all_seen(html)
    for _, name in ipairs(PROVIDERS) do check_provider(page, name, data[name].summary, data[name].durations) end
  end)

  it("draws a page that is not blank (headless Chromium screenshot)", function()
    if not exists(CHROMIUM) then
      pending("no " .. CHROMIUM)
      return
    end
    local shot = work .. "/report.png"
    local ok, log, code, result = chromium(work, "shot", "--screenshot=" .. shot, html_path)
    assert.is_true(ok, "chromium failed (" .. tostring(code) .. "): " .. log)
    local img = png.read(shot)
    assert.equal(1280, img.width)
    assert.equal(2400, img.height)
    -- colors by count; the most common is the page's background
    local counts, byte, step = {}, string.byte, img.channels
    for y = 0, img.height - 1 do
      local row = img.rows[y]
      for i = 1, #row, step do
        local r, g, b = byte(row, i, i + 2)
        local k = (r * 256 + g) * 256 + b
        counts[k] = (counts[k] or 0) + 1
      end
    end
    local pixels, first, second = img.width * img.height, nil, nil
    for k, n in pairs(counts) do
      if not first or n > counts[first] then first, second = k, first
      elseif not second or n > counts[second] then second = k end
    end
    local not_bg = pixels - counts[first]
    assert.truthy(not_bg / pixels >= 0.02, string.format("only %.2f%% not background", not_bg / pixels * 100))
    -- and not only the cards either: text, bars, lines (neither of the two most common colors)
    local ink = not_bg - counts[second]
    assert.truthy(ink / pixels >= 0.02, string.format("only %.2f%% ink", ink / pixels * 100))
    -- every outcome fill and the histogram's appear, as solid areas
    local fills = {}
    for _, k in ipairs({ "approved", "rejected", "needs_attention", "none", "histogram" }) do
      local hex = report.COLORS[k]
      local key = tonumber(hex:sub(2), 16)
      assert.truthy((counts[key] or 0) >= 500, k .. " (" .. hex .. "): " .. (counts[key] or 0) .. " pixels")
      fills[#fills + 1] = k .. " " .. counts[key]
    end
    io.stderr:write(("\n  report screenshot %dx%d: %.1f%% not background, %.1f%% ink; pixels %s"):format(
      img.width, img.height, not_bg / pixels * 100, ink / pixels * 100, table.concat(fills, ", ")))
    assert.equal(0, result.leftover, "processes left after chromium exited")
  end)

  it("shows summarize's numbers in the DOM Chromium builds", function()
    if not exists(CHROMIUM) then
      pending("no " .. CHROMIUM)
      return
    end
    local dom_path = work .. "/dom.html"
    local ok, log, code, result = chromium(work, "dom", "--dump-dom", html_path, dom_path)
    assert.is_true(ok, "chromium failed (" .. tostring(code) .. "): " .. log)
    local dom = assert(slurp(dom_path))
    assert.truthy(dom:find("</html>", 1, true), "no DOM dumped: " .. log)
    local page = all_seen(dom)
    for _, name in ipairs(PROVIDERS) do check_provider(page, name, data[name].summary, data[name].durations) end
    assert.equal(0, result.leftover, "processes left after chromium exited")
  end)

  it("keeps hostile names as text in the DOM", function()
    if not exists(CHROMIUM) then
      pending("no " .. CHROMIUM)
      return
    end
    local names = { HOSTILE, "Vérification ✓", "a'b\"c</td></tr><td>", "&amp; &lt;", "  x  " }
    local groups = {}
    for i, n in ipairs(names) do groups[n] = group(10 - i, 1, 1, 0) end
    local sum = summary_of(groups)
    local path = work .. "/hostile.html"
    spit(path, report.html{ title = HOSTILE, providers = { { name = HOSTILE, summary = sum, durations = { 5 } } } })
    local dom_path = work .. "/hostile-dom.html"
    local ok, log = chromium(work, "hostile", "--dump-dom", path, dom_path)
    assert.is_true(ok, "chromium failed: " .. log)
    local dom = assert(slurp(dom_path))
    assert.is_nil(dom:lower():find("<script", 1, true))
    local page = all_seen(dom)
    check_provider(page, HOSTILE, sum, { 5 })
  end)
end)
