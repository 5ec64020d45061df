-- The wfsession command, run as a user runs it (a child process, the same
-- Lua as the specs), against its own --sandbox or a sandbox of the spec.
local helpers = require "helpers"
local core = require "wfsession.core"
local cli = require "wfsession.cli"
local nginx = require "wfsession.sandbox.nginx"

local LUA, ENV = helpers.LUA, helpers.IN_TREE

-- Run the command; returns stdout, stderr, exit status.
local function wfsession(args, env)
  local out, err = os.tmpname(), os.tmpname()
  local cmd = ("%s%s timeout 120 %s bin/wfsession %s >%s 2>%s"):format(ENV, env or "", LUA, args, out, err)
  local ok, _, code = os.execute(cmd)
  if type(ok) == "number" then code = ok / 256 end
  if ok == true then code = 0 end
  local o, e = nginx.read_file(out) or "", nginx.read_file(err) or ""
  os.remove(out)
  os.remove(err)
  return o, e, code
end

local function lines(s)
  local out = {}
  for l in s:gmatch("[^\r\n]+") do out[#out + 1] = l end
  return out
end

describe("wfsession", function()
  it("prints help for itself and each command, and its version", function()
    local out, _, code = wfsession("--help")
    assert.equal(0, code)
    for _, c in ipairs({ "list", "export", "get", "summary", "wait" }) do
      assert.matches(c, out, 1, true)
      local o, _, rc = wfsession(c .. " --help")
      assert.equal(0, rc, c)
      assert.matches("Usage: wfsession " .. c, o, 1, true)
    end
    out, _, code = wfsession("--version")
    assert.equal(0, code)
    assert.equal("wfsession " .. require("wfsession").VERSION .. "\n", out)
  end)

  it("exits 2 on a usage error, with a message on stderr", function()
    for _, args in ipairs({ "", "lis", "list", "list --provider nope", "list -p complycube --bogus",
                            "list -p complycube --sandbox --status nope", "export -p extend --sandbox",
                            "list -p complycube", "wait -p idnow" }) do
      local out, err, code = wfsession(args, "COMPLYCUBE_API_KEY= ")
      assert.equal(2, code, args .. ": " .. err)
      assert.equal("", out, args)
      assert.matches("^wfsession: ", err)
    end
  end)

  it("quotes CSV fields as RFC 4180 says", function()
    assert.equal("plain", cli.csv_field("plain"))
    assert.equal('"a,b"', cli.csv_field("a,b"))
    assert.equal('"say ""hi"""', cli.csv_field('say "hi"'))
    assert.equal('"two\nlines"', cli.csv_field("two\nlines"))
    assert.equal("", cli.csv_field(nil))
    assert.equal("3", cli.csv_field(3))
  end)

  describe("against a sandbox", function()
    local sb
    setup(function() sb = assert(helpers.sandbox{ sessions = 120, seed = 71 }) end)
    teardown(function() if sb then sb:stop() end end)

    local function env(provider, extra)
      local p = sb[provider]
      local e = ("WFS_X=1 %s "):format(extra or "")
      if provider == "idnow" then
        return e .. ("IDNOW_CLIENT_ID=%q IDNOW_CLIENT_SECRET=%q IDNOW_FLOW_ID=%q "):format(p.client_id,
          p.client_secret, p.flow_id), ("--base-url %s --auth-url %s"):format(p.base_url, p.auth_url)
      end
      local var = provider == "extend" and "EXTEND_API_KEY" or "COMPLYCUBE_API_KEY"
      return e .. ("%s=%q "):format(var, p.api_key), "--base-url " .. p.base_url
    end

    for _, provider in ipairs({ "complycube", "idnow", "extend" }) do
      it("lists " .. provider .. " in every format, credentials from the environment", function()
        local e, urls = env(provider)
        local truth = sb:truth(provider, {})
        local out, err, code = wfsession(("list -p %s %s -f jsonl"):format(provider, urls), e)
        assert.equal(0, code, err)
        local ids = {}
        for _, l in ipairs(lines(out)) do
          local row = assert(core.decode(l))
          assert.equal(provider, row.provider)
          ids[#ids + 1] = row.id
        end
        assert.same(truth, ids)
        out, err, code = wfsession(("list -p %s %s -f csv --max-items 10"):format(provider, urls), e)
        assert.equal(0, code, err)
        local rows = lines(out)
        assert.equal(table.concat(cli.FIELDS, ","), rows[1])
        assert.equal(11, #rows)
        out, err, code = wfsession(("list -p %s %s --max-items 3"):format(provider, urls), e)
        assert.equal(0, code, err)
        assert.equal(4, #lines(out))
        assert.matches("^ID%s+PROVIDER%s+STATUS", out)
        assert.equal("", err)  -- no progress line: stderr is not a terminal
        -- the credentials are never echoed, not even when they are wrong
        local bad = provider == "idnow" and "IDNOW_CLIENT_SECRET=wrong-secret-5150" or
          (provider == "extend" and "EXTEND_API_KEY" or "COMPLYCUBE_API_KEY") .. "=wrong-key-5150"
        out, err, code = wfsession(("list -p %s %s"):format(provider, urls), e .. bad .. " ")
        assert.equal(1, code)
        assert.matches("%[auth%]", err)
        assert.is_nil((out .. err):find("5150", 1, true))
      end)
    end

    it("gets sessions by id, each failure for its own id", function()
      local e, urls = env("complycube")
      local id = sb:truth("complycube", {})[5]
      local out, err, code = wfsession(("get -p complycube %s %s no-such-id -f jsonl"):format(urls, id), e)
      assert.equal(1, code)
      assert.equal(id, core.decode(lines(out)[1]).id)
      assert.matches("no%-such%-id: .*%[not_found%]", err)
    end)

    it("waits for a terminal session, and times out on one that is not", function()
      local e, urls = env("complycube")
      local done, running
      for _, s in ipairs(require("wfsession").collect(helpers.client(sb, "complycube"):sessions{})) do
        if s:is_terminal() then done = done or s.id else running = running or s.id end
      end
      local out, err, code = wfsession(("wait -p complycube %s %s --timeout 5"):format(urls, done), e)
      assert.equal(0, code, err)
      assert.matches(done, out, 1, true)
      out, err, code = wfsession(("wait -p complycube %s %s --timeout 1 --interval 0.2"):format(urls, running), e)
      assert.equal(1, code)
      assert.equal("", out)
      assert.matches("%[timeout%]", err)
    end)

    it("summarizes as wfs.summarize does", function()
      local e, urls = env("extend")
      local out, err, code = wfsession(("summary -p extend %s"):format(urls), e)
      assert.equal(0, code, err)
      local sum = require("wfsession").summarize(helpers.client(sb, "extend"):sessions{}, { by = "workflow_name" })
      assert.matches("== extend: " .. sum.total .. " sessions, by workflow_name", out, 1, true)
      assert.matches(sum:format(), out, 1, true)
    end)
  end)

  describe("--sandbox", function()
    it("runs any command offline, for every provider at once", function()
      local out, err, code = wfsession("--sandbox --sandbox-sessions 50 list -p all -f csv")
      assert.equal(0, code, err)
      assert.equal(151, #lines(out))
      out, err, code = wfsession("summary --sandbox --sandbox-sessions 50 -p all")
      assert.equal(0, code, err)
      assert.matches("== all providers: 150 sessions", out, 1, true)
    end)

    it("writes the outcome report with --html: a section per provider, IDnow by flow id", function()
      local page = os.tmpname()
      finally(function() os.remove(page) end)
      local out, err, code = wfsession("--sandbox --sandbox-sessions 60 summary -p all --html " .. page)
      assert.equal(0, code, err)
      assert.matches("== idnow: 60 sessions, by workflow_id", out, 1, true)
      assert.matches("== extend: 60 sessions, by workflow_name", out, 1, true)
      local html = nginx.read_file(page)
      assert.matches("^<!DOCTYPE html>", html)
      for _, p in ipairs({ "complycube", "idnow", "extend" }) do
        assert.matches('data-provider="' .. p .. '" data-total="60"', html, 1, true)
      end
      assert.is_nil(html:find("<script", 1, true))
      assert.is_nil(html:find("https?://"))
    end)

    it("stops cleanly on Ctrl-C, flushing what was listed, and resumes from the saved cursor", function()
      local dir = os.tmpname()
      os.remove(dir)
      assert(nginx.run("mkdir -p " .. dir))
      finally(function() nginx.run("rm -rf " .. dir) end)
      local csv, cursor = dir .. "/out.csv", dir .. "/cursor"
      local args = ("--sandbox --sandbox-sessions 200000 export -p complycube --out %s --resume %s "
        .. "--page-size 100"):format(csv, cursor)
      local pid = nginx.capture(("%s sh -c '%s bin/wfsession %s >/dev/null 2>%s/err & echo $!'")
        :format(ENV, LUA, args, dir)):match("%d+")
      -- interrupt once it has written something
      for _ = 1, 200 do
        if #(nginx.read_file(csv) or "") > 100000 then break end
        nginx.sleep(0.05)
      end
      nginx.run("kill -INT " .. pid)
      local code
      for _ = 1, 200 do
        if not nginx.alive(pid) then break end
        nginx.sleep(0.05)
      end
      assert.is_false(nginx.alive(pid))
      assert.matches("interrupted", nginx.read_file(dir .. "/err") or "")
      assert.is_string(nginx.read_file(cursor))
      local written = #lines(nginx.read_file(csv))
      assert.is_true(written > 1 and written < 200001, written)
      assert.is_nil(nginx.capture("cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '")
        :find("wfsession-sandbox." .. "%w+/nginx.conf"), "a sandbox is left")
      local _, err
      _, err, code = wfsession((args:gsub("%-%-page%-size 100", "--page-size 1000")))
      assert.equal(0, code, err)
      local rows = lines(nginx.read_file(csv))
      assert.equal(200001, #rows)
      local seen = {}
      for i = 2, #rows do
        local id = rows[i]:match("^[^,]+")
        assert.is_nil(seen[id], "twice: " .. id)
        seen[id] = true
      end
      assert.is_nil(nginx.read_file(cursor))
    end)

    it("shows a progress line when stderr is a terminal", function()
      -- script(1) gives the command a terminal; a chroot without /dev/pts has none to give
      if not nginx.run("script -qec true /dev/null >/dev/null 2>&1") then
        return pending("script(1) cannot open a pseudo-terminal here")
      end
      local out = nginx.capture(("%s script -qec '%s bin/wfsession --sandbox --sandbox-sessions 3000 list "
        .. "-p complycube --page-size 100 >/dev/null' /dev/null"):format(ENV, LUA))
      assert.matches("%d+ sessions, %d+ pages, %d+/s", out)
    end)
  end)
end)
