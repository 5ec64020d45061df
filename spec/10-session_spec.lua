-- Session userdata: fields from every provider fixture, normalization,
-- JSON null, fall-through, methods, tostring, read-only.

local core = require "wfsession.core"

local function fixture(name)
  local f = assert(io.open("spec/fixtures/" .. name, "rb"))
  local text = f:read("*a")
  f:close()
  return assert(core.decode(text))
end

-- true when no table under `t` holds a light userdata (cjson.null)
local function null_free(t, depth)
  depth = depth or 0
  if depth > 100 then return false end
  for k, v in pairs(t) do
    if type(k) == "userdata" or type(v) == "userdata" then return false end
    if type(v) == "table" and not null_free(v, depth + 1) then return false end
  end
  return true
end

local has_math_type = math.type ~= nil

describe("session", function()

  describe("ComplyCube", function()
    it("reads the get fixture", function()
      local raw = fixture("complycube_workflow_session_get.json")
      local s = core.session("complycube", raw)
      assert.equal("userdata", type(s))
      assert.equal("complycube", s.provider)
      assert.equal("5eb2b61e02df0a0008f1cf2a", s.id)
      assert.equal("completed", s.status)
      assert.equal("approved", s.outcome)
      assert.equal("complete", s.raw_status)
      assert.equal("clear", s.raw_outcome)
      assert.equal("68566be2a37a78622f4f7be3", s.workflow_id)
      assert.equal("AML + Liveness + Document Verification flow", s.workflow_name)
      assert.equal(1, s.workflow_version)
      if has_math_type then assert.equal("integer", math.type(s.workflow_version)) end
      assert.equal("5eb1276d96be4a0008713af5", s.subject_id)
      assert.equal("John Doe", s.subject_name)
      assert.equal("2025-01-13T11:35:20.592Z", s.created_at)
      assert.equal("2025-01-13T11:39:30.124Z", s.updated_at)
      assert.equal("2025-01-13T11:37:30.124Z", s.completed_at)
      assert.is_nil(s.started_at)
      assert.is_nil(s.expires_at)
      assert.equal(raw, s.raw)
      assert.is_true(s:is_terminal())
      assert.equal("wfsession.session: complycube/5eb2b61e02df0a0008f1cf2a (completed, approved)",
                   tostring(s))
    end)

    it("returns the related checks as a new array", function()
      local raw = fixture("complycube_workflow_session_get.json")
      local s = core.session("complycube", raw)
      local checks = s:checks()
      assert.equal(3, #checks)
      assert.equal("689c78f619987c0002774921", checks[1].checkId)
      assert.equal("extensive_screening_check", checks[3].type)
      assert.are_not.equal(raw.allRelatedChecks, checks)
      assert.equal(raw.allRelatedChecks[2], checks[2])  -- the raw tables themselves
      checks[4] = "x"
      assert.equal(3, #s:checks())
    end)

    it("reads the list fixture, timestamps passed through unparsed", function()
      local page = fixture("complycube_workflow_sessions_list.json")
      if has_math_type then
        assert.equal("integer", math.type(page.page))
        assert.equal("integer", math.type(page.totalItems))
      end
      local s = core.session("complycube", page.items[1])
      assert.equal("6890d6a9513d1b0002559aa4", s.id)
      assert.equal("Age estimation flow", s.workflow_name)
      assert.equal("688f1e2837d2a9000202ad01", s.workflow_id)
      assert.equal(2, s.workflow_version)
      if has_math_type then assert.equal("integer", math.type(s.workflow_version)) end
      assert.equal("2025-01-01T14:06:44.756Z", s.created_at)
      -- the docs' invalid second is kept as written
      assert.equal("2025-01-01T14:06:91.913Z", s.updated_at)
      assert.is_nil(s.completed_at)
      assert.equal("completed", s.status)
      assert.equal("approved", s.outcome)
      assert.same({}, s:checks())
    end)
  end)

  describe("IDnow", function()
    it("reads the list fixture", function()
      local page = fixture("idnow_sessions_list.json")
      if has_math_type then assert.equal("integer", math.type(page.page.number)) end
      local s = core.session("idnow", page.content[1])
      assert.equal("idnow", s.provider)
      assert.equal("0197c55f-5af6-7e3d-af9b-f2359b134be8", s.id)
      assert.equal("completed", s.status)
      assert.equal("approved", s.outcome)
      assert.equal("COMPLETED", s.raw_status)
      assert.equal("accepted", s.raw_outcome)
      assert.equal("0197c55f-5af6-7e3d-af9b-f2359b154be8", s.workflow_id)
      assert.is_nil(s.workflow_name)
      assert.equal(1, s.workflow_version)
      if has_math_type then assert.equal("integer", math.type(s.workflow_version)) end
      assert.equal("subj_8f3a2c91b47d4e6b", s.subject_id)
      assert.is_nil(s.subject_name)
      assert.equal("2025-01-07T10:30:00.000Z", s.created_at)
      assert.equal("2025-01-07T10:30:00.000Z", s.started_at)
      assert.equal("2025-01-07T10:35:00.000Z", s.updated_at)
      assert.equal("2025-01-07T10:35:00.000Z", s.completed_at)
      -- "expiresAt": null
      assert.is_nil(s.expires_at)
      assert.is_nil(s.raw.expiresAt)
      assert.is_nil(rawget(s.raw, "expiresAt"))
      local checks = s:checks()
      assert.equal(1, #checks)
      assert.equal("step_end_001", checks[1].stepId)
      assert.equal("live", s.environment)  -- fall-through
    end)

    it("reads the older doc variant (upper-case outcome, no subjectId)", function()
      local page = fixture("idnow_sessions_list_older_doc_variant.json")
      local s = core.session("idnow", page.content[1])
      assert.equal("approved", s.outcome)
      assert.equal("ACCEPTED", s.raw_outcome)
      assert.equal("completed", s.status)
      assert.is_nil(s.subject_id)
      assert.is_nil(s.expires_at)
      assert.equal("END", s:checks()[1].stepName)
    end)

    it("reads the get fixture; JSON null reads as nil everywhere", function()
      local raw = fixture("idnow_session_get.json")
      assert.is_true(null_free(raw))
      local s = core.session("idnow", raw)
      assert.equal("0197c55f-5af6-7e3d-af9b-f2359b134be8", s.id)
      assert.is_nil(s.redirectUrl)
      assert.is_nil(s.state)
      assert.is_nil(s.expires_at)
      assert.equal("accepted", s.lastStep.verdict)
      assert.equal("wfsession.session: idnow/0197c55f-5af6-7e3d-af9b-f2359b134be8 (completed, approved)",
                   tostring(s))
    end)

    it("falls back to metadata.subjectId", function()
      local s = core.session("idnow", { sessionId = "a", metadata = { subjectId = "m1" } })
      assert.equal("m1", s.subject_id)
      s = core.session("idnow", { sessionId = "a", subjectId = "top", metadata = { subjectId = "m1" } })
      assert.equal("top", s.subject_id)
    end)

    it("has no checks without lastStep", function()
      assert.same({}, core.session("idnow", { sessionId = "a" }):checks())
    end)
  end)

  describe("Extend", function()
    it("reads the 2026-02-09 list fixture", function()
      local page = fixture("extend_workflow_runs_list.json")
      local s = core.session("extend", page.data[1])
      assert.equal("extend", s.provider)
      assert.equal("id", s.id)
      assert.equal("pending", s.status)
      assert.is_nil(s.outcome)
      assert.equal("PENDING", s.raw_status)
      assert.is_nil(s.raw_outcome)
      assert.equal("workflow_BMlfq_yWM3sT-ZzvCnA3f", s.workflow_id)
      assert.equal("Invoice Processing", s.workflow_name)
      assert.equal("1", s.workflow_version)  -- Extend versions are strings
      assert.equal("2024-03-21T16:45:00Z", s.created_at)
      assert.equal("2024-03-21T16:45:00Z", s.updated_at)
      assert.equal("2024-01-15T09:30:00Z", s.started_at)
      assert.equal("2024-01-15T09:30:00Z", s.completed_at)
      assert.is_nil(s.subject_id)
      assert.is_nil(s.expires_at)
      assert.is_nil(s.files[1].type)  -- "type": null
      assert.equal("batchId", s.batchId)
      assert.is_false(s:is_terminal())
      assert.same({}, s:checks())
      assert.equal("wfsession.session: extend/id (pending)", tostring(s))
    end)

    it("reads the 2026-02-09 get fixture", function()
      local raw = fixture("extend_workflow_run_get.json")
      assert.is_true(null_free(raw))
      local s = core.session("extend", raw)
      assert.equal("workflow_run_xKm9pNv3qWsY_jL2tR5Dh", s.id)
      assert.equal("1", s.workflow_version)
      assert.equal("2024-03-21T15:30:00Z", s.started_at)
      assert.equal("2024-03-21T15:35:00Z", s.completed_at)
      assert.is_nil(s.subject_id)  -- metadata has no subjectId
      local checks = s:checks()
      assert.equal(1, #checks)
      assert.equal("workflow_step_run_xK9mLPqRtN3vS8wF5hB2cQ", checks[1].id)
      local run = checks[1].result.parseRun
      assert.is_nil(run.metadata)
      assert.equal(1234, run.metrics.processingTimeMs)
      if has_math_type then
        assert.equal("integer", math.type(run.metrics.processingTimeMs))
        assert.equal("float", math.type(run.output.ocr.words[1].confidence))
      end
      assert.equal(1.1, run.output.ocr.words[1].confidence)
    end)

    it("reads the legacy 2025-04-21 list fixture", function()
      local page = fixture("extend_legacy_2025-04-21_workflow_runs_list.json")
      local s = core.session("extend", page.workflowRuns[1])
      assert.equal("workflow_run_Zk9mNP12Qw4-yTv8BdR3H", s.id)
      assert.equal("completed", s.status)
      assert.equal("rejected", s.outcome)
      assert.equal("REJECTED", s.raw_status)
      assert.equal("workflow_BMdfq_yWM3sT-ZzvCnA3f", s.workflow_id)
      assert.equal("Invoice Processing", s.workflow_name)
      assert.equal("workflow_version_Zk9mNP12Qw4-yTv8BdR3H", s.workflow_version)
      assert.equal("2024-03-21T15:29:55Z", s.created_at)
      assert.equal("2024-03-21T16:45:00Z", s.updated_at)
      assert.equal("2024-03-21T15:30:00Z", s.started_at)
      assert.equal("2024-03-21T15:35:00Z", s.completed_at)
      assert.equal("Invalid invoice format", s.rejectionNote)
      assert.is_true(s:is_terminal())
      assert.equal("wfsession.session: extend/workflow_run_Zk9mNP12Qw4-yTv8BdR3H (completed, rejected)",
                   tostring(s))
    end)

    it("reads the legacy 2025-04-21 get fixture", function()
      local body = fixture("extend_legacy_2025-04-21_workflow_run_get.json")
      local s = core.session("extend", body.workflowRun)
      assert.equal("workflow_run_xKm9pNv3qWsY_jL2tR5Dh", s.id)
      assert.equal("pending", s.status)
      assert.equal("workflow_BMlfq_yWM3sT-ZzvCnA3f", s.workflow_id)
      assert.equal("Invoice Processing", s.workflow_name)
      assert.equal("draft", s.workflow_version)  -- workflow.version
      local checks = s:checks()
      assert.equal(1, #checks)
      assert.equal("EXTERNAL_DATA_VALIDATION", checks[1].step.type)
    end)

    it("reads metadata.subjectId", function()
      local s = core.session("extend", { id = "r", metadata = { subjectId = "cust-9" } })
      assert.equal("cust-9", s.subject_id)
    end)
  end)

  describe("normalization", function()
    local rows = {
      -- provider, raw status, raw outcome, status, outcome
      { "complycube", "started", nil, "running", nil },
      { "complycube", "processing", nil, "running", nil },
      { "complycube", "complete", "clear", "completed", "approved" },
      { "complycube", "complete", "attention", "completed", "needs_attention" },
      { "complycube", "complete", "rejected", "completed", "rejected" },
      { "complycube", "complete", nil, "completed", nil },
      { "complycube", "cancelled", nil, "cancelled", nil },
      { "complycube", "abandoned", nil, "expired", nil },
      { "complycube", "COMPLETE", "Clear", "completed", "approved" },
      { "complycube", "Processing", nil, "running", nil },
      { "complycube", "paused", "murky", nil, nil },
      { "idnow", "CREATED", nil, "pending", nil },
      { "idnow", "RUNNING", nil, "running", nil },
      { "idnow", "COMPLETED", "accepted", "completed", "approved" },
      { "idnow", "COMPLETED", "ACCEPTED", "completed", "approved" },
      { "idnow", "COMPLETED", "rejected", "completed", "rejected" },
      { "idnow", "COMPLETED", "REJECTED", "completed", "rejected" },
      { "idnow", "COMPLETED", "NO_OUTCOME", "completed", nil },
      { "idnow", "COMPLETED", "maybe", "completed", nil },
      { "idnow", "ERROR", nil, "failed", nil },
      { "idnow", "ABORTED", nil, "cancelled", nil },
      { "idnow", "EXPIRED", nil, "expired", nil },
      { "idnow", "completed", nil, "completed", nil },
      { "idnow", "SUSPENDED", nil, nil, nil },
      { "extend", "PENDING", nil, "pending", nil },
      { "extend", "PROCESSING", nil, "running", nil },
      { "extend", "CANCELLING", nil, "running", nil },
      { "extend", "NEEDS_REVIEW", nil, "review", "needs_attention" },
      { "extend", "PROCESSED", nil, "completed", "approved" },
      { "extend", "REJECTED", nil, "completed", "rejected" },
      { "extend", "FAILED", nil, "failed", nil },
      { "extend", "CANCELLED", nil, "cancelled", nil },
      { "extend", "processed", nil, "completed", "approved" },
      { "extend", "Needs_Review", nil, "review", "needs_attention" },
      { "extend", "ARCHIVED", nil, nil, nil },
      -- Extend has no outcome field: a raw outcome is ignored
      { "extend", "PENDING", "clear", "pending", nil },
    }
    local status_key = { complycube = "status", idnow = "sessionStatus", extend = "status" }

    for _, r in ipairs(rows) do
      local provider, rs, ro, st, oc = r[1], r[2], r[3], r[4], r[5]
      it(("%s %s/%s -> %s/%s"):format(provider, rs, tostring(ro), tostring(st), tostring(oc)), function()
        local a, b = core.normalize(provider, rs, ro)
        assert.equal(st, a)
        assert.equal(oc, b)
        local raw = { id = "x", sessionId = "x", [status_key[provider]] = rs, outcome = ro }
        local s = core.session(provider, raw)
        assert.equal(st, s.status)
        assert.equal(oc, s.outcome)
        assert.equal(rs, s.raw_status)  -- kept even when it does not normalize
      end)
    end

    it("maps nil, empty and overlong values to nil", function()
      assert.same({ nil, nil }, { core.normalize("idnow") })
      assert.same({ nil, nil }, { core.normalize("idnow", "") })
      assert.same({ nil, nil }, { core.normalize("extend", ("PROCESSED"):rep(20)) })
      assert.same({ nil, nil }, { core.normalize("extend", "PROCESSED\0") })
    end)

    it("ignores a non-string raw status in a session", function()
      local s = core.session("extend", { id = "n", status = 3 })
      assert.is_nil(s.status)
      assert.equal(3, s.raw_status)
      assert.equal("wfsession.session: extend/n (?)", tostring(s))
    end)

    it("lists the vocabularies", function()
      assert.same({ "pending", "running", "review", "completed", "failed", "cancelled", "expired" },
                  core.STATUSES)
      assert.same({ "approved", "rejected", "needs_attention" }, core.OUTCOMES)
    end)

    it("raises on bad arguments", function()
      assert.has_error(function() core.normalize("stripe", "x") end)
      assert.has_error(function() core.normalize(nil, "x") end)
      assert.has_error(function() core.normalize("idnow", 5) end)
      assert.has_error(function() core.normalize("idnow", "RUNNING", {}) end)
    end)
  end)

  describe("terminal statuses", function()
    for _, r in ipairs({
      { "PENDING", false }, { "PROCESSING", false }, { "NEEDS_REVIEW", false },
      { "PROCESSED", true }, { "REJECTED", true }, { "FAILED", true }, { "CANCELLED", true },
      { "WHATEVER", false },
    }) do
      it("extend " .. r[1], function()
        assert.equal(r[2], core.session("extend", { status = r[1] }):is_terminal())
      end)
    end
    it("idnow EXPIRED", function()
      assert.is_true(core.session("idnow", { sessionStatus = "EXPIRED" }):is_terminal())
    end)
  end)

  describe("access", function()
    it("falls through to raw for other keys", function()
      local raw = fixture("complycube_workflow_session_get.json")
      local s = core.session("complycube", raw)
      assert.equal(raw.allRelatedChecks, s.allRelatedChecks)
      assert.equal("task_id_123", s.lastCompletedTaskId)
      assert.equal("68566be3a37a78622f4f7be7", s.workflowId)  -- the raw name, not workflow_id
      assert.is_nil(s.no_such_field)
      assert.is_nil(s[1])
    end)

    it("looks methods up before raw keys", function()
      local s = core.session("complycube", { id = "m", checks = "shadowed", json = 1, status = "complete" })
      assert.equal("function", type(s.checks))
      assert.equal("function", type(s.json))
      assert.equal("completed", s.status)  -- normalized, not raw
    end)

    it("reads a cjson.null left in a hand-made raw table as nil", function()
      local null = require("cjson").null
      local s = core.session("idnow", { sessionId = "n", expiresAt = null, foo = null })
      assert.is_nil(s.expires_at)
      assert.is_nil(s.foo)
    end)

    it("is read-only", function()
      local s = core.session("idnow", { sessionId = "r" })
      assert.has_error(function() s.id = "other" end, nil)
      assert.has_error(function() s.anything = 1 end)
      local ok, msg = pcall(function() s.status = "completed" end)
      assert.is_false(ok)
      assert.matches("read%-only", msg)
      assert.matches("status", msg)
      assert.equal("r", s.id)
    end)

    it("refuses other values as self", function()
      local s = core.session("idnow", { sessionId = "r" })
      local mt = getmetatable(s)
      assert.has_error(function() mt.__index(io.stdout, "id") end)
      assert.has_error(function() mt.__index({}, "id") end)
      assert.has_error(function() s.is_terminal({}) end)
      assert.has_error(function() s.checks(io.stdout) end)
      assert.has_error(function() mt.__tostring({}) end)
    end)

    it("keeps raw, not a copy", function()
      local raw = { id = "k", status = "started" }
      local s = core.session("complycube", raw)
      raw.entityName = "Late Name"
      assert.equal("Late Name", s.subject_name)
      assert.equal(raw, s.raw)
    end)
  end)

  describe("methods", function()
    it("to_table has the non-nil fields plus provider, status, outcome, raw", function()
      local raw = fixture("complycube_workflow_session_get.json")
      local t = core.session("complycube", raw):to_table()
      assert.is_nil(getmetatable(t))
      assert.equal(raw, t.raw)
      t.raw = nil
      assert.same({
        id = "5eb2b61e02df0a0008f1cf2a", provider = "complycube",
        status = "completed", outcome = "approved",
        raw_status = "complete", raw_outcome = "clear",
        workflow_id = "68566be2a37a78622f4f7be3",
        workflow_name = "AML + Liveness + Document Verification flow",
        workflow_version = 1,
        subject_id = "5eb1276d96be4a0008713af5", subject_name = "John Doe",
        created_at = "2025-01-13T11:35:20.592Z", updated_at = "2025-01-13T11:39:30.124Z",
        completed_at = "2025-01-13T11:37:30.124Z",
      }, t)
    end)

    it("to_table leaves out what is missing", function()
      local t = core.session("extend", { id = "e", status = "WEIRD" }):to_table()
      assert.same({ id = "e", provider = "extend", raw_status = "WEIRD", raw = { id = "e", status = "WEIRD" } }, t)
    end)

    it("json encodes raw", function()
      local raw = fixture("idnow_session_get.json")
      local s = core.session("idnow", raw)
      local text = assert(s:json())
      assert.equal("string", type(text))
      local back = assert(core.decode(text))
      assert.same(raw, back)
      assert.is_nil(text:find("null", 1, true))  -- nulls were dropped at decode
    end)

    it("json returns nil, msg for a raw table cjson cannot encode", function()
      local s = core.session("idnow", { sessionId = "f", cb = print })
      local text, msg = s:json()
      assert.is_nil(text)
      assert.equal("string", type(msg))
    end)
  end)

  describe("tostring", function()
    it("shows the raw status when it does not normalize", function()
      local s = core.session("complycube", { id = "c1", status = "on_hold", outcome = "clear" })
      assert.equal("wfsession.session: complycube/c1 (on_hold, approved)", tostring(s))
      s = core.session("idnow", { sessionId = "i1", sessionStatus = "RUNNING" })
      assert.equal("wfsession.session: idnow/i1 (running)", tostring(s))
      s = core.session("idnow", {})
      assert.equal("wfsession.session: idnow/? (?)", tostring(s))
    end)
  end)

  describe("core.session", function()
    it("raises argument errors", function()
      local ok, msg = pcall(core.session, "stripe", {})
      assert.is_false(ok)
      assert.matches("#1", msg)
      assert.matches("unknown provider 'stripe'", msg)
      ok, msg = pcall(core.session, "idnow", "not a table")
      assert.is_false(ok)
      assert.matches("#2", msg)
      assert.has_error(function() core.session("idnow") end)
      assert.has_error(function() core.session({}, {}) end)
      assert.has_error(function() core.session("IDNOW", {}) end)
    end)

    it("builds and reads 100k sessions quickly", function()
      local raw = fixture("idnow_sessions_list.json").content[1]
      local t0 = os.clock()
      local n = 0
      for _ = 1, 100000 do
        local s = core.session("idnow", raw)
        if s.id and s.status == "completed" and s.outcome and s.created_at then n = n + 1 end
      end
      assert.equal(100000, n)
      assert.is_true(os.clock() - t0 < 10, "took " .. (os.clock() - t0) .. " s")
    end)
  end)
end)
