--- Wait for one session to finish (a terminal status: completed, failed,
-- cancelled or expired) and print its final status and outcome.
--
--     lua5.4 examples/wait_session.lua [ID] [--provider P] [--timeout S] [--interval S]
--
-- Polls every `--interval` seconds (5) for at most `--timeout` seconds (600).
-- Exit status: 0 finished, 1 an error (unknown id, bad credentials, ...), 3 timed out.
--
-- Without credentials it runs against a throwaway sandbox (see common.lua). The
-- sandbox's sessions never change status (each one is a pure function of its
-- index), so there a session still in progress never finishes: without an ID
-- this picks the newest running one, to show how a timeout ends. Give the ID of
-- a finished one to see the other end.
package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;" .. package.path
local common = require "common"

local USAGE = "wait_session.lua [ID] [--provider P] [--timeout S] [--interval S]"
local TIMED_OUT = 3

local args = common.args(arg, { provider = "string", timeout = "number", interval = "number" }, USAGE)

os.exit(common.run(args.provider, function(client, sb)
  local id = args[1]
  if not id and sb then
    local s, msg = client:sessions{ status = "running", sort = "created_at", order = "desc", max_items = 1 }:next()
    if not s then error(msg or "the sandbox has no running session", 0) end
    id = s.id
  end
  if not id then return common.usage(USAGE) end
  local timeout, interval = args.timeout or 600, args.interval or 5
  io.stderr:write(("waiting for %s/%s (at most %g s, polling every %g s)\n"):format(client.provider, id, timeout,
                                                                                   interval))
  local s, msg, err = client:wait(id, { timeout = timeout, interval = interval })
  if not s then
    io.stderr:write(msg, "\n")
    return err.kind == "timeout" and TIMED_OUT or 1
  end
  print(("%s/%s: status %s, outcome %s (provider: %s%s), completed at %s"):format(client.provider, s.id,
    s.status, s.outcome or "none", s.raw_status, s.raw_outcome and ("/" .. s.raw_outcome) or "",
    s.completed_at or "-"))
  return 0
end))
