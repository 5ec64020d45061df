--- wfsession: workflow sessions from ComplyCube, IDnow and Extend through one API.
--
--    local wfs = require "wfsession"
--    local client = wfs.new{ provider = "complycube", api_key = os.getenv("COMPLYCUBE_API_KEY") }
--    for s in client:sessions{ outcome = "rejected", max_items = 500 } do print(s.id, s.status) end
--
-- Argument errors raise, naming the argument. Runtime failures return
-- `nil, msg, err` (`err.kind` says what failed); a generic `for` raises `msg`
-- and keeps `err` at `pager:err()`.
-- @module wfsession

local core = require "wfsession.core"
local util = require "wfsession.util"
local options = require "wfsession.options"
local client = require "wfsession.client"
local retry = require "wfsession.retry"
local filter = require "wfsession.filter"
local summary = require "wfsession.summary"

local wfs = { VERSION = core.VERSION }

--- Create a client. Every option is described in the README.
-- @tparam table opts `{ provider = "complycube"|"idnow"|"extend", ... }`
-- @treturn table client
function wfs.new(opts)
  if type(opts) ~= "table" then error("wfsession: wfs.new expects a table of options", 2) end
  return client.new(opts, options.client(opts))
end

--- A libcurl multi handle and a task scheduler for event-loop hosts:
-- `wfs.new{ ..., multi = m }`, `m:spawn(fn)`, `m:step(0)`, `m:pollfd()`,
-- `m:timeout()`, `m:wait(t)`, `m:run()`, `m:close()`.
-- @tparam[opt] table opts `{ step_budget = seconds }` (default 0.002)
-- @treturn table wfsession.multi
function wfs.multi(opts) return require("wfsession.multi").new(opts) end

--- Keep the sessions that match a spec table or a predicate (pager, iterator or array).
wfs.filter = filter.filter
--- At most n sessions; never pulls the n+1-th.
wfs.take = filter.take
--- All sessions into an array.
wfs.collect = filter.collect
--- Counts, rates and completion percentiles; `:format()` prints them.
wfs.summarize = summary.summarize
--- Run `fn` under a retry policy: `wfs.retry(fn, policy)`.
wfs.retry = retry.call

--- Epoch seconds of an ISO-8601 timestamp.
-- @return number | nil, msg
function wfs.time(s)
  if type(s) ~= "string" then util.argerror("time", "expects an ISO-8601 string, got " .. type(s)) end
  return core.time(s)
end

return wfs
