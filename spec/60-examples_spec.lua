-- Every example runs, end to end, against its own sandbox.
describe("examples", function()
  local helpers = require "helpers"
  local env, lua = helpers.IN_TREE, helpers.LUA

  local function run(script, args)
    return helpers.shell(env .. "timeout 60 " .. lua .. " " .. script .. " " .. (args or "") .. " 2>&1")
  end

  it("demo.lua lists all three providers and prints their summaries", function()
    local out, code = run("examples/demo.lua", "300")
    assert.equal(0, code, out)
    for _, provider in ipairs({ "complycube", "idnow", "extend" }) do
      assert.matches("== " .. provider .. ": 300 sessions", out, 1, true)
    end
    assert.matches("== all providers: 900 sessions", out, 1, true)
    assert.matches("wfsession summary: 900 sessions, approval rate %d+%.%d%%", out)
    assert.matches("by provider", out, 1, true)
  end)

  it("game_loop.lua keeps its 60 Hz frames while four listings run", function()
    local out, code = run("examples/game_loop.lua", "600 0.15")
    assert.equal(0, code, out)
    assert.equal(4, select(2, out:gsub("sessions\n", "")), out)
    assert.matches("every listing complete", out, 1, true)
    local wall, cpu = out:match("max step ([%d.]+) ms %(CPU ([%d.]+) ms%)")
    assert.is_not_nil(wall, out)
    -- no step did more than one 60 Hz frame of work (16.7 ms; locally 2-3 ms),
    -- and none waited on the network (150 ms a request): generous bounds,
    -- since a shared machine's scheduler stretches both
    assert.is_true(tonumber(cpu) <= 16, out)
    assert.is_true(tonumber(wall) <= 75, out)
  end)

  -- The four scripts below, run as a user would: in a clean environment (no
  -- credentials, so they start their own sandbox) or with the credentials of
  -- the spec's own sandbox (the "real provider" path). Expected values come
  -- from the library and the sandbox's oracle directly, never from a script.
  local wfs = require "wfsession"
  local cjson = require "cjson"
  local SEED, SESSIONS = 7, 2000   -- the scripts' sandbox: seed 7, WFS_SANDBOX_SESSIONS
  local CLEAN = "env -u COMPLYCUBE_API_KEY -u IDNOW_CLIENT_ID -u IDNOW_CLIENT_SECRET -u IDNOW_FLOW_ID "
    .. "-u IDNOW_ENVIRONMENT -u EXTEND_API_KEY -u WFS_PROVIDER -u WFS_BASE_URL -u WFS_AUTH_URL "
    .. "-u WFS_SANDBOX_SESSIONS -u WFS_SANDBOX_LATENCY WFS_SANDBOX_SESSIONS=" .. SESSIONS .. " "
  local PROVIDERS = { "complycube", "idnow", "extend" }

  local nginx = require "wfsession.sandbox.nginx"
  local quote, slurp = nginx.shell_quote, helpers.slurp

  local function command(vars, script, args)
    local parts = {}
    for k, v in pairs(vars or {}) do parts[#parts + 1] = k .. "=" .. quote(v) end
    return env .. CLEAN .. table.concat(parts, " ") .. " timeout 60 " .. lua .. " " .. script .. " "
      .. (args or "")
  end

  -- stdout, stderr and the exit status of a script run
  local function run3(vars, script, args)
    local errfile = os.tmpname()
    local out, code = helpers.shell(command(vars, script, args) .. " 2>" .. errfile)
    local err = slurp(errfile)
    os.remove(errfile)
    return out, err, code
  end

  -- the nginx a script started (it says its pid on stderr) is gone, not left to the watchdog
  local function assert_sandbox_stopped(err)
    local pid = err:match("nginx pid (%d+)")
    assert.is_not_nil(pid, err)
    assert.is_false(nginx.alive(pid), "nginx " .. pid .. " still runs")
  end

  -- the environment that gives a script the spec sandbox's credentials
  local function credentials(sb, provider)
    local p = sb[provider]
    if provider == "idnow" then
      return { IDNOW_CLIENT_ID = p.client_id, IDNOW_CLIENT_SECRET = p.client_secret, IDNOW_FLOW_ID = p.flow_id,
               WFS_BASE_URL = p.base_url, WFS_AUTH_URL = p.auth_url, WFS_PROVIDER = provider }
    end
    return { [provider == "extend" and "EXTEND_API_KEY" or "COMPLYCUBE_API_KEY"] = p.api_key,
             WFS_BASE_URL = p.base_url, WFS_PROVIDER = provider }
  end

  local function spec_sandbox()
    local sb = assert(helpers.sandbox{ sessions = SESSIONS, seed = SEED })
    finally(function() sb:stop() end)
    return sb
  end

  local function iso(t)
    local s = math.floor(t)
    return os.date("!%Y-%m-%dT%H:%M:%S", s) .. (".%03dZ"):format(math.floor((t - s) * 1000))
  end

  -- RFC 4180: CRLF-terminated records, fields quoted when needed, "" in quotes
  local function parse_csv(s)
    local rows, row, i = {}, {}, 1
    while i <= #s do
      local v
      if s:sub(i, i) == '"' then
        local buf, j = {}, i + 1
        while true do
          local q = assert(s:find('"', j, true), "unterminated quoted field")
          buf[#buf + 1] = s:sub(j, q - 1)
          if s:sub(q + 1, q + 1) ~= '"' then i = q + 1 break end
          buf[#buf + 1] = '"'
          j = q + 2
        end
        v = table.concat(buf)
      else
        local j = s:find("[,\r\n]", i) or #s + 1
        v = s:sub(i, j - 1)
        assert(not v:find('"', 1, true), "a quote in an unquoted field at byte " .. i)
        i = j
      end
      row[#row + 1] = v
      if s:sub(i, i) == "," then
        i = i + 1
      else
        assert(s:sub(i, i + 1) == "\r\n", "a record not ended by CRLF at byte " .. i)
        rows[#rows + 1], row, i = row, {}, i + 2
      end
    end
    return rows
  end

  local function set_of(list)
    local set = {}
    for _, v in ipairs(list) do set[v] = true end
    return set
  end

  it("export_rejected.lua writes the rejected sessions of the last 7 days as RFC 4180 CSV", function()
    local sb = spec_sandbox()
    local COLUMNS = "id,provider,status,outcome,raw_status,raw_outcome,workflow_id,workflow_name,subject_id,"
      .. "subject_name,created_at,completed_at"
    local NOW = "2025-01-12T06:00:00Z"   -- the data runs from 2025-01-01 to 2025-01-14: both bounds cut it
    local now = wfs.time(NOW)
    local after, before = iso(now - 7 * 86400), iso(now)
    for _, provider in ipairs(PROVIDERS) do
      local path = os.tmpname()
      local out, err, code = run3(nil, "examples/export_rejected.lua", path .. " --provider " .. provider
        .. " --now " .. NOW)
      local text = slurp(path)
      os.remove(path)
      assert.equal(0, code, err)
      assert.equal("", out)
      assert_sandbox_stopped(err)
      local rows = parse_csv(text)
      assert.equal(COLUMNS, table.concat(table.remove(rows, 1), ","))
      local ids, ncol = {}, select(2, COLUMNS:gsub(",", "")) + 1
      for _, r in ipairs(rows) do
        assert.equal(ncol, #r, table.concat(r, "|"))
        assert.equal(provider, r[2])
        assert.equal("completed", r[3])
        assert.equal("rejected", r[4])
        local t = wfs.time(r[11])
        assert.is_true(t > now - 7 * 86400 and t < now, r[11])
        ids[#ids + 1] = r[1]
      end
      assert.equal(tonumber(err:match("(%d+) rejected " .. provider .. " sessions")), #rows, err)
      -- the library with the same filter, and the sandbox's brute-force oracle
      local client = helpers.client(sb, provider)
      local expected = helpers.ids(client:sessions{ status = "completed", outcome = "rejected",
                                                    created_after = after, created_before = before })
      assert.is_true(#expected > 50, "too few rejected sessions in the window to prove anything")
      assert.same(expected, ids)
      assert.same(set_of(assert(sb:truth(provider, { outcome = "rejected", created_after = after,
                                                     created_before = before }))), set_of(ids))
    end
    -- to stdout, NOW defaulting to just after the sandbox's newest session
    local out, err, code = run3(nil, "examples/export_rejected.lua")
    assert.equal(0, code, err)
    local rows = parse_csv(out)
    assert.equal(COLUMNS, table.concat(rows[1], ","))
    assert.equal(#rows - 1, tonumber(err:match("(%d+) rejected complycube sessions")), err)
    assert.is_true(#rows > 50, out)
    assert_sandbox_stopped(err)
  end)

  it("daily_summary.lua counts each day's outcomes per workflow, adding up to the listed sessions", function()
    local sb = spec_sandbox()
    local NOW = "2025-01-12T06:00:00Z"
    local now = wfs.time(NOW)
    local first = (math.floor(now / 86400) - 6) * 86400
    for _, provider in ipairs({ "extend", "idnow" }) do   -- the credentials path, against the spec's sandbox
      local out, err, code = run3(credentials(sb, provider), "examples/daily_summary.lua", "--now " .. NOW)
      assert.equal(0, code, err)
      assert.not_matches("sandbox", err)
      local got, days = {}, {}
      for line in out:gmatch("[^\n]+") do
        local day, name, total, a, r, na, none =
          line:match("^(%d%d%d%d%-%d%d%-%d%d)  (.-)%s+(%d+)%s+(%d+)%s+(%d+)%s+(%d+)%s+(%d+)$")
        if day then
          if days[#days] ~= day then days[#days + 1] = day end
          got[day .. "|" .. name] = { tonumber(total), tonumber(a), tonumber(r), tonumber(na), tonumber(none) }
        else
          assert.matches("^day%s+workflow%s+total%s+approved%s+rejected%s+needs_attention%s+none$", line)
        end
      end
      -- the same counts, day by day, from the library's listing of each day alone
      local client = helpers.client(sb, provider)
      local want, window = {}, 0
      for d = 0, 6 do
        local day = os.date("!%Y-%m-%d", first + d * 86400)
        assert.equal(day, days[d + 1])
        local all = { 0, 0, 0, 0, 0 }
        want[day .. "|(all)"] = all
        local before = d == 6 and NOW or iso(first + (d + 1) * 86400)
        for s in client:sessions{ created_after = iso(first + d * 86400 - 0.001), created_before = before } do
          local key = day .. "|" .. (s.workflow_name or s.workflow_id)
          want[key] = want[key] or { 0, 0, 0, 0, 0 }
          local col = ({ approved = 2, rejected = 3, needs_attention = 4 })[s.outcome] or 5
          for _, c in ipairs({ want[key], all }) do
            c[1], c[col] = c[1] + 1, c[col] + 1
          end
          window = window + 1
        end
      end
      assert.equal(7, #days)
      assert.same(want, got)
      local listed = #wfs.collect(client:sessions{ created_after = iso(first - 0.001), created_before = NOW })
      assert.is_true(listed > 800, "the window should hold about a week of sessions")
      assert.equal(listed, window)
    end
  end)

  it("wait_session.lua prints the final outcome, and exits 3 on a session that does not finish", function()
    local sb = spec_sandbox()
    local client = helpers.client(sb, "complycube")
    local done = assert(client:sessions{ outcome = "rejected", max_items = 1 }:next())
    local out, err, code = run3(credentials(sb, "complycube"), "examples/wait_session.lua",
      done.id .. " --timeout 10 --interval 0.1")
    assert.equal(0, code, err)
    assert.equal("complycube/" .. done.id .. ": status completed, outcome rejected (provider: complete/rejected), "
      .. "completed at " .. assert(client:session(done.id)).completed_at .. "\n", out)
    -- its own sandbox: the newest running session, which never finishes there
    local started = os.time()
    out, err, code = run3(nil, "examples/wait_session.lua", "--provider extend --timeout 0.3 --interval 0.1")
    assert.equal(3, code, err)
    assert.is_true(os.time() - started < 20)
    assert.equal("", out)
    local id = err:match("waiting for extend/(%S+)")
    assert.equal("running", assert(helpers.client(sb, "extend"):session(id)).status)
    assert.matches("timeout: session " .. id .. " not terminal after 0.3 s", err, 1, true)
    assert_sandbox_stopped(err)
    -- an id the provider does not know is an error, not a timeout
    out, err, code = run3(credentials(sb, "complycube"), "examples/wait_session.lua", "000000000000000000000000")
    assert.equal(1, code, err)
    assert.matches("not_found", err)
    assert.equal("", out)
  end)

  it("resume_export.lua, interrupted and run again, exports every session exactly once", function()
    local sb = spec_sandbox()
    local function lines_of(path)
      local ids = {}
      for line in (slurp(path) or ""):gmatch("[^\n]*\n") do ids[#ids + 1] = assert(cjson.decode(line)).id end
      return ids
    end
    local function check_complete(provider, path, ids)
      assert.is_nil(slurp(path .. ".state"), "the state file is removed at the end")
      assert.equal(SESSIONS, #ids)
      assert.is_true(helpers.unique(ids))
      assert.same(set_of(assert(sb:truth(provider))), set_of(ids))
    end
    for _, provider in ipairs(PROVIDERS) do
      local path = os.tmpname()
      finally(function() os.remove(path); os.remove(path .. ".state") end)
      local args = path .. " --provider " .. provider .. " --page-size 100 --save-every 100"
      local _, err, code = run3(nil, "examples/resume_export.lua", args .. " --stop-after 250")
      assert.equal(130, code, err)
      assert_sandbox_stopped(err)
      assert.equal(250, #lines_of(path))
      assert.matches("^%d+ %S+\n$", slurp(path .. ".state"))
      -- a line past the saved state (as a kill -9 between two saves leaves) is cut off
      local f = assert(io.open(path, "ab"))
      f:write('{"id":"written after the last save"}\n')
      f:close()
      _, err, code = run3(nil, "examples/resume_export.lua", args)
      assert.equal(0, code, err)
      assert.matches("1750 sessions written in this run", err, 1, true)
      check_complete(provider, path, lines_of(path))
    end
    -- a real Ctrl-C (SIGINT) in the middle of a slow export
    local path = os.tmpname()
    finally(function() os.remove(path); os.remove(path .. ".state") end)
    local errfile, pidfile, rcfile = os.tmpname(), os.tmpname(), os.tmpname()
    finally(function() os.remove(errfile); os.remove(pidfile); os.remove(rcfile) end)
    os.remove(pidfile)
    os.remove(rcfile)
    -- in the background: the script's pid, then (once it ends) its exit status, each in a file;
    -- timeout --foreground passes one SIGINT on (without it, a second one to the whole group
    -- would kill lua5.4 outright, as its handler asks for on a second Ctrl-C)
    local cmd = command({ WFS_SANDBOX_LATENCY = 0.05 }, "examples/resume_export.lua",
      path .. " --page-size 10 --save-every 50"):gsub("timeout 60", "timeout --foreground 60")
    os.execute("( sh -c 'echo $$ >" .. pidfile .. "; exec env " .. cmd:gsub("'", "'\\''")
      .. " 2>" .. errfile .. "'; echo $? >" .. rcfile .. " ) >/dev/null 2>&1 &")
    local pid
    for _ = 1, 500 do
      pid = (slurp(pidfile) or ""):match("^(%d+)")
      if pid and #lines_of(path) >= 100 then break end
      os.execute("sleep 0.02")
    end
    assert.is_not_nil(pid, "the script did not start")
    os.execute("kill -INT " .. pid)
    local code
    for _ = 1, 1500 do
      code = tonumber((slurp(rcfile) or ""):match("^(%d+)"))
      if code then break end
      os.execute("sleep 0.02")
    end
    local err = slurp(errfile)
    assert.equal(130, code, err)
    assert.matches("interrupted!", err, 1, true)
    assert_sandbox_stopped(err)
    local before = #lines_of(path)
    assert.is_true(before >= 100 and before < SESSIONS, err)
    local _, err2, code2 = run3(nil, "examples/resume_export.lua", path .. " --page-size 500")
    assert.equal(0, code2, err2)
    check_complete("complycube", path, lines_of(path))
  end)
end)
