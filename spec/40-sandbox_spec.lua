-- The provider sandbox: nginx serving ComplyCube, IDnow and Extend from one
-- seeded data set. Talks HTTP with the curl tool only, so it does not depend
-- on the wfsession client.

local sandbox = require "wfsession.sandbox"
local cjson = require "cjson"

-- Spec-local helpers ----------------------------------------------------------

local q = require("wfsession.sandbox.nginx").shell_quote

local helpers = require "helpers"
local slurp, run, capture = helpers.slurp, helpers.run, helpers.capture

-- the wrapper runs `wfsession` with the Lua of this run, whose in-tree core it can load
local WRAPPER = "WFSESSION_LUA=" .. helpers.LUA .. " bin/wfsession-sandbox"

local function now()
  return tonumber(capture("date +%s.%N"))
end

local function pid_alive(pid)
  local stat = slurp("/proc/" .. pid .. "/stat")
  return stat ~= nil and stat:match("^%d+ %b() (%a)") ~= "Z"
end

local function escape(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

local function query(t)
  local keys, parts = {}, {}
  for k in pairs(t or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  for n, k in ipairs(keys) do parts[n] = escape(k) .. "=" .. escape(t[k]) end
  return #parts > 0 and ("?" .. table.concat(parts, "&")) or ""
end

-- One HTTP request through curl. Returns status, body, headers (lower-case
-- names), curl exit code. opts: method, headers, body, compressed, cacert.
local function http(url, opts)
  opts = opts or {}
  local hfile, bfile = os.tmpname(), os.tmpname()
  local args = { "curl", "-sS", "--max-time", tostring(opts.timeout or 10), "-D", hfile, "-o", bfile,
    "-w", "%{http_code}", "-X", opts.method or "GET", "-H", "Expect:" }
  for k, v in pairs(opts.headers or {}) do
    args[#args + 1] = "-H"
    args[#args + 1] = k .. ": " .. v
  end
  if opts.body then
    args[#args + 1] = "--data-binary"
    args[#args + 1] = opts.body
  end
  if opts.compressed then args[#args + 1] = "--compressed" end
  if opts.cacert then
    args[#args + 1] = "--cacert"
    args[#args + 1] = opts.cacert
  end
  args[#args + 1] = url
  local parts = {}
  for n, a in ipairs(args) do parts[n] = q(a) end
  local p = assert(io.popen(table.concat(parts, " ") .. " 2>/dev/null; echo \" $?\""))
  local out = p:read("*a")
  p:close()
  local code, rc = out:match("(%d%d%d)%s+(%d+)%s*$")
  if not code then rc = out:match("(%d+)%s*$") end
  local headers = {}
  for line in (slurp(hfile) or ""):gmatch("[^\r\n]+") do
    local k, v = line:match("^([^:]+):%s*(.*)$")
    if k then headers[k:lower()] = v end
  end
  local body = slurp(bfile)
  os.remove(hfile)
  os.remove(bfile)
  return tonumber(code), body, headers, tonumber(rc)
end

local function get_json(url, opts)
  local status, body, headers = http(url, opts)
  local ok, value = pcall(cjson.decode, body or "")
  return status, ok and value or nil, body, headers
end

local function cc_headers(sb) return { Authorization = sb.complycube.api_key } end

local function ext_headers(sb, version)
  return { Authorization = "Bearer " .. sb.extend.api_key,
    ["x-extend-api-version"] = version or "2026-02-09" }
end

local function idnow_token(sb, basic)
  local opts = { method = "POST", headers = { ["Content-Type"] = "application/x-www-form-urlencoded" } }
  if basic then
    local cred = capture("printf '%s' " .. q(sb.idnow.client_id .. ":" .. sb.idnow.client_secret) ..
      " | base64 -w0")
    opts.headers.Authorization = "Basic " .. cred
    opts.body = "grant_type=client_credentials"
  else
    opts.body = "grant_type=client_credentials&client_id=" .. escape(sb.idnow.client_id) ..
      "&client_secret=" .. escape(sb.idnow.client_secret)
  end
  local status, body = get_json(sb.idnow.auth_url .. "/oidc/token", opts)
  assert(status == 200, "token request failed: " .. tostring(status))
  return body.access_token, body
end

local function idnow_list_url(sb, params, env)
  return sb.idnow.base_url .. "/v1/flows/" .. sb.idnow.flow_id .. "/" .. (env or "live") ..
    "/sessions" .. query(params)
end

-- Page through a whole listing; returns the ids in order.
local function all_cc(sb, params)
  local ids, page = {}, 1
  for _ = 1, 1000 do
    local p = { pageSize = 37, page = page }
    for k, v in pairs(params or {}) do p[k] = v end
    local status, body = get_json(sb.complycube.base_url .. "/workflowSessions" .. query(p),
      { headers = cc_headers(sb) })
    assert.equal(200, status)
    for _, item in ipairs(body.items) do ids[#ids + 1] = item.id end
    if page >= body.pages then break end
    page = page + 1
  end
  return ids
end

local function all_idnow(sb, token, params, base)
  local ids, page = {}, base or 0
  for _ = 1, 1000 do
    local p = { size = 41, page = page }
    for k, v in pairs(params or {}) do p[k] = v end
    local status, body = get_json(idnow_list_url(sb, p),
      { headers = { Authorization = "Bearer " .. token } })
    assert.equal(200, status)
    for _, s in ipairs(body.content) do ids[#ids + 1] = s.sessionId end
    if #body.content == 0 or page - (base or 0) + 1 >= body.page.totalPages then break end
    page = page + 1
  end
  return ids
end

local function all_extend(sb, params, version)
  local ids, token = {}, nil
  for _ = 1, 1000 do
    local p = { maxPageSize = 43, nextPageToken = token }
    for k, v in pairs(params or {}) do p[k] = v end
    local status, body = get_json(sb.extend.base_url .. "/workflow_runs" .. query(p),
      { headers = ext_headers(sb, version) })
    assert.equal(200, status)
    for _, r in ipairs(body.data or body.workflowRuns) do ids[#ids + 1] = r.id end
    token = body.nextPageToken
    if not token then break end
  end
  return ids
end

-- Specs --------------------------------------------------------------------------

describe("sandbox", function()
  local sb

  setup(function()
    sb = assert(sandbox.start{ sessions = 300, seed = 42 })
  end)

  teardown(function()
    if sb then sb:stop() end
  end)

  describe("lifecycle", function()
    it("starts quickly and stops without leaving nginx behind", function()
      local t = now()
      local s = assert(sandbox.start{ sessions = 1000000 })
      local took = now() - t
      assert.is_true(took < 1.5, "start took " .. took .. " s")
      assert.matches("^http://127%.0%.0%.1:%d+$", s.url)
      local pid, dir = s.pid, s.dir
      local pids = s:pids()
      assert.equal(pid, pids[1])
      assert.is_true(pid_alive(pid))
      assert.is_true(#pids >= 2, "no nginx worker found")
      local status, body = http(s.url .. "/_sandbox/ping")
      assert.equal(200, status)
      assert.equal('{"ok":true}', body)
      assert.is_true(s:stop())
      assert.is_false(pid_alive(pid))
      for _, w in ipairs(pids) do assert.is_false(pid_alive(w)) end
      assert.same({}, s:pids())
      assert.is_nil(slurp(dir .. "/nginx.conf"))
      assert.is_true(s:stop())   -- idempotent
      assert.is_false(s:running())
      assert.is_nil(s:stats())
    end)

    it("rejects bad options by name", function()
      assert.has_error(function() sandbox.start{ sesions = 1 } end,
        "wfsession.sandbox: unknown option 'sesions'")
      assert.has_error(function() sandbox.start{ sessions = -1 } end)
      assert.has_error(function() sandbox.start{ idnow_page_base = 2 } end,
        "wfsession.sandbox: 'idnow_page_base' must be 0 or 1")
      assert.has_error(function() sb:configure{ port = 1 } end,
        "wfsession.sandbox: unknown or start-only knob 'port'")
      assert.has_error(function() sb:truth("complycube", { colour = "red" }) end,
        "wfsession.sandbox: unknown query key 'colour'")
    end)

    it("checks a knob as its server does, in the same words", function()
      for _, bad in ipairs({
        { faults = { 500 } }, { faults = "500" }, { fault_rate = 2 }, { retry_after = 0.5 },
        { fault_random = "yes" }, { revoke_tokens = 1 }, { latency = -1 },
      }) do
        local ok, msg = pcall(sb.configure, sb, bad)
        assert.is_false(ok)
        local status, body = sb:fetch("/_sandbox/config", { method = "POST", body = cjson.encode(bad) })
        assert.equal(400, status, body)
        -- the owner says "wfsession.sandbox: 'x' must be ..."; the server "knob 'x' must be ..."
        assert.equal(cjson.decode(body).error, "knob " .. msg:match("wfsession.sandbox: (.*)$"))
      end
      assert.has_error(function() sandbox.start{ seed = -1 } end,
        "wfsession.sandbox: 'seed' must be an integer in [0, 4294967295]")
      assert.has_error(function() sandbox.start{ revoke_tokens = true } end,
        "wfsession.sandbox: unknown option 'revoke_tokens'")
      assert.has_error(function() sandbox.start{ tls = "yes" } end, "wfsession.sandbox: 'tls' must be a boolean")
    end)

    it("reports a taken port (a fixed port is not retried)", function()
      local s, err = sandbox.start{ sessions = 1, port = tonumber(sb.url:match(":(%d+)$")) }
      assert.is_nil(s)
      assert.matches("in use", err)
    end)

    it("exposes the provider settings", function()
      assert.equal(sb.url .. "/complycube/v1", sb.complycube.base_url)
      assert.equal(sb.url .. "/idnow/api", sb.idnow.base_url)
      assert.equal(sb.url .. "/idnow/auth", sb.idnow.auth_url)
      assert.equal(sb.url .. "/extend", sb.extend.base_url)
      assert.equal("live", sb.idnow.environment)
      assert.matches("^%x+%-%x+%-7%x+%-[89ab]%x+%-%x+$", sb.idnow.flow_id)
      assert.matches("^test_", sb.complycube.api_key)
    end)
  end)

  describe("ComplyCube", function()
    local url
    setup(function() url = sb.complycube.base_url .. "/workflowSessions" end)

    it("serves the documented envelope, newest first, nulls dropped", function()
      local status, body, raw = get_json(url, { headers = cc_headers(sb) })
      assert.equal(200, status)
      assert.same({ 1, 100, 300, 3 }, { body.page, body.pageSize, body.totalItems, body.pages })
      assert.equal(100, #body.items)
      assert.is_nil(raw:find("null", 1, true))
      local saw_open = false
      for k, item in ipairs(body.items) do
        assert.matches("^%x+$", item.id)
        assert.equal(24, #item.id)
        assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$", item.createdAt)
        assert.is_true(item.updatedAt >= item.createdAt)
        if k > 1 then assert.is_true(item.createdAt < body.items[k - 1].createdAt) end
        if item.status ~= "complete" then
          saw_open = true
          assert.is_nil(item.outcome)
        else
          assert.truthy(({ clear = 1, attention = 1, rejected = 1 })[item.outcome])
        end
      end
      assert.is_true(saw_open)
    end)

    it("limits pageSize to 1..1000 and page to >= 1", function()
      for _, bad in ipairs({ "pageSize=0", "pageSize=1001", "pageSize=abc", "page=0" }) do
        local status, body = get_json(url .. "?" .. bad, { headers = cc_headers(sb) })
        assert.equal(400, status, bad)
        assert.equal("invalid_request", body.type)
        assert.truthy(body.param)
      end
      local status, body = get_json(url .. "?pageSize=1000", { headers = cc_headers(sb) })
      assert.equal(200, status)
      assert.equal(300, #body.items)
      status, body = get_json(url .. "?page=99", { headers = cc_headers(sb) })
      assert.equal(200, status)
      assert.same({}, body.items)
    end)

    it("answers unsupported or malformed filters with 200 and no results", function()
      for _, f in ipairs({ "status=complete", "createdAfter=yesterday", "colour=red" }) do
        local status, body = get_json(url .. "?" .. f, { headers = cc_headers(sb) })
        assert.equal(200, status, f)
        assert.same({ 0, 0 }, { body.totalItems, body.pages })
        assert.same({}, body.items)
      end
    end)

    it("wants the raw key: no key, a wrong key or a Bearer prefix give 401", function()
      for _, h in ipairs({ {}, { Authorization = "nope" },
        { Authorization = "Bearer " .. sb.complycube.api_key } }) do
        local status, body = get_json(url, { headers = h })
        assert.equal(401, status)
        assert.same({ type = "unauthorized", message = "The 'Authorization' header is invalid" }, body)
      end
    end)

    it("gets one session with its detail, and 404s unknown ids", function()
      local ids = sb:truth("complycube", { status = "completed" })
      local status, s = get_json(url .. "/" .. ids[1], { headers = cc_headers(sb) })
      assert.equal(200, status)
      assert.equal(ids[1], s.id)
      assert.equal("complete", s.status)
      assert.truthy(s.completedAt)
      assert.is_table(s.allRelatedChecks)
      assert.truthy(s.allRelatedChecks[1].checkId)
      assert.truthy(s.workflowTemplateDescription)
      local bogus = ids[1]:sub(1, 23) .. (ids[1]:sub(24) == "0" and "1" or "0")
      for _, id in ipairs({ bogus, "5eb2b61e02df0a0008f1cf2b", "nope" }) do
        local st, err = get_json(url .. "/" .. id, { headers = cc_headers(sb) })
        assert.equal(404, st)
        assert.equal("resource_not_found", err.type)
        assert.equal("Invalid workflow session id '" .. id .. "'", err.message)
      end
    end)
  end)

  describe("IDnow", function()
    it("issues tokens with client_secret_post and client_secret_basic", function()
      local t1, body = idnow_token(sb)
      assert.same({ 86400, "Bearer" }, { body.expires_in, body.token_type })
      assert.matches("^eyJ", t1)
      local t2 = idnow_token(sb, true)
      assert.matches("^eyJ", t2)
      local status, err = get_json(sb.idnow.auth_url .. "/oidc/token", { method = "POST",
        body = "grant_type=client_credentials&client_id=" .. sb.idnow.client_id ..
          "&client_secret=wrong" })
      assert.equal(401, status)
      assert.equal("invalid_client", err.error)
      status, err = get_json(sb.idnow.auth_url .. "/oidc/token", { method = "POST",
        body = "grant_type=password" })
      assert.equal(400, status)
      assert.equal("unsupported_grant_type", err.error)
    end)

    it("serves the Spring page envelope with nulls kept", function()
      local token = idnow_token(sb)
      local status, body, raw = get_json(idnow_list_url(sb),
        { headers = { Authorization = "Bearer " .. token } })
      assert.equal(200, status)
      assert.equal(10, #body.content)
      assert.same({ size = 10, number = 0, totalElements = 300, totalPages = 30 }, body.page)
      assert.truthy(raw:find('"completedAt":null', 1, true) or raw:find('"expiresAt":null', 1, true))
      for k, s in ipairs(body.content) do
        assert.matches("^%x+%-%x+%-7%x+%-[89ab]%x+%-%x+$", s.sessionId)
        assert.equal(sb.idnow.flow_id, s.flowId)
        assert.equal("live", s.environment)
        if k > 1 then assert.is_true(s.createdAt > body.content[k - 1].createdAt) end
      end
    end)

    it("limits size to 1..1000 and checks flow, environment and token", function()
      local h = { headers = { Authorization = "Bearer " .. idnow_token(sb) } }
      for _, p in ipairs({ { size = 0 }, { size = 1001 }, { page = -1 }, { sortBy = "updatedAt" },
        { sortDesc = "yes" } }) do
        local status, body = get_json(idnow_list_url(sb, p), h)
        assert.equal(400, status)
        assert.equal("INVALID_REQUEST", body.errorCode)
      end
      local status, body = get_json(idnow_list_url(sb, { size = 1000 }), h)
      assert.equal(200, status)
      assert.equal(300, #body.content)
      status, body = get_json(sb.idnow.base_url .. "/v1/flows/00000000-0000-7000-8000-000000000000" ..
        "/live/sessions", h)
      assert.equal(404, status)
      assert.equal("FLOW_NOT_FOUND", body.errorCode)
      status = get_json(idnow_list_url(sb, nil, "prod"), h)
      assert.equal(404, status)
      for _, auth in ipairs({ {}, { Authorization = "Bearer not.a.token" },
        { Authorization = "Basic abc" } }) do
        status, body = get_json(idnow_list_url(sb), { headers = auth })
        assert.equal(401, status)
        assert.equal("UNAUTHORIZED", body.errorCode)
      end
    end)

    it("gets one session per environment and 404s others", function()
      local h = { headers = { Authorization = "Bearer " .. idnow_token(sb) } }
      local live = sb:truth("idnow")
      local staging = sb:truth("idnow", { environment = "staging" })
      assert.equal(300, #staging)
      assert.are_not.equal(live[1], staging[1])
      local status, s = get_json(sb.idnow.base_url .. "/v1/live/sessions/" .. live[5], h)
      assert.equal(200, status)
      assert.equal(live[5], s.sessionId)
      assert.truthy(s.redirectUrl ~= nil or s.state == cjson.null)
      local body
      status, body = get_json(sb.idnow.base_url .. "/v1/staging/sessions/" .. live[5], h)
      assert.equal(404, status)
      assert.equal("SESSION_NOT_FOUND", body.errorCode)
      status = get_json(sb.idnow.base_url .. "/v1/staging/sessions/" .. staging[5], h)
      assert.equal(200, status)
    end)

    it("has every status, both outcome casings and both lastStep shapes", function()
      local s2 = assert(sandbox.start{ sessions = 1000, seed = 42 })
      local h = { headers = { Authorization = "Bearer " .. idnow_token(s2) } }
      local _, body = get_json(s2.idnow.base_url .. "/v1/flows/" .. s2.idnow.flow_id ..
        "/live/sessions?size=1000", h)
      local _, cc = get_json(s2.complycube.base_url .. "/workflowSessions?pageSize=1000",
        { headers = cc_headers(s2) })
      local _, ext = get_json(s2.extend.base_url .. "/workflow_runs?maxPageSize=1000",
        { headers = ext_headers(s2) })
      s2:stop()
      local seen = {}
      for _, s in ipairs(body.content) do
        seen[s.sessionStatus] = true
        if type(s.outcome) == "string" then seen[s.outcome] = true end
        if type(s.lastStep) == "table" then
          seen[s.lastStep.stepId and "new-step" or "old-step"] = true
        end
      end
      for _, s in ipairs(cc.items) do
        seen["cc:" .. s.status] = true
        if s.outcome then seen["cc:" .. s.outcome] = true end
      end
      for _, r in ipairs(ext.data) do
        seen["ext:" .. r.status] = true
        seen[r.createdAt:find("%.%d+Z$") and "ext:ms" or "ext:s"] = true
      end
      for _, v in ipairs({ "CREATED", "RUNNING", "COMPLETED", "ERROR", "ABORTED", "EXPIRED",
        "accepted", "ACCEPTED", "rejected", "NO_OUTCOME", "new-step", "old-step",
        "cc:started", "cc:processing", "cc:complete", "cc:abandoned", "cc:cancelled", "cc:clear",
        "cc:attention", "cc:rejected", "ext:PENDING", "ext:PROCESSING", "ext:NEEDS_REVIEW",
        "ext:PROCESSED", "ext:REJECTED", "ext:FAILED", "ext:CANCELLED", "ext:CANCELLING",
        "ext:ms", "ext:s" }) do
        assert.is_true(seen[v] == true, v)
      end
    end)

    it("expires tokens after token_ttl and revokes them on demand", function()
      assert(sb:configure{ token_ttl = 1 })
      local short = idnow_token(sb)
      local h = { headers = { Authorization = "Bearer " .. short } }
      assert.equal(200, (http(idnow_list_url(sb), h)))
      run("sleep 1.2")
      assert.equal(401, (http(idnow_list_url(sb), h)))
      assert(sb:configure{ token_ttl = 86400 })
      local long = idnow_token(sb)
      h = { headers = { Authorization = "Bearer " .. long } }
      assert.equal(200, (http(idnow_list_url(sb), h)))
      assert(sb:configure{ revoke_tokens = true })
      assert.equal(401, (http(idnow_list_url(sb), h)))
      h = { headers = { Authorization = "Bearer " .. idnow_token(sb) } }
      assert.equal(200, (http(idnow_list_url(sb), h)))
    end)

    it("numbers pages from idnow_page_base", function()
      local h = { headers = { Authorization = "Bearer " .. idnow_token(sb) } }
      assert(sb:configure{ idnow_page_base = 1 })
      local status, body = get_json(idnow_list_url(sb, { size = 100 }), h)
      assert.equal(200, status)
      assert.equal(1, body.page.number)
      local _, second = get_json(idnow_list_url(sb, { size = 100, page = 2 }), h)
      assert.equal(2, second.page.number)
      assert.are_not.equal(body.content[1].sessionId, second.content[1].sessionId)
      assert.equal(400, (http(idnow_list_url(sb, { page = 0 }), h)))
      assert(sb:configure{ idnow_page_base = 0 })
      _, body = get_json(idnow_list_url(sb, { size = 100, page = 1 }), h)
      assert.equal(second.content[1].sessionId, body.content[1].sessionId)
    end)
  end)

  describe("Extend", function()
    local url
    setup(function() url = sb.extend.base_url .. "/workflow_runs" end)

    it("requires a known x-extend-api-version", function()
      for _, v in ipairs({ false, "2024-12-23", "latest" }) do
        local h = ext_headers(sb)
        h["x-extend-api-version"] = v or nil
        local status, body = get_json(url, { headers = h })
        assert.equal(400, status)
        assert.equal("INVALID_REQUEST", body.code)
        assert.is_false(body.retryable)
        assert.matches("^req_", body.requestId)
      end
    end)

    it("wants the Bearer key, with the error shape of the version", function()
      local status, body = get_json(url, { headers = { ["x-extend-api-version"] = "2026-02-09",
        Authorization = "Bearer wrong" } })
      assert.equal(401, status)
      assert.equal("UNAUTHORIZED", body.code)
      status, body = get_json(url, { headers = { ["x-extend-api-version"] = "2025-04-21",
        Authorization = sb.extend.api_key } })
      assert.equal(401, status)
      assert.is_false(body.success)
      assert.is_string(body.error)
    end)

    it("serves the current and the legacy envelopes", function()
      local status, body = get_json(url, { headers = ext_headers(sb) })
      assert.equal(200, status)
      assert.equal("list", body.object)
      assert.equal(10, #body.data)
      assert.is_string(body.nextPageToken)
      local run1 = body.data[1]
      assert.equal("workflow_run", run1.object)
      assert.matches("^workflow_run_[%w_%-]+$", run1.id)
      assert.equal("workflow", run1.workflow.object)
      assert.is_table(run1.files)
      for k = 2, #body.data do assert.is_true(body.data[k].updatedAt <= body.data[k - 1].updatedAt) end
      local legacy
      status, legacy = get_json(url, { headers = ext_headers(sb, "2025-04-21") })
      assert.equal(200, status)
      assert.is_true(legacy.success)
      assert.equal(run1.id, legacy.workflowRuns[1].id)
      assert.equal(run1.workflow.name, legacy.workflowRuns[1].workflowName)
      assert.equal(run1.workflow.id, legacy.workflowRuns[1].workflowId)
      -- get one: bare object, or wrapped
      local one
      status, one = get_json(url .. "/" .. run1.id, { headers = ext_headers(sb) })
      assert.equal(200, status)
      assert.equal(run1.id, one.id)
      assert.is_table(one.stepRuns)
      status, one = get_json(url .. "/" .. run1.id, { headers = ext_headers(sb, "2025-04-21") })
      assert.equal(200, status)
      assert.is_true(one.success)
      assert.equal(run1.id, one.workflowRun.id)
      status, one = get_json(url .. "/workflow_run_doesnotexist12345678901", { headers = ext_headers(sb) })
      assert.equal(404, status)
      assert.equal("NOT_FOUND", one.code)
    end)

    it("limits maxPageSize and omits nextPageToken on the last page", function()
      for _, n in ipairs({ "0", "1001", "x" }) do
        local status, body = get_json(url .. "?maxPageSize=" .. n, { headers = ext_headers(sb) })
        assert.equal(400, status)
        assert.equal("INVALID_REQUEST", body.code)
      end
      local status, body = get_json(url .. "?maxPageSize=1000", { headers = ext_headers(sb) })
      assert.equal(200, status)
      assert.equal(300, #body.data)
      assert.is_nil(body.nextPageToken)
    end)

    it("binds nextPageToken to the filters and sort it was issued for", function()
      local _, first = get_json(url .. "?maxPageSize=5&status=PROCESSED", { headers = ext_headers(sb) })
      local token = escape(first.nextPageToken)
      local status = get_json(url .. "?maxPageSize=5&status=PROCESSED&nextPageToken=" .. token,
        { headers = ext_headers(sb) })
      assert.equal(200, status)
      for _, other in ipairs({ "status=FAILED", "", "status=PROCESSED&sortBy=createdAt",
        "status=PROCESSED&sortDir=asc", "status=PROCESSED&batchId=x" }) do
        local st, body = get_json(url .. "?maxPageSize=5&" .. other .. "&nextPageToken=" .. token,
          { headers = ext_headers(sb) })
        assert.equal(400, st, other)
        assert.equal("INVALID_REQUEST", body.code)
      end
      assert.equal(400, (http(url .. "?nextPageToken=garbage", { headers = ext_headers(sb) })))
      assert.equal(400, (http(url .. "?status=DONE", { headers = ext_headers(sb) })))
    end)
  end)

  describe("truth()", function()
    it("matches paging through ComplyCube", function()
      assert.same(sb:truth("complycube"), all_cc(sb))
      assert.same(sb:truth("complycube", { outcome = "approved" }), all_cc(sb, { outcome = "clear" }))
      local ids = sb:truth("complycube")
      local _, s = get_json(sb.complycube.base_url .. "/workflowSessions/" .. ids[120],
        { headers = cc_headers(sb) })
      local _, t = get_json(sb.complycube.base_url .. "/workflowSessions/" .. ids[40],
        { headers = cc_headers(sb) })
      local between = all_cc(sb, { createdAfter = s.createdAt, createdBefore = t.createdAt })
      assert.equal(79, #between)
      assert.same(sb:truth("complycube", { created_after = s.createdAt, created_before = t.createdAt }),
        between)
      local sub = all_cc(sb, { clientId = s.clientId, updatedAfter = "2025-01-02T00:00:00Z" })
      assert.is_true(#sub > 0)
      assert.same(sb:truth("complycube", { subject_id = s.clientId,
        updated_after = "2025-01-02T00:00:00Z" }), sub)
    end)

    it("matches paging through IDnow, both sorts", function()
      local token = idnow_token(sb)
      assert.same(sb:truth("idnow"), all_idnow(sb, token))
      assert.same(sb:truth("idnow", { sort = "created_at", order = "desc" }),
        all_idnow(sb, token, { sortDesc = "true" }))
      assert.same(sb:truth("idnow", { sort = "status" }), all_idnow(sb, token, { sortBy = "status" }))
      assert.same(sb:truth("idnow", { sort = "status", order = "desc" }),
        all_idnow(sb, token, { sortBy = "status", sortDesc = "true" }))
    end)

    it("matches paging through Extend, filters and sorts", function()
      assert.same(sb:truth("extend"), all_extend(sb))
      assert.same(sb:truth("extend", { order = "asc" }), all_extend(sb, { sortDir = "asc" }))
      assert.same(sb:truth("extend", { sort = "created_at", order = "asc" }),
        all_extend(sb, { sortBy = "createdAt", sortDir = "asc" }))
      assert.same(sb:truth("extend", { outcome = "approved" }), all_extend(sb, { status = "PROCESSED" }))
      assert.same(sb:truth("extend", { status = "review" }),
        all_extend(sb, { status = "NEEDS_REVIEW" }, "2025-04-21"))
      local inv = all_extend(sb, { fileNameContains = "INVOICE" })
      assert.is_true(#inv > 0)
      assert.same(sb:truth("extend", { file_name_contains = "invoice" }), inv)
      local _, page = get_json(sb.extend.base_url .. "/workflow_runs?maxPageSize=50",
        { headers = ext_headers(sb) })
      local batch
      for _, r in ipairs(page.data) do batch = batch or (r.batchId ~= cjson.null and r.batchId) end
      assert.same(sb:truth("extend", { batch_id = batch, sort = "updated_at", order = "asc" }),
        all_extend(sb, { batchId = batch, sortDir = "asc" }))
    end)
  end)

  describe("data", function()
    it("is the same byte for byte for the same seed, and differs for another", function()
      local function bodies(s)
        local token = idnow_token(s)
        local out = {}
        out[1] = select(2, http(s.complycube.base_url .. "/workflowSessions?pageSize=50&page=2",
          { headers = cc_headers(s) }))
        out[2] = select(2, http(s.idnow.base_url .. "/v1/flows/" .. s.idnow.flow_id ..
          "/live/sessions?size=50&sortBy=status", { headers = { Authorization = "Bearer " .. token } }))
        out[3] = select(2, http(s.extend.base_url .. "/workflow_runs?maxPageSize=50",
          { headers = ext_headers(s) }))
        local first = cjson.decode(out[3]).data[7].id
        out[4] = select(2, http(s.extend.base_url .. "/workflow_runs/" .. first,
          { headers = ext_headers(s) }))
        return out
      end
      local a = assert(sandbox.start{ sessions = 300, seed = 9 })
      local b = assert(sandbox.start{ sessions = 300, seed = 9 })
      local c = assert(sandbox.start{ sessions = 300, seed = 10 })
      local ba, bb, bc = bodies(a), bodies(b), bodies(c)
      a:stop() b:stop() c:stop()
      for k = 1, 4 do
        assert.is_true(#ba[k] > 1000)
        assert.equal(ba[k], bb[k])
        assert.are_not.equal(ba[k], bc[k])
      end
    end)

    it("grows with the drift knob", function()
      assert(sb:configure{ insert_every = 2, insert_count = 3 })
      local function total()
        local _, body = get_json(sb.complycube.base_url .. "/workflowSessions?pageSize=1",
          { headers = cc_headers(sb) })
        return body.totalItems, body.items[1].id
      end
      local before = sb:truth("complycube")
      local n1, top1 = total()
      local n2 = total()
      local n3, top3 = total()
      assert(sb:configure{ insert_every = 0 })
      assert.same({ 300, 300, 303 }, { n1, n2, n3 })
      assert.equal(before[1], top1)
      local after = sb:truth("complycube")
      assert.equal(303, #after)
      assert.equal(after[1], top3)
      assert.same(before, { select(4, table.unpack(after)) })
      assert.equal(3, assert(sb:stats()).inserted.complycube)
      assert(sb:reset_drift())
      assert.equal(300, #sb:truth("complycube"))
    end)
  end)

  describe("control plane", function()
    it("counts requests and connections", function()
      assert(sb:reset_stats())
      local stats = assert(sb:stats())
      assert.same({ 0, 0 }, { stats.requests, stats.connections })
      -- Three requests on one connection (curl reuses it), then one alone.
      local args = {}
      for _, path in ipairs({ "/workflowSessions", "/workflowSessions?page=2", "/workflowSessions/x" }) do
        args[#args + 1] = q(sb.complycube.base_url .. path)
      end
      run("curl -s -o /dev/null -o /dev/null -o /dev/null -H " ..
        q("Authorization: " .. sb.complycube.api_key) .. " " .. table.concat(args, " "))
      http(sb.extend.base_url .. "/workflow_runs", { headers = ext_headers(sb) })
      idnow_token(sb)
      stats = assert(sb:stats())
      assert.equal(5, stats.requests)
      assert.equal(3, stats.connections)
      assert.equal(1, stats.token_requests)
      assert.same({ complycube = 3, idnow = 1, extend = 1 }, stats.by_provider)
      assert.same({ complycube = 2, idnow = 0, extend = 1 }, stats.list_requests)
      assert.same({ complycube = 1, idnow = 0, extend = 0 }, stats.get_requests)
      if math.type then assert.equal("integer", math.type(stats.requests)) end
    end)

    it("echoes what was sent", function()
      local status, body = get_json(sb.url .. "/_sandbox/echo/x?a=1%202", { method = "PUT",
        headers = { ["X-Test-Header"] = "Value 1" }, body = "hello" })
      assert.equal(200, status)
      assert.equal("PUT", body.method)
      assert.equal("/_sandbox/echo/x?a=1%202", body.uri)
      assert.equal("Value 1", body.headers["x-test-header"])
      assert.equal("hello", body.body)
    end)

    it("adds latency", function()
      assert(sb:configure{ latency = 0.3 })
      local t = now()
      http(sb.url .. "/_sandbox/echo")
      local took = now() - t
      assert(sb:configure{ latency = 0 })
      assert.is_true(took >= 0.3, took)
    end)

    it("rate limits per provider with 429 and Retry-After", function()
      assert(sb:configure{ rate_limit = 2 })
      local codes, retry_after, body = {}, nil, nil
      for k = 1, 6 do
        local status, b, h = http(sb.complycube.base_url .. "/workflowSessions",
          { headers = cc_headers(sb) })
        codes[k] = status
        if status == 429 then retry_after, body = h["retry-after"], b end
      end
      assert(sb:configure{ rate_limit = 0 })
      local limited = 0
      for _, c in ipairs(codes) do if c == 429 then limited = limited + 1 end end
      assert.is_true(limited >= 2, table.concat(codes, ","))
      assert.matches("^%d+$", retry_after)
      assert.equal("rate_limit_exceeded", cjson.decode(body).type)
    end)

    it("injects deterministic faults", function()
      local url = sb.extend.base_url .. "/workflow_runs"
      assert(sb:reset_stats())   -- also restarts the fault sequence
      assert(sb:configure{ fault_rate = 1, faults = { "500", "503", "drop", "truncate", "malformed" } })
      local s1, b1 = http(url, { headers = ext_headers(sb) })
      local s2 = http(url, { headers = ext_headers(sb) })
      local s3, _, _, rc3 = http(url, { headers = ext_headers(sb) })
      local _, _, _, rc4 = http(url, { headers = ext_headers(sb) })
      local s5, b5 = http(url, { headers = ext_headers(sb) })
      assert(sb:configure{ fault_rate = 0.5, faults = { "500" } })
      local failed = 0
      for _ = 1, 10 do
        if http(url, { headers = ext_headers(sb) }) == 500 then failed = failed + 1 end
      end
      assert(sb:configure{ fault_rate = 1, faults = { "slow" }, slow_seconds = 0.3 })
      local t = now()
      local s6, b6 = http(url, { headers = ext_headers(sb) })
      local slow_took = now() - t
      assert(sb:configure{ fault_rate = 0 })
      assert.equal(200, s6)
      assert.equal("list", cjson.decode(b6).object)
      assert.is_true(slow_took >= 0.25, slow_took)
      assert.equal(500, s1)
      assert.same({ code = "INTERNAL_ERROR", retryable = true },
        { code = cjson.decode(b1).code, retryable = cjson.decode(b1).retryable })
      assert.equal(503, s2)
      assert.equal(0, s3)        -- no HTTP status at all
      assert.equal(52, rc3)      -- empty reply
      assert.equal(18, rc4)      -- partial body
      assert.equal(200, s5)
      assert.is_false((pcall(cjson.decode, b5)))
      assert.equal(5, failed)
    end)
  end)

  describe("transport options", function()
    it("serves gzip and TLS when asked", function()
      local s = assert(sandbox.start{ sessions = 100, gzip = true, tls = true })
      assert.matches("^https://", s.url)
      local status, body, headers = http(s.complycube.base_url .. "/workflowSessions",
        { headers = cc_headers(s), compressed = true, cacert = s.ca_file })
      local plain = http(s.url .. "/_sandbox/ping")   -- no TLS: refused
      s:stop()
      assert.equal(200, status)
      assert.equal("gzip", headers["content-encoding"])
      assert.equal(100, cjson.decode(body).totalItems)
      assert.are_not.equal(200, plain)
    end)
  end)

  describe("options()", function()
    it("points a client of each provider at the sandbox, TLS included", function()
      local wfs = require "wfsession"
      local s = assert(sandbox.start{ sessions = 60, seed = 9, tls = true })
      finally(function() s:stop() end)
      for _, p in ipairs({ "complycube", "idnow", "extend" }) do
        local o = s:options(p, { timeout = 5, page_size = 25 })
        assert.equal(s.ca_file, o.ca_file)
        assert.equal(25, o.page_size)
        local ids = {}
        for session in wfs.new(o):sessions() do ids[#ids + 1] = session.id end
        assert.same(s:truth(p), ids)
      end
      -- a fresh table each time; extra options win
      assert.are_not.equal(s:options("idnow"), s:options("idnow"))
      assert.equal("http://127.0.0.1:1", s:options("extend", { base_url = "http://127.0.0.1:1" }).base_url)
    end)

    it("names what is wrong", function()
      local s = assert(sandbox.start{ sessions = 1 })
      finally(function() s:stop() end)
      assert.has_error(function() s:options("stripe") end,
        "wfsession.sandbox: 'provider' must be complycube, idnow or extend")
      assert.has_error(function() s:options("extend", 5) end, "wfsession.sandbox: 'extra' must be a table")
    end)
  end)

  describe("dies with its owner", function()
    -- a process that starts a sandbox, says where it is, and waits to be killed
    local HOLDER = [[
local sb = assert(require("wfsession.sandbox").start{ sessions = 10 })
io.stdout:write(sb.pid, " ", sb.dir, "\n")
io.stdout:flush()
-- waiting in Lua (os.execute would ignore SIGINT while its child runs)
local core = require "wfsession.core"
for _ = 1, 600 do core.sleep(0.1) end
]]
    local function pid_gone(pid)
      local stat = slurp("/proc/" .. pid .. "/stat")
      return stat == nil or stat:match("^%d+ %b() (%a)") == "Z"
    end

    for _, signal in ipairs({ "KILL", "TERM", "INT", "PIPE" }) do
      it("leaves no nginx and no directory within 2 s of a SIG" .. signal .. " to the owner", function()
        local script = os.tmpname()
        local f = assert(io.open(script, "wb"))
        f:write(HOLDER)
        f:close()
        local out = os.tmpname()
        -- (with SIGPIPE at its default: a process that loaded LuaSocket, busted's own
        -- once a spec used lua-redis, ignores it, and children inherit that)
        local owner = capture(("sh -c 'env --default-signal=PIPE %s%s %s > %s 2>/dev/null & echo $!'"):format(
          helpers.IN_TREE, helpers.LUA, script, out)):match("%d+")
        local line
        for _ = 1, 200 do
          line = slurp(out)
          if line and line:find("\n") then break end
          run("sleep 0.02")
        end
        local ng, dir = (line or ""):match("^(%d+) (%S+)")
        assert.is_not_nil(ng, "the owner did not start a sandbox: " .. tostring(line))
        assert.is_true(pid_alive(ng))
        run("kill -" .. signal .. " " .. owner)
        local t0 = now()
        while now() - t0 < 2 do
          if pid_gone(ng) and not slurp(dir .. "/nginx.conf") then break end
          run("sleep 0.05")
        end
        local took = now() - t0
        os.remove(script)
        os.remove(out)
        run("kill -KILL " .. owner .. " 2>/dev/null")
        assert.is_true(pid_gone(ng), "nginx still runs after " .. took .. " s")
        assert.is_nil(slurp(dir .. "/nginx.conf"), "its directory is still there")
      end)
    end

    it("gets clean Lua paths, whatever LUA_PATH and LUA_CPATH say", function()
      -- what `eval $(luarocks path)` leaves in the environment: 5.4 modules first, which
      -- nginx's LuaJIT cannot load. The owner sets its own package.cpath from Lua (any Lua of
      -- this suite can then run it), so only nginx would read what the environment says.
      local lua = helpers.LUA
      local unset = "env -u LUA_CPATH -u LUA_CPATH_5_4 -u LUA_CPATH_5_3 -u LUA_PATH_5_4 -u LUA_PATH_5_3 "
      local own = capture(unset .. lua .. " -e 'io.write(package.cpath)'")
      assert.truthy(own:find("?.so", 1, true), own)
      local out = capture(unset .. "LUA_CPATH='/usr/lib/x86_64-linux-gnu/lua/5.4/?.so;;' "
        .. "LUA_PATH='/usr/share/lua/5.4/?.lua;./lua/?.lua;./lua/?/init.lua;;' "
        .. lua .. " -e 'package.cpath = \"./?.so;" .. own .. "\"; "
        .. "local sb = assert(require(\"wfsession.sandbox\").start{}); "
        .. "print(sb:stats() and \"up\"); sb:stop()' 2>&1")
      assert.matches("up", out)
    end)
  end)

  describe("bin/wfsession-sandbox", function()
    it("prints usage", function()
      local out = capture(WRAPPER .. " --help")
      assert.matches("Usage: wfsession sandbox", out)
      assert.is_false(run(WRAPPER .. " --bogus 2>/dev/null"))
    end)

    it("runs in the foreground and stops nginx on SIGTERM", function()
      local out = os.tmpname()
      local pid = capture("sh -c '" .. WRAPPER .. " --sessions 20 --seed 5 --env >" .. out ..
        " 2>&1 & echo $!'"):match("%d+")
      local text = ""
      for _ = 1, 100 do
        text = slurp(out) or ""
        if text:find("WFS_SANDBOX_PID=%d+") then break end
        run("sleep 0.05")
      end
      local url = text:match("WFS_SANDBOX_URL=(%S+)")
      local ng = text:match("WFS_SANDBOX_PID=(%d+)")
      assert.truthy(url, text)
      assert.equal(200, (http(url .. "/_sandbox/ping")))
      assert.matches("COMPLYCUBE_API_KEY=test_", text)
      run("kill -TERM " .. pid)
      for _ = 1, 60 do
        if not pid_alive(ng) then break end
        run("sleep 0.05")
      end
      os.remove(out)
      assert.is_false(pid_alive(ng))
    end)
  end)
end)
