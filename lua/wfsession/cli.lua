--- The `wfsession` command, thin over the library: list, export, get,
-- summary and wait, for any provider (`bin/wfsession` calls `main`).
--
--     wfsession [global options] <command> [options]
--
-- Data goes to stdout (or `--out`); progress, warnings and errors to
-- stderr. Exit status: 0 done, 1 a runtime failure, 2 a usage error, 130
-- interrupted. Credentials come from the environment (COMPLYCUBE_API_KEY,
-- IDNOW_CLIENT_ID + IDNOW_CLIENT_SECRET (+ IDNOW_FLOW_ID), EXTEND_API_KEY)
-- or from options, and are never printed.
-- @module wfsession.cli

local wfs = require "wfsession"
local core = require "wfsession.core"
local argparse = require "argparse"
local util = require "wfsession.util"

local M = {}

local PROVIDERS = { "complycube", "idnow", "extend" }
local FIELDS = { "id", "provider", "status", "outcome", "raw_status", "raw_outcome", "workflow_id",
                 "workflow_name", "workflow_version", "subject_id", "subject_name", "created_at",
                 "updated_at", "started_at", "completed_at", "expires_at" }

-- query options: option name (dashes) -> query key, and how to read the value;
-- every filter key the library knows, then the paging keys
local QUERY = {}
for i, key in ipairs(util.FILTER_KEYS) do QUERY[i] = { (key:gsub("_", "-")) } end
for _, q in ipairs({ { "page-size", "number" }, { "max-items", "number" }, { "cursor" } }) do
  QUERY[#QUERY + 1] = q
end

-- `wfsession sandbox` options: name, help (all numbers; the sandbox's option is the name with _)
local SANDBOX_OPTIONS = {
  { "sessions", "Sessions per provider (default 1000).", "<n>" },
  { "seed", "Data seed (default 1): same seed, same data.", "<n>" },
  { "latency", "Seconds added to every request (default 0).", "<seconds>" },
  { "port", "Port (default: a free one).", "<port>" },
  { "idnow-page-base", "0 or 1: IDnow page numbering (default 0).", "<0|1>" },
  { "token-ttl", "IDnow token lifetime in seconds (default 86400).", "<seconds>" },
}

-- A failure the command reports: `code` is the exit status.
local Exit = {}
Exit.__index = Exit
local function exit(code, msg) return setmetatable({ code = code, msg = msg }, Exit) end

-- ======================================================================
-- Arguments
-- ======================================================================

local function add_globals(p)
  p:flag("--sandbox", "Run against a throwaway local sandbox (no account needed).")
  p:option("--sandbox-sessions", "Sessions per provider in the sandbox."):convert(tonumber)
  p:option("--base-url", "Another base URL for the provider's API.")
  p:option("--auth-url", "IDnow: another auth server root.")
  p:option("--flow-id", "IDnow: the flow (default IDNOW_FLOW_ID).")
  p:option("--environment", "IDnow: live or staging."):choices({ "live", "staging" })
  p:option("--api-version", "Extend: 2026-02-09 or 2025-04-21 (legacy).")
  p:option("--api-key", "ComplyCube or Extend key (better: the environment variable).")
  p:option("--client-id", "IDnow client id (better: IDNOW_CLIENT_ID).")
  p:option("--client-secret", "IDnow client secret (better: IDNOW_CLIENT_SECRET).")
  p:option("--concurrency", "Requests in flight (1..64)."):convert(tonumber)
  p:option("--timeout", "Seconds for one request (after `wait`: how long to wait in all)."):convert(tonumber)
  p:option("--ca-file", "A CA bundle to trust as well.")
  p:flag("--quiet", "No progress line, no warnings.")
end

local function add_query(p)
  for _, q in ipairs(QUERY) do
    local o = p:option("--" .. q[1], "Query key " .. q[1]:gsub("%-", "_") .. ".")
    if q[2] == "number" then o:convert(tonumber) end
  end
  p:flag("--server-only", "Refuse filters the provider cannot apply itself.")
end

local function parser()
  local p = argparse("wfsession", "Workflow sessions from ComplyCube, IDnow and Extend.")
    :command_target("command")
    :epilog("Credentials: COMPLYCUBE_API_KEY, IDNOW_CLIENT_ID + IDNOW_CLIENT_SECRET (+ IDNOW_FLOW_ID), "
      .. "EXTEND_API_KEY. Try anything offline with --sandbox.")
  p:flag("--version", "Print the version and exit."):action(function()
    io.stdout:write("wfsession ", wfs.VERSION, "\n")
    os.exit(0)
  end)
  add_globals(p)
  local function provider(c, all)
    local choices = { "complycube", "idnow", "extend" }
    if all then choices[#choices + 1] = "all" end
    c:option("--provider -p", "complycube, idnow or extend" .. (all and ", or all" or "") .. "."):choices(choices)
      :count(1)
  end
  local list = p:command("list", "List sessions.")
  provider(list, true)
  add_query(list)
  list:option("--format -f", "table, jsonl or csv."):choices({ "table", "jsonl", "csv" }):default("table")
  list:option("--resume", "Save the cursor here when interrupted or failed, and resume from it.")
  local export = p:command("export", "Write sessions to a file.")
  provider(export, false)
  add_query(export)
  export:option("--out -o", "The file to write."):count(1)
  export:option("--format -f", "csv or jsonl."):choices({ "csv", "jsonl" }):default("csv")
  export:option("--resume", "Save the cursor here when interrupted or failed, and resume from it.")
  local get = p:command("get", "Sessions by id, full detail.")
  provider(get, false)
  get:argument("id", "Session ids."):args("+")
  get:option("--format -f", "table or jsonl."):choices({ "table", "jsonl" }):default("table")
  local summary = p:command("summary", "Counts, approval rates and completion times.")
  provider(summary, true)
  add_query(summary)
  summary:option("--by", "Group by this session field (default workflow_name, or workflow_id where no "
    .. "session has a name).")
  summary:option("--html", "Also write an outcome report (one self-contained page) here.")
  local wait = p:command("wait", "Wait until a session reaches a terminal status.")
  provider(wait, false)
  wait:argument("id", "The session id.")
  -- (the global options are accepted after the command too: argparse keeps the parent's)
  wait:option("--timeout", "Seconds to wait in all (default 600)."):convert(tonumber):target("wait_timeout")
  wait:option("--interval", "Seconds between two polls (default 5)."):convert(tonumber)
  local sandbox = p:command("sandbox")
    :summary("Run the provider sandbox in the foreground until Ctrl-C.")
    :description("Starts the sandbox (nginx on 127.0.0.1) serving ComplyCube, IDnow and Extend from one\n"
      .. "deterministic data set, prints the base URLs and the (fake) credentials, and runs until\n"
      .. "interrupted (Ctrl-C or SIGTERM). Also installed as wfsession-sandbox.")
  for _, o in ipairs(SANDBOX_OPTIONS) do
    sandbox:option("--" .. o[1], o[2]):convert(tonumber):argname(o[3]):target("sb_" .. o[1]:gsub("%-", "_"))
  end
  sandbox:flag("--gzip", "gzip JSON responses when the client accepts it.")
  sandbox:flag("--tls", "Serve HTTPS with a generated self-signed certificate.")
  sandbox:flag("--env", "Print shell variable assignments instead of a table.")
  return p
end

-- ======================================================================
-- Clients
-- ======================================================================

local function client_options(args, provider, sb)
  local o = { provider = provider, concurrency = args.concurrency, timeout = args.timeout,
              ca_file = args.ca_file, base_url = args.base_url }
  local env = os.getenv
  -- the sandbox's URLs and fake credentials win over --base-url and friends
  if sb then return sb:options(provider, { concurrency = args.concurrency, timeout = args.timeout }) end
  if provider == "idnow" then
    o.client_id = args.client_id or env("IDNOW_CLIENT_ID")
    o.client_secret = args.client_secret or env("IDNOW_CLIENT_SECRET")
    o.flow_id = args.flow_id or env("IDNOW_FLOW_ID")
    o.auth_url, o.environment = args.auth_url, args.environment
    if not (o.client_id and o.client_secret) then
      error(exit(2, "idnow needs IDNOW_CLIENT_ID and IDNOW_CLIENT_SECRET (or --client-id, --client-secret)"))
    end
    if not o.flow_id then error(exit(2, "idnow needs IDNOW_FLOW_ID (or --flow-id)")) end
  else
    local var = provider == "extend" and "EXTEND_API_KEY" or "COMPLYCUBE_API_KEY"
    o.api_key = args.api_key or env(var)
    if not o.api_key then error(exit(2, provider .. " needs " .. var .. " (or --api-key)")) end
    if provider == "extend" then o.api_version = args.api_version end
  end
  return o
end

-- The providers a command runs on: `all` means those with credentials (all three in the sandbox).
local function providers_of(args)
  if args.provider ~= "all" then return { args.provider } end
  if args.sandbox then return PROVIDERS end
  local out = {}
  local env = os.getenv
  if args.api_key or env("COMPLYCUBE_API_KEY") then out[#out + 1] = "complycube" end
  if (args.client_id or env("IDNOW_CLIENT_ID")) and (args.flow_id or env("IDNOW_FLOW_ID")) then
    out[#out + 1] = "idnow"
  end
  if args.api_key or env("EXTEND_API_KEY") then out[#out + 1] = "extend" end
  if #out == 0 then error(exit(2, "--provider all: no provider has credentials in the environment")) end
  return out
end

-- wfs.new and the query calls raise argument errors: a usage error then.
local function checked(ok, ...)
  if not ok then
    local e = ...
    if getmetatable(e) == Exit then error(e, 0) end
    error(exit(2, (tostring(e):gsub("^wfsession: ", ""))), 0)
  end
  return ...
end

local function guarded(fn, ...)
  return checked(pcall(fn, ...))
end

local function query_of(args)
  local q = {}
  for _, opt in ipairs(QUERY) do
    local key = opt[1]:gsub("%-", "_")
    if args[key] ~= nil then q[key] = args[key] end
  end
  if args.server_only then q.server_only = true end
  return q
end

-- ======================================================================
-- Output
-- ======================================================================

-- JSON of the normalized fields, in their order, absent ones left out.
local function jsonl_row(s)
  local parts = {}
  for _, k in ipairs(FIELDS) do
    local v = s[k]
    if v ~= nil then parts[#parts + 1] = core.encode(k) .. ":" .. core.encode(v) end
  end
  return "{" .. table.concat(parts, ",") .. "}\n"
end

-- RFC 4180: quoted when it holds a comma, a quote, CR or LF; quotes doubled.
local function csv_field(v)
  if v == nil then return "" end
  v = tostring(v)
  if v:find('[,"\r\n]') then return '"' .. v:gsub('"', '""') .. '"' end
  return v
end

local function csv_row(s)
  local parts = {}
  for i, k in ipairs(FIELDS) do parts[i] = csv_field(s[k]) end
  return table.concat(parts, ",") .. "\r\n"
end

local CSV_HEADER = table.concat(FIELDS, ",") .. "\r\n"

M.csv_field = csv_field   -- (for the specs)
M.FIELDS = FIELDS

-- Fixed columns, so that a long listing streams without buffering.
local TABLE = { { "id", 30 }, { "provider", 10 }, { "status", 9 }, { "outcome", 15 },
                { "workflow_name", 26 }, { "created_at", 24 } }

local function cut(v, n)
  v = v == nil and "-" or tostring(v):gsub("[%c]", " ")
  -- count characters, not bytes, so that names with accents line up
  local chars = select(2, v:gsub("[^\128-\191]", ""))
  if chars > n then
    local out, k = {}, 0
    for ch in v:gmatch("[%z\1-\127\194-\244][\128-\191]*") do
      k = k + 1
      if k >= n then break end
      out[#out + 1] = ch
    end
    return table.concat(out) .. "~"
  end
  return v .. string.rep(" ", n - chars)
end

local function table_header()
  local parts = {}
  for i, c in ipairs(TABLE) do parts[i] = cut(c[1]:upper(), c[2]) end
  return table.concat(parts, " "):gsub("%s+$", "") .. "\n"
end

local function table_row(s)
  local parts = {}
  for i, c in ipairs(TABLE) do parts[i] = cut(s[c[1]], c[2]) end
  return table.concat(parts, " "):gsub("%s+$", "") .. "\n"
end

local FORMATS = {
  table = { header = table_header, row = table_row },
  jsonl = { row = jsonl_row },
  csv = { header = function() return CSV_HEADER end, row = csv_row },
}

-- ======================================================================
-- Progress (stderr, only when it is a terminal)
-- ======================================================================

local tty   -- whether stderr is a terminal: asked once
local function stderr_is_tty()
  if tty == nil then tty = require("wfsession.sandbox.nginx").run("test -t 2") end
  return tty
end

local Progress = {}
Progress.__index = Progress

local function progress(args)
  return setmetatable({ on = not args.quiet and stderr_is_tty(), n = 0, started = core.monotonic(),
                        shown = 0 }, Progress)
end

function Progress:update(pager, force)
  if not self.on then return end
  local now = core.monotonic()
  if not force and now - self.shown < 0.25 then return end
  self.shown = now
  local took = now - self.started
  local rate = took > 0 and self.n / took or 0
  local line = ("%d sessions, %d pages, %.0f/s"):format(self.n, pager.pages or 0, rate)
  local total = pager.total
  if total and rate > 0 and total > self.n then
    line = line .. (", about %ds left"):format(math.ceil((total - self.n) / rate))
  end
  io.stderr:write("\r\27[K", line)
end

function Progress:done()
  if self.on then io.stderr:write("\r\27[K") end
end

-- ======================================================================
-- Commands
-- ======================================================================

local function write_all(path, text)
  local f, err = io.open(path, "wb")
  if not f then error(exit(1, "cannot write " .. path .. ": " .. tostring(err)), 0) end
  f:write(text)
  f:close()
end

-- The failure of a listing or a request: exit 1 with msg and its kind.
local function runtime(msg, err)
  return exit(1, tostring(msg) .. (err and err.kind and (" [" .. err.kind .. "]") or ""))
end

-- A pager for a command's query, resuming the cursor saved in `resume`;
-- and whether it did.
local function open_pager(client, q, resume)
  local saved = resume and (util.read_file(resume) or ""):match("^%s*(.-)%s*$")
  local resumed = saved ~= nil and saved ~= ""
  if resumed then q.cursor = saved end
  local pager = guarded(client.sessions, client, q)
  return pager, resumed
end

-- With --resume, keep where a listing stopped (failed or interrupted).
local function save_cursor(ctx)
  local token = ctx.pager and ctx.resume and ctx.pager:cursor()
  if token then pcall(write_all, ctx.resume, token .. "\n") end
end

--[[
** Stream one listing into `out` with `fmt`. With `resume`, the cursor is
** saved there if the listing fails (or, through main, is interrupted) and
** the file is removed once the listing is complete.
]]
local function stream(ctx, pager, out, fmt, resume)
  ctx.pager, ctx.resume = pager, resume
  local bar = progress(ctx.args)
  for _ = 1, math.huge do
    -- the one place a Ctrl-C stops the loop: every session handed out is written
    if core.interrupted() then error("interrupted!", 0) end
    local s, msg, err = pager:next()
    if not s then
      bar:done()
      if msg then
        save_cursor(ctx)
        error(runtime(msg, err), 0)
      end
      break
    end
    out:write(fmt.row(s))
    bar.n = bar.n + 1
    bar:update(pager)
  end
  if resume then os.remove(resume) end
  ctx.pager = nil
end

local function cmd_list(ctx)
  local args, fmt = ctx.args, FORMATS[ctx.args.format]
  local ps = providers_of(args)
  if args.resume and #ps > 1 then error(exit(2, "--resume takes one provider, not all"), 0) end
  -- every usage error before any output
  local pagers = {}
  for i, p in ipairs(ps) do pagers[i] = (open_pager(ctx.client(p), query_of(args), args.resume)) end
  if fmt.header then io.stdout:write(fmt.header()) end
  for _, pager in ipairs(pagers) do stream(ctx, pager, io.stdout, fmt, args.resume) end
end

local function cmd_export(ctx)
  local args, fmt = ctx.args, FORMATS[ctx.args.format]
  local pager, resuming = open_pager(ctx.client(args.provider), query_of(args), args.resume)
  -- a resumed export goes on at the end of what the file holds
  local f, err = io.open(args.out, resuming and "ab" or "wb")
  if not f then error(exit(1, "cannot write " .. args.out .. ": " .. tostring(err)), 0) end
  ctx.out = f
  if fmt.header and f:seek("end") == 0 then f:write(fmt.header()) end
  stream(ctx, pager, f, fmt, args.resume)
  f:close()
  ctx.out = nil
end

local function cmd_get(ctx)
  local args, fmt = ctx.args, FORMATS[ctx.args.format]
  local c = ctx.client(args.provider)
  if fmt.header then io.stdout:write(fmt.header()) end
  local failed
  for id, s, msg, err in guarded(c.sessions_by_id, c, args.id) do
    if s then
      io.stdout:write(fmt.row(s))
    else
      io.stderr:write("wfsession: ", id, ": ", tostring(msg), err and err.kind and (" [" .. err.kind .. "]") or "",
                      "\n")
      failed = true
    end
  end
  if failed then error(exit(1), 0) end
end

local function durations_of(list)
  local completion_time, out = require("wfsession.summary").completion_time, {}
  for _, s in ipairs(list) do out[#out + 1] = completion_time(s) end
  return out
end

-- Workflows by name where the provider names them (IDnow lists only ids).
local function group_key(list)
  for _, s in ipairs(list) do
    if s.workflow_name ~= nil then return "workflow_name" end
  end
  return "workflow_id"
end

local function cmd_summary(ctx)
  local args = ctx.args
  local sections, everyone = {}, {}
  for _, p in ipairs(providers_of(args)) do
    local c = ctx.client(p)
    local pager = guarded(c.sessions, c, query_of(args))
    local list, bar = {}, progress(args)
    for _ = 1, math.huge do
      local s, msg, err = pager:next()
      if not s then
        bar:done()
        if msg then error(runtime(msg, err), 0) end
        break
      end
      list[#list + 1] = s
      everyone[#everyone + 1] = s
      bar.n = bar.n + 1
      bar:update(pager)
    end
    local by = args.by or group_key(list)
    local sum = wfs.summarize(list, { by = by })
    io.stdout:write("== ", p, ": ", #list, " sessions, by ", by, "\n", sum:format(), "\n\n")
    sections[#sections + 1] = { name = p, summary = sum, durations = durations_of(list) }
  end
  if #sections > 1 then
    io.stdout:write("== all providers: ", #everyone, " sessions\n",
                    wfs.summarize(everyone, { by = "provider" }):format(), "\n")
  end
  if args.html then
    local html = require("wfsession.report").html{ title = "Workflow sessions", providers = sections,
                                                   generated = os.date("!%Y-%m-%dT%H:%M:%SZ") }
    write_all(args.html, html)
    if not args.quiet then io.stderr:write("wfsession: wrote ", args.html, "\n") end
  end
end

local function cmd_wait(ctx)
  local args = ctx.args
  local c = ctx.client(args.provider)
  local s, msg, err = guarded(c.wait, c, args.id, { timeout = args.wait_timeout, interval = args.interval })
  if not s then error(runtime(msg, err), 0) end
  io.stdout:write(table_header(), table_row(s))
end

-- What `wfsession sandbox` prints: the URLs and the (fake) credentials.
local function sandbox_lines(sb, env_style)
  local lines
  if env_style then
    lines = {
      "WFS_SANDBOX_URL=" .. sb.url,
      "COMPLYCUBE_BASE_URL=" .. sb.complycube.base_url,
      "COMPLYCUBE_API_KEY=" .. sb.complycube.api_key,
      "IDNOW_BASE_URL=" .. sb.idnow.base_url,
      "IDNOW_AUTH_URL=" .. sb.idnow.auth_url,
      "IDNOW_CLIENT_ID=" .. sb.idnow.client_id,
      "IDNOW_CLIENT_SECRET=" .. sb.idnow.client_secret,
      "IDNOW_FLOW_ID=" .. sb.idnow.flow_id,
      "IDNOW_ENVIRONMENT=" .. sb.idnow.environment,
      "EXTEND_BASE_URL=" .. sb.extend.base_url,
      "EXTEND_API_KEY=" .. sb.extend.api_key,
      "EXTEND_API_VERSION=" .. sb.extend.api_version,
      "WFS_SANDBOX_PID=" .. sb.pid,
    }
    if sb.ca_file then lines[#lines + 1] = "WFS_SANDBOX_CA_FILE=" .. sb.ca_file end
    return lines
  end
  lines = {
    string.format("wfsession sandbox running: seed %d, %d sessions per provider, nginx pid %s",
      sb.seed, sb.sessions, sb.pid),
    "  url         " .. sb.url,
    "  complycube  base_url=" .. sb.complycube.base_url,
    "              api_key=" .. sb.complycube.api_key,
    "  idnow       base_url=" .. sb.idnow.base_url .. "  auth_url=" .. sb.idnow.auth_url,
    "              client_id=" .. sb.idnow.client_id .. "  client_secret=" .. sb.idnow.client_secret,
    "              flow_id=" .. sb.idnow.flow_id .. "  environment=" .. sb.idnow.environment,
    "  extend      base_url=" .. sb.extend.base_url,
    "              api_key=" .. sb.extend.api_key .. "  x-extend-api-version=" .. sb.extend.api_version,
    "  control     " .. sb.url .. "/_sandbox/stats",
  }
  if sb.ca_file then lines[#lines + 1] = "  ca_file     " .. sb.ca_file end
  lines[#lines + 1] = "Press Ctrl-C to stop."
  return lines
end

--[[
** Wait on a watcher shell read through a pipe. SIGINT to this process
** interrupts the read (the interpreter's handler has no SA_RESTART) and
** ends it, caught below; the watcher ignores SIGINT so a Ctrl-C to the
** whole group is handled here once. When this process is killed, the
** sandbox's own watchdog stops nginx and removes its directory, and the
** watcher, its parent gone, just ends.
]]
local WATCHER = [[
alive() { [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat")" != Z ]; }
trap '' INT
while alive %s && alive $PPID; do sleep 0.2; done
alive %s || echo nginx-exited
]]

local function cmd_sandbox(ctx)
  local args = ctx.args
  local opts = { gzip = args.gzip or nil, tls = args.tls or nil }
  for _, o in ipairs(SANDBOX_OPTIONS) do
    local key = o[1]:gsub("%-", "_")
    opts[key] = args["sb_" .. key]
  end
  local sandbox = require "wfsession.sandbox"
  local sb, err = checked(pcall(sandbox.start, opts))
  if not sb then error(exit(1, "cannot start the sandbox: " .. tostring(err)), 0) end
  ctx.sandbox = sb
  io.stdout:write(table.concat(sandbox_lines(sb, args.env), "\n"), "\n")
  io.stdout:flush()
  local pipe = io.popen(string.format(WATCHER, sb.pid, sb.pid), "r")
  local _, said = pcall(pipe.read, pipe, "*a")
  local nginx_died = type(said) == "string" and said:find("nginx%-exited") ~= nil
  sb:stop()
  pcall(pipe.close, pipe)   -- the watcher exits once nginx is gone
  if nginx_died then error(exit(1, "nginx exited unexpectedly"), 0) end
  io.stdout:write("wfsession sandbox stopped.\n")
end

local COMMANDS = { list = cmd_list, export = cmd_export, get = cmd_get, summary = cmd_summary, wait = cmd_wait,
                   sandbox = cmd_sandbox }

-- ======================================================================
-- main
-- ======================================================================

--- Run the command line.
-- @tparam table argv the arguments (as `arg`)
-- @treturn integer the exit status
function M.main(argv)
  local p = parser()
  local ok, args = p:pparse(argv)
  if not ok then
    io.stderr:write("wfsession: ", tostring(args), "\nTry 'wfsession --help' (or 'wfsession <command> --help').\n")
    return 2
  end
  local ctx = { args = args }
  -- Ctrl-C only sets a flag, read where nothing is half done (see stream);
  -- `sandbox` has nothing half done: the interrupt just ends its wait
  if args.command ~= "sandbox" then core.trap_interrupts() end
  local sb
  local run_ok, failure = pcall(function()
    if args.sandbox then
      local sandbox = require "wfsession.sandbox"
      local err
      sb, err = sandbox.start{ sessions = args.sandbox_sessions or 1000, seed = 7 }
      if not sb then error(exit(1, "cannot start the sandbox: " .. tostring(err)), 0) end
    end
    local clients = {}
    function ctx.client(provider)
      if not clients[provider] then
        clients[provider] = guarded(wfs.new, client_options(args, provider, sb))
      end
      return clients[provider]
    end
    COMMANDS[args.command](ctx)
  end)
  io.stdout:flush()
  if ctx.out then ctx.out:close() end
  local code = 0
  if not run_ok then
    if getmetatable(failure) == Exit then
      code = failure.code
      if failure.msg then io.stderr:write("wfsession: ", failure.msg, "\n") end
    elseif tostring(failure):find("interrupted!", 1, true) then
      -- Ctrl-C: what was listed is out, the cursor saved for --resume
      save_cursor(ctx)
      io.stderr:write("\r\27[Kwfsession: interrupted\n")
      code = 130
    else
      io.stderr:write("wfsession: ", tostring(failure), "\n")
      code = 1
    end
  end
  if sb then sb:stop() end
  return code
end

return M
