-- luacheck: std +busted

local S = require "wfsession.summary"

local T0 = 1735689600 -- 2025-01-01T00:00:00Z
local function iso(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", t) end

-- a session created at T0 + offset that took `secs` to complete (nil: not completed)
local function session(fields, secs, offset)
  local s = {}
  for k, v in pairs(fields) do s[k] = v end
  s.created_at = iso(T0 + (offset or 0))
  if secs then s.completed_at = iso(T0 + (offset or 0) + secs) end
  return s
end

local function raises(fn, text)
  local ok, msg = pcall(fn)
  assert.is_false(ok, "expected an error containing: " .. text)
  assert.truthy(tostring(msg):find(text, 1, true), "got: " .. tostring(msg))
end

local function width(s) return select(2, s:gsub("[^\128-\191]", "")) end

local function lines(text)
  local out = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do out[#out + 1] = line end
  return out
end

-- 10 sessions: 5 with an outcome (3 approved), completion times 60..300 s
local DATA = {
  session({ status = "completed", outcome = "approved", workflow_name = "kyc" }, 60),
  session({ status = "completed", outcome = "approved", workflow_name = "kyc" }, 120),
  session({ status = "completed", outcome = "rejected", workflow_name = "kyc" }, 180),
  session({ status = "completed", outcome = "approved", workflow_name = "docs" }, 240),
  session({ status = "review", outcome = "needs_attention", workflow_name = "docs" }, nil),
  session({ status = "running", workflow_name = "docs" }, nil),
  session({ status = "pending" }, nil),
  session({ status = "expired", workflow_name = "kyc" }, 300),
  session({ status = "failed" }, -50),  -- completed before it was created: ignored
  { status = "cancelled", created_at = "garbage", completed_at = iso(T0) },
}

describe("summary.summarize", function()
  it("counts sessions by status and outcome", function()
    local sum = S.summarize(DATA)
    assert.equal(10, sum.total)
    assert.same({ completed = 4, review = 1, running = 1, pending = 1, expired = 1, failed = 1,
                  cancelled = 1 }, sum.by_status)
    -- sessions without an outcome are in total only
    assert.same({ approved = 3, rejected = 1, needs_attention = 1 }, sum.by_outcome)
    assert.equal(0.6, sum.approval_rate) -- 3 approved / 5 with an outcome
    assert.same({}, sum.groups)
    assert.is_nil(sum.by)
  end)

  it("has no approval rate when no session has an outcome", function()
    local sum = S.summarize({ { status = "running" }, { status = "pending" } })
    assert.is_nil(sum.approval_rate)
    assert.same({}, sum.by_outcome)
    assert.equal(0, S.summarize({ { outcome = "rejected" } }).approval_rate)
  end)

  it("computes nearest-rank completion percentiles, ignoring missing, bad and negative times", function()
    local c = S.summarize(DATA).completion_seconds
    -- times 60 120 180 240 300: ranks ceil(2.5)=3, ceil(4.5)=5, ceil(4.95)=5
    assert.same({ p50 = 180, p90 = 300, p99 = 300, max = 300 }, c)

    local hundred = {}
    for i = 100, 1, -1 do hundred[#hundred + 1] = session({ status = "completed" }, i, i * 7) end
    assert.same({ p50 = 50, p90 = 90, p99 = 99, max = 100 }, S.summarize(hundred).completion_seconds)

    local three = { session({}, 30), session({}, 10), session({}, 20) }
    assert.same({ p50 = 20, p90 = 30, p99 = 30, max = 30 }, S.summarize(three).completion_seconds)

    -- 7 values: p90 is rank ceil(6.3) = 7, not the rounded 6
    local seven = {}
    for i = 1, 7 do seven[i] = session({}, i * 10) end
    assert.same({ p50 = 40, p90 = 70, p99 = 70, max = 70 }, S.summarize(seven).completion_seconds)

    assert.same({ p50 = 0, p90 = 0, p99 = 0, max = 0 }, S.summarize({ session({}, 0) }).completion_seconds)
  end)

  it("leaves the completion fields nil without data", function()
    local sum = S.summarize({ { status = "running" } })
    assert.same({}, sum.completion_seconds)
    local empty = S.summarize({})
    assert.equal(0, empty.total)
    assert.same({}, empty.by_status)
    assert.is_nil(empty.approval_rate)
    assert.same({}, empty.completion_seconds)
  end)

  it("groups by a field, nil keys under (none)", function()
    local sum = S.summarize(DATA, { by = "workflow_name" })
    assert.equal("workflow_name", sum.by)
    local names = {}
    for k in pairs(sum.groups) do names[#names + 1] = k end
    table.sort(names)
    assert.same({ "(none)", "docs", "kyc" }, names)

    local kyc = sum.groups.kyc
    assert.equal(4, kyc.total)
    assert.same({ completed = 3, expired = 1 }, kyc.by_status)
    assert.same({ approved = 2, rejected = 1 }, kyc.by_outcome)
    assert.equal(2 / 3, kyc.approval_rate)
    assert.same({ p50 = 120, p90 = 300, p99 = 300, max = 300 }, kyc.completion_seconds)
    assert.is_nil(kyc.groups)

    local docs = sum.groups.docs
    assert.equal(3, docs.total)
    assert.equal(0.5, docs.approval_rate)
    assert.same({ p50 = 240, p90 = 240, p99 = 240, max = 240 }, docs.completion_seconds)

    local none = sum.groups["(none)"]
    assert.equal(3, none.total)
    assert.same({ pending = 1, failed = 1, cancelled = 1 }, none.by_status)
    assert.is_nil(none.approval_rate)
    assert.same({}, none.completion_seconds)
    -- the whole is still the whole
    assert.equal(10, sum.total)
    assert.equal(0.6, sum.approval_rate)
  end)

  it("groups by a function", function()
    local sum = S.summarize(DATA, { by = function(s) return s.outcome and "decided" or nil end })
    assert.equal(5, sum.groups.decided.total)
    assert.equal(5, sum.groups["(none)"].total)
    assert.is_nil(sum.by)
    local nan = S.summarize(DATA, { by = function() return 0 / 0 end })
    assert.equal(10, nan.groups["(none)"].total)
  end)

  it("reads a pager, an iterator function or an array alike", function()
    local p = { i = 0 }
    function p:next() self.i = self.i + 1; return DATA[self.i] end
    local j = 0
    local fn = function() j = j + 1; return DATA[j] end
    local a, b, c = S.summarize(DATA), S.summarize(p), S.summarize(fn)
    assert.same(a.by_status, b.by_status)
    assert.same(a.by_status, c.by_status)
    assert.same(a.completion_seconds, b.completion_seconds)
    assert.equal(11, p.i) -- read to the end, once
  end)

  it("raises a pager failure", function()
    local p = { next = function() return nil, "wfsession: extend: http 503", { kind = "server" } end }
    raises(function() S.summarize(p) end, "wfsession: extend: http 503")
  end)

  it("rejects bad arguments, naming them", function()
    raises(function() S.summarize(5) end,
      "bad argument #1 to 'summarize' (pager, iterator function or array expected, got number)")
    raises(function() S.summarize({}, "workflow_name") end,
      "bad argument #2 to 'summarize' (options table expected, got string)")
    raises(function() S.summarize({}, { group = "x" }) end,
      "bad argument #2 to 'summarize' (unknown option 'group')")
    raises(function() S.summarize({}, { by = 3 }) end,
      "bad argument #2 to 'summarize' (by: field name or function expected, got number)")
    raises(function() S.summarize({}, { by = "" }) end,
      "bad argument #2 to 'summarize' (by: field name or function expected, got an empty string)")
  end)
end)

describe("summary.duration", function()
  it("reads like a person would write it", function()
    local cases = {
      { 0, "0s" }, { 2.5, "2.5s" }, { 0.24, "0.2s" }, { 9, "9s" }, { 45, "45s" }, { 59.4, "59s" },
      { 59.6, "1m00s" }, { 130, "2m10s" }, { 605, "10m05s" }, { 3599, "59m59s" },
      { 3600, "1h00m" }, { 11040, "3h04m" }, { 11069, "3h04m" }, { 11071, "3h05m" },
      { 86399, "1d00h" }, { 2 * 86400 + 3 * 3600, "2d03h" }, { 400 * 86400, "400d00h" },
    }
    for _, c in ipairs(cases) do assert.equal(c[2], S.duration(c[1]), tostring(c[1])) end
    assert.equal("-", S.duration(nil))
    assert.equal("-", S.duration(-1))
    assert.equal("-", S.duration(math.huge))
    assert.equal("-", S.duration(0 / 0))
  end)
end)

describe("summary:format", function()
  it("starts with the total and the approval rate", function()
    local text = S.summarize(DATA):format()
    assert.equal("wfsession summary: 10 sessions, approval rate 60.0% (3 of 5 with an outcome)",
      lines(text)[1])
    assert.equal("wfsession summary: 0 sessions", S.summarize({}):format())
    assert.equal("wfsession summary: 1 session, approval rate - (no session has an outcome)",
      lines(S.summarize({ { status = "running" } }):format())[1])
  end)

  it("lists statuses in life-cycle order, then others sorted, with counts and shares", function()
    local data = {}
    for _, st in ipairs({ "zeta", "expired", "completed", "completed", "pending", "alpha" }) do
      data[#data + 1] = { status = st }
    end
    data[#data + 1] = { outcome = "approved" } -- no status
    data[#data + 1] = { status = "running", outcome = "rejected" }
    local text = S.summarize(data):format()
    local order = {}
    for _, line in ipairs(lines(text)) do
      local name, count, share = line:match("^  (%S+)%s+(%d+)%s+(%d+%.%d%%)$")
      if name then order[#order + 1] = name .. "=" .. count .. "/" .. share end
    end
    assert.same({ "pending=1/12.5%", "running=1/12.5%", "completed=2/25.0%", "expired=1/12.5%",
                  "alpha=1/12.5%", "zeta=1/12.5%", "(none)=1/12.5%",
                  "approved=1/12.5%", "rejected=1/12.5%", "(none)=6/75.0%" }, order)
  end)

  it("aligns the count columns", function()
    local data = {}
    for _ = 1, 1234 do data[#data + 1] = { status = "completed", outcome = "approved" } end
    data[#data + 1] = { status = "needs_a_very_long_status_name", outcome = "rejected" }
    local ends = {}
    for _, line in ipairs(lines(S.summarize(data):format())) do
      local head = line:match("^(.-%d+)  +%d+%.%d%%$") or line:match("^(status%s+count)")
      if head then ends[#ends + 1] = width(head) end
    end
    assert.equal(5, #ends) -- the header, 2 statuses, 2 outcomes
    for i = 2, #ends do assert.equal(ends[1], ends[i]) end
  end)

  it("shows completion percentiles as durations", function()
    local data = { session({}, 130), session({}, 130), session({}, 11040) }
    local text = S.summarize(data):format()
    assert.truthy(text:find("completion time  p50 2m10s  p90 3h04m  p99 3h04m  max 3h04m", 1, true), text)
    assert.truthy(S.summarize({ {} }):format():find("completion time  - (no session", 1, true))
  end)

  it("shows one aligned row per group, largest first, then by name", function()
    local data = {}
    local function add(n, fields, secs)
      for _ = 1, n do data[#data + 1] = session(fields, secs) end
    end
    add(3, { workflow_name = "beta", outcome = "approved" }, 130)
    add(1, { workflow_name = "beta", outcome = "rejected" }, 130)
    add(4, { workflow_name = "alpha", outcome = "needs_attention" }, 11040)
    add(2, { workflow_name = "Vérification", outcome = "approved" }, 30)
    add(1, { status = "running" })
    local text = S.summarize(data, { by = "workflow_name" }):format()
    local rows, header = {}, nil
    for _, line in ipairs(lines(text)) do
      if line:match("^by workflow_name") then header = line end
      if header and line:match("^  ") then rows[#rows + 1] = line end
    end
    assert.truthy(header, text)
    assert.truthy(header:match("^by workflow_name%s+total%s+approved%s+rejected%s+needs_attention%s+approval%s+p50$"))
    assert.equal(4, #rows)
    local parsed = {}
    for i, row in ipairs(rows) do
      local name, rest = row:match("^  (.-)%s%s+(%d.*)$")
      parsed[i] = name .. "|" .. rest:gsub("%s+", " ")
      -- right-aligned columns: every row ends where the header ends
      assert.equal(width(header), width(row), row)
    end
    assert.same({
      "alpha|4 0 0 4 0.0% 3h04m",
      "beta|4 3 1 0 75.0% 2m10s",
      "Vérification|2 2 0 0 100.0% 30s",
      "(none)|1 0 0 0 - -",
    }, parsed)
  end)

  it("keeps lines under 100 columns and names on one line", function()
    local data = {
      { workflow_name = string.rep("very long workflow name ", 10), status = "completed" },
      { workflow_name = "line\nbreak", status = string.rep("s", 200) },
    }
    for _ = 1, 123456 % 1000 do data[#data + 1] = { workflow_name = "x", outcome = "approved" } end
    local text = S.summarize(data, { by = "workflow_name" }):format()
    for _, line in ipairs(lines(text)) do
      assert.truthy(width(line) < 100, line)
      assert.is_nil(line:find("%s$"), "trailing blank: " .. line)
    end
    assert.truthy(text:find("very long workflow name very long", 1, true))
    assert.truthy(text:find("...", 1, true))
    assert.truthy(text:find("line?break", 1, true))
  end)

  it("is also the summary's tostring, and works on a group", function()
    local sum = S.summarize(DATA, { by = "workflow_name" })
    assert.equal(sum:format(), tostring(sum))
    assert.equal("wfsession summary: 4 sessions, approval rate 66.7% (2 of 3 with an outcome)",
      lines(sum.groups.kyc:format())[1])
  end)
end)
