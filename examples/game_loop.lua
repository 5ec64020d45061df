--- A 60 Hz game-server loop that lists four workflows' sessions while it
-- keeps its frame rate: the library never blocks the loop, the loop calls
-- `m:step(0)` once per tick.
--
--     lua5.4 examples/game_loop.lua [SESSIONS] [LATENCY]
--
-- It starts its own sandbox (nginx on loopback, LATENCY seconds per
-- request, 0.05 by default) so it runs anywhere; against a real provider,
-- only the client options change.
local wfs = require "wfsession"
local core = require "wfsession.core"
local sandbox = require "wfsession.sandbox"

-- The lua5.4 interpreter starts in generational GC mode, whose major
-- collections can stop the world for several milliseconds; a loop with a
-- frame budget uses the incremental collector (LuaJIT and 5.1-5.3 do anyway).
if _VERSION == "Lua 5.4" then collectgarbage("incremental") end

local sessions = tonumber(arg and arg[1]) or 600
local latency = tonumber(arg and arg[2]) or 0.05
local TICK = 1 / 60

local sb = assert(sandbox.start{ sessions = sessions, seed = 9, latency = latency })
local m = wfs.multi()

-- Four listings at once; each task counts what it lists. `pager:next()`
-- rather than a for loop: on PUC Lua 5.1 a task cannot yield inside a for
-- iterator (LuaJIT and 5.2+ can). A step decodes the pages that arrived
-- since the last one, so a frame-budgeted loop keeps pages small.
local jobs = {
  { "complycube", { page_size = 50 } }, { "idnow", { page_size = 50 } },
  { "extend", { page_size = 50 } }, { "complycube", { outcome = "rejected", page_size = 50 } },
}
local tasks = {}
for i, job in ipairs(jobs) do
  local client = wfs.new(sb:options(job[1], { multi = m }))
  tasks[i] = m:spawn(function()
    local pager, n = client:sessions(job[2]), 0
    while true do
      local s, msg, err = pager:next()
      if not s then
        if msg then return nil, msg, err end
        return n
      end
      n = n + 1
    end
  end)
end

-- The loop: one step per tick, then the rest of the frame for the game.
-- A step is timed twice: wall clock (a step that waited on the network would
-- show the latency) and CPU (the work it did; a shared machine may preempt
-- the process in the middle of a step, which the wall clock counts too).
local ticks, max_step, max_cpu, started = 0, 0, 0, core.monotonic()
local deadline = started + 60
while core.monotonic() < deadline do
  local frame, cpu = core.monotonic(), os.clock()
  local alive = m:step(0)
  local took, used = core.monotonic() - frame, os.clock() - cpu
  if took > max_step then max_step = took end
  if used > max_cpu then max_cpu = used end
  ticks = ticks + 1
  if alive == 0 then break end
  local rest = TICK - (core.monotonic() - frame)
  if rest > 0 then core.sleep(rest) end   -- the game's own frame pacing
end

local ok = true
for i, task in ipairs(tasks) do
  local n, msg = task:result()
  ok = ok and n ~= nil
  print(("listing %d (%s): %s"):format(i, jobs[i][1], n and (n .. " sessions") or tostring(msg)))
end
print(("ticks %d in %.2f s, max step %.2f ms (CPU %.2f ms), %s"):format(ticks,
  core.monotonic() - started, max_step * 1000, max_cpu * 1000,
  ok and "every listing complete" or "a listing failed"))
m:close()
sb:stop()
os.exit(ok and 0 or 1)
