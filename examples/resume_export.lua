--- A long export that survives interruptions: every session as one JSON line,
-- the listing's cursor saved to a state file every `--save-every` sessions
-- (1000) and when the export fails or is interrupted (Ctrl-C). Run it again
-- with the same state file and it goes on from the cursor, appending, so that
-- the file ends up with every session exactly once; the state file is removed
-- once the export is complete.
--
--     lua5.4 examples/resume_export.lua OUT.jsonl [--state FILE] [--provider P]
--                                       [--save-every N] [--page-size N] [--stop-after N]
--
-- `--stop-after N` simulates an interruption after N sessions of this run. The
-- state (default OUT.jsonl.state) is the cursor and the size of OUT.jsonl that
-- goes with it: lines written after the last save (a kill -9) are cut off
-- before the next run appends. Without credentials it runs against a throwaway
-- sandbox (see common.lua).
package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;" .. package.path
local cjson = require "cjson"
local common = require "common"

local USAGE = "resume_export.lua OUT.jsonl [--state FILE] [--provider P] [--save-every N] [--page-size N] "
  .. "[--stop-after N]"
local FIELDS = { "id", "provider", "status", "outcome", "raw_status", "raw_outcome", "workflow_id",
                 "workflow_name", "subject_id", "created_at", "updated_at", "completed_at" }

--- A session's normalized fields as one JSON line, in FIELDS order (nil ones left out).
local function jsonl(s)
  local parts = {}
  for _, k in ipairs(FIELDS) do
    if s[k] ~= nil then parts[#parts + 1] = cjson.encode(k) .. ":" .. cjson.encode(s[k]) end
  end
  return "{" .. table.concat(parts, ",") .. "}\n"
end

--- Write `{ bytes, cursor }` through a temporary file: a crash never leaves half a state.
local function save(path, state)
  local f = assert(io.open(path .. ".tmp", "wb"))
  assert(f:write(state.bytes, " ", state.cursor, "\n"))
  assert(f:close())
  assert(os.rename(path .. ".tmp", path))
end

--- Cut the file at `path` to its first `bytes` bytes (what the state vouches for).
local function cut(path, bytes)
  local f = assert(io.open(path, "rb"))
  local size = f:seek("end")
  if size < bytes then error(path .. " is shorter than its state file says", 0) end
  if size > bytes then
    f:seek("set")
    local tmp = assert(io.open(path .. ".tmp", "wb"))
    for _ = 1, math.ceil(bytes / 65536) do assert(tmp:write(f:read(math.min(65536, bytes - f:seek())))) end
    assert(tmp:close())
    assert(os.rename(path .. ".tmp", path))
  end
  f:close()
end

local args = common.args(arg, { state = "string", provider = "string", save_every = "number",
                                page_size = "number", stop_after = "number" }, USAGE)

os.exit(common.run(args.provider, function(client)
  if not args[1] then return common.usage(USAGE) end
  local path, state_path, every = args[1], args.state or args[1] .. ".state", args.save_every or 1000
  local f = io.open(state_path, "rb")
  local bytes, cursor = (f and f:read("*a") or ""):match("^(%d+) (%S+)")
  if f then f:close() end
  if f and not cursor then error(state_path .. " is not a state file of this script", 0) end
  if cursor then cut(path, tonumber(bytes)) end
  local out = assert(io.open(path, cursor and "ab" or "wb"))
  local pager = client:sessions{ cursor = cursor, page_size = args.page_size }
  -- the file's size and the cursor after its last line: replaced whole, so that a Ctrl-C sees one or the other
  local mark, n = { bytes = out:seek("end"), cursor = cursor or pager:cursor() }, 0
  local ok, err = pcall(function()
    for s in pager do
      out:write(jsonl(s))
      n = n + 1
      mark = { bytes = out:seek(), cursor = pager:cursor() }
      if n % every == 0 then assert(out:flush()); save(state_path, mark) end
      if n == args.stop_after then error("interrupted! (--stop-after " .. n .. ")", 0) end
    end
  end)
  out:close()
  if not ok then
    save(state_path, mark)
    io.stderr:write(("%d sessions written in this run; run again to resume from %s\n"):format(n, state_path))
    error(err, 0)
  end
  os.remove(state_path)
  io.stderr:write(("%d sessions written in this run; %s is complete\n"):format(n, path))
  return 0
end))
