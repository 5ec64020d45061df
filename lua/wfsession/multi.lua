--- `wfs.multi()`: a libcurl multi handle and a small task scheduler, for
-- hosts that run one event loop and must never block.
--
--     local m = wfs.multi()
--     local client = wfs.new{ provider = "extend", api_key = KEY, multi = m }
--     local task = m:spawn(function()
--       for s in client:sessions{} do ... end   -- yields to m while it waits
--       return "done"
--     end)
--     while m:step(0) > 0 do poll(m:pollfd(), m:timeout()) end
--
-- A task is a coroutine owned by the multi. It yields to the multi while a
-- request is in flight or a retry waits; `step(0)` advances transfers and
-- timers and resumes the tasks that can go on, and never blocks. The same
-- machinery runs the concurrent pages and lookups of every script client
-- (a private multi per client, driven from inside the library).
--
-- `pollfd`/`events`/`timeout` are the cqueues pollable protocol: under
-- cqueues, `cqueues.poll(m)` waits for it; under luv, a poll handle on
-- `m:pollfd()` and a timer armed from `m:timeout()` call `m:step(0)`.
--
-- A call on a client of this multi made outside any task (a plain script
-- line) drives the multi itself until its answer is there, blocking, like
-- `cqueues.poll` outside a controller. On PUC Lua 5.1 a task cannot yield
-- from inside a generic `for` iterator: iterate with `pager:next()` there
-- (LuaJIT and 5.2+ have no such limit).
-- @module wfsession.multi

local core = require "wfsession.core"
local util = require "wfsession.util"

local unpack = table.unpack or unpack
local co_create, co_resume, co_yield, co_running, co_status =
  coroutine.create, coroutine.resume, coroutine.yield, coroutine.running, coroutine.status
local monotonic = core.monotonic

local function pack(...) return { n = select("#", ...), ... } end

local M = {}

-- What a task yields to its multi when it waits for a transfer, a timer or
-- another task; anything else is a plain coroutine.yield (go on next step).
local WAIT = setmetatable({}, { __tostring = function() return "wfsession.multi.WAIT" end })

-- Rounds of wake-ups handled by one step (a task woken by another's end runs in the same step).
local MAX_ROUNDS = 64

local Multi = { __name = "wfsession.multi" }
Multi.__index = Multi

local Task = { __name = "wfsession.task" }
Task.__index = Task

--- Whether the task has ended (returned, raised, or was cancelled by `m:close()`).
-- @treturn boolean
function Task:done() return self._done end

--- The task's return values; `nil, msg, err` when it raised (a failed
-- listing's `err`, else `{ kind = "error" }`) or was cancelled
-- (`kind = "closed"`); `nil, msg` while it is still running.
function Task:result()
  if not self._done then return nil, "wfsession.multi: the task has not ended" end
  local r = self._results
  return unpack(r, 1, r.n)
end

function Task.__tostring(self)
  return "wfsession.task: " .. (self._done and "done" or "running")
end

-- ======================================================================
-- Scheduling
-- ======================================================================

local function queue(m, task, ...)
  local ready = m._ready
  ready[#ready + 1] = pack(task, ...)
end

local function current(m)
  local co = co_running()
  return co and m._tasks[co] or nil
end

local function finish(m, task, res)
  if task._done then return end  -- cancelled or closed before its coroutine ended
  task._done = true
  task._waiting = nil
  m._tasks[task._co] = nil
  if res[1] then
    task._results = pack(unpack(res, 2, res.n))
  else
    local msg = res[2]
    task._raised = msg
    if type(msg) ~= "string" then msg = tostring(msg) end
    -- a generic for over a failed listing raised its message: hand back its err
    local noted = util.raised[task._co]
    local err = noted and msg:sub(-#noted.msg) == noted.msg and noted.err
      or { kind = "error", message = msg, retryable = false }
    task._results = pack(nil, msg, err)
  end
  if not task._internal then m._alive = m._alive - 1 end
  local joiners = task._joiners
  task._joiners = {}
  for i = 1, #joiners do queue(m, joiners[i]) end
end

local function resume(m, task, ...)
  if task._done then return end
  task._waiting = nil
  local res = pack(co_resume(task._co, ...))
  if co_status(task._co) == "dead" then
    finish(m, task, res)
  elseif res[2] ~= WAIT then
    local later = m._later
    later[#later + 1] = task
  end
end

local function new_task(m, fn, internal)
  local task = setmetatable({ _co = co_create(fn), _done = false, _joiners = {},
                              _internal = internal, _results = false }, Task)
  m._tasks[task._co] = task
  if not internal then m._alive = m._alive + 1 end
  return task
end

-- Route finished transfers to whoever waits for them.
local function collect(m)
  local cm, xfers = m._cm, m._xfers
  for _ = 1, 100000 do
    local r = pack(cm:result())
    if r.n == 0 then return end
    local w = xfers[r[1]]
    xfers[r[1]] = nil
    if w then
      if w._box then
        w.res, w.done = pack(unpack(r, 2, r.n)), true
      else
        queue(m, w, unpack(r, 2, r.n))
      end
    end
  end
end

local function fire_timers(m)
  local timers, now = m._timers, monotonic()
  while timers[1] and timers[1].at <= now do
    local t = table.remove(timers, 1)
    if t.box then t.box.done = true else queue(m, t.task) end
  end
end

local function add_timer(m, at, task, box)
  local timers = m._timers
  local i = #timers
  while i > 0 and timers[i].at > at do i = i - 1 end
  table.insert(timers, i + 1, { at = at, task = task, box = box })
end

--[[
** Resume what can go on: the cooperative yields of the last step first,
** then every wake-up, until `budget` seconds are spent (at least one task
** runs). What is left waits for the next step, and timeout() says 0, so a
** loop with a frame budget never sees one step decode every page that
** arrived at once.
]]
local function run_ready(m, started)
  local deadline = started + m._budget
  local later = m._later
  m._later = {}
  for _ = 1, MAX_ROUNDS do
    local ready = m._ready
    if #ready == 0 and #later == 0 then return end
    m._ready = {}
    local queue_ = later
    for i = 1, #ready do queue_[#queue_ + 1] = ready[i] end
    later = {}
    for i = 1, #queue_ do
      local item = queue_[i]
      if getmetatable(item) == Task then
        resume(m, item)
      else
        resume(m, item[1], unpack(item, 2, item.n))
      end
      if monotonic() >= deadline and i < #queue_ then
        -- the rest goes first at the next step, in its order
        local rest = {}
        for k = i + 1, #queue_ do rest[#rest + 1] = queue_[k] end
        for k = 1, #m._ready do rest[#rest + 1] = m._ready[k] end
        m._ready = rest
        return
      end
    end
  end
end

local function check_open(m, what)
  if m._closed then error("wfsession.multi: " .. what .. " on a closed multi", 3) end
end

-- ======================================================================
-- The public object
-- ======================================================================

--- Start `fn(...)` as a task of this multi. It runs from the next `step`.
-- @tparam function fn
-- @return task
function Multi:spawn(fn, ...)
  check_open(self, "spawn")
  if not util.is_callable(fn) then
    error("bad argument #1 to 'spawn' (function expected, got " .. type(fn) .. ")", 2)
  end
  local task = new_task(self, fn, false)
  queue(self, task, ...)
  return task
end

local function step(self)
  local started = monotonic()
  self._cm:step()
  collect(self)
  fire_timers(self)
  run_ready(self, started)
end

--- Advance transfers and timers and resume the tasks that can go on.
-- Never blocks.
-- @treturn integer the number of tasks still alive
function Multi:step()
  if self._closed then return 0 end
  if self._stepping then error("wfsession.multi: step called from inside a task of the same multi", 2) end
  self._stepping = true
  local ok, err = pcall(step, self)
  self._stepping = false
  if not ok then error(err, 0) end
  return self._alive
end

--- The descriptor a host's loop watches: readable when `step` has work.
-- @treturn integer an epoll descriptor
function Multi:pollfd()
  check_open(self, "pollfd")
  return self._cm:pollfd()
end

--- What `pollfd` is watched for: always `"r"`.
function Multi.events() return "r" end

--- Seconds until `step` is due even without fd activity (0 = now), or nil
-- when nothing but fd activity (or nothing at all) can wake it.
-- @treturn ?number
function Multi:timeout()
  if self._closed then return nil end
  if #self._ready > 0 or #self._later > 0 then return 0 end
  local t = self._cm:timeout()
  local first = self._timers[1]
  if first then
    local left = first.at - monotonic()
    if left < 0 then left = 0 end
    if t == nil or left < t then t = left end
  end
  return t
end

--- Block up to `t` seconds for activity, then step.
-- @tparam number t seconds (>= 0)
-- @treturn integer what `step` returns
function Multi:wait(t)
  check_open(self, "wait")
  if not (util.is_finite(t) and t >= 0) then
    error("bad argument #1 to 'wait' (number of seconds >= 0 expected)", 2)
  end
  local due = self:timeout()
  if due == nil or due > t then due = t end
  if due > 0 then self._cm:wait(due) end
  return self:step()
end

-- Whether anything can still happen: a transfer in flight, a timer, a task to run.
local function pending(m)
  local active, done = m._cm:count()
  return active + done > 0 or #m._timers > 0 or #m._ready > 0 or #m._later > 0
end

--- Step until no task is alive.
-- @treturn integer 0
function Multi:run()
  check_open(self, "run")
  -- bounded by the tasks: each pass waits for the next event of one of them
  while self:step() > 0 do
    if not pending(self) then
      error("wfsession.multi: " .. self._alive .. " task(s) wait for something that never comes", 2)
    end
    self._cm:wait(self:timeout() or 1)
  end
  return 0
end

--- Cancel every transfer and end every task (their result: `kind = "closed"`).
-- Idempotent; also `__close`.
function Multi:close()
  if self._closed then return end
  self._closed = true
  local tasks = {}
  for _, task in pairs(self._tasks) do tasks[#tasks + 1] = task end
  for _, task in ipairs(tasks) do
    finish(self, task, pack(true, nil, "wfsession.multi: closed", { kind = "closed", retryable = false,
                                                                     message = "wfsession.multi: closed" }))
  end
  self._ready, self._later, self._timers, self._xfers = {}, {}, {}, {}
  self._cm:close()
end
Multi.__close = Multi.close

function Multi.__tostring(self)
  return "wfsession.multi: " .. (self._closed and "closed" or (self._alive .. " task(s)"))
end

-- ======================================================================
-- What the library's runner uses (see wfsession.host)
-- ======================================================================

-- Block until `pred()` holds, driving the multi: a call made outside any task.
local function drive_until(m, pred)
  if m._stepping then
    error("wfsession.multi: a request from a coroutine that is not a task of its multi, while "
          .. "the multi steps: make the request from a task (m:spawn)", 0)
  end
  while not pred() do
    if not pending(m) then error("wfsession.multi: waiting for something that never comes", 0) end
    -- a Ctrl-C the program trapped (core.trap_interrupts) ends a blocking wait at once
    if core.interrupted() then error("interrupted!", 0) end
    m:wait(m:timeout() or 1)
  end
end

local function wait_here(task)
  task._waiting = true
  local r = pack(co_yield(WAIT))
  return unpack(r, 1, r.n)
end

--- Start `fn(...)` as an internal task, at once, until it first waits.
-- @local
function Multi:_spawn(fn, ...)
  check_open(self, "a request")
  local task = new_task(self, fn, true)
  task._m = self
  resume(self, task, ...)
  return task
end

--- Wait for a task's end; returns its values (a raise in an internal task is raised again).
-- @local
function Multi:_join(task)
  if not task._done then
    local me = current(self)
    if me then
      task._joiners[#task._joiners + 1] = me
      wait_here(me)
    else
      drive_until(self, function() return task._done end)
    end
  end
  if task._raised ~= nil and task._internal then error(task._raised, 0) end
  local r = task._results
  return unpack(r, 1, r.n)
end

--- Stop a task and what it has in flight; its joiners get `nil, msg, { kind = "closed" }`.
-- @local
function Multi:_cancel(task)
  if task._done then return end
  local xfer = task._xfer
  if xfer and self._xfers[xfer] == task then
    self._xfers[xfer] = nil
    if not self._closed then self._cm:cancel(xfer) end
  end
  local timers = self._timers
  for i = #timers, 1, -1 do
    if timers[i].task == task then table.remove(timers, i) end
  end
  local msg = "wfsession: closed: the request was cancelled"
  finish(self, task, pack(true, nil, msg, { kind = "closed", message = msg, retryable = false }))
end

--- One HTTP exchange: yields inside a task, drives the multi outside.
-- @tparam table req the request
-- @tparam ?table opts transfer options (timeouts, TLS, proxy, limits)
-- @local
function Multi:_send(req, opts)
  check_open(self, "a request")
  local cm = self._cm
  local id = cm:add(req, opts)
  local me = current(self)
  local box = not me and { _box = true, done = false }
  self._xfers[id] = me or box
  collect(self)  -- add() ran libcurl's due timers: something may have finished
  if me then
    me._xfer = id
    local r = pack(wait_here(me))
    me._xfer = nil
    return unpack(r, 1, r.n)
  end
  drive_until(self, function() return box.done end)
  return unpack(box.res, 1, box.res.n)
end

--- Wait `seconds` without stopping the other tasks.
-- @local
function Multi:_sleep(seconds)
  check_open(self, "sleep")
  local at = monotonic() + seconds
  local me = current(self)
  if me then
    add_timer(self, at, me)
    wait_here(me)
  else
    local box = { done = false }
    add_timer(self, at, nil, box)
    drive_until(self, function() return box.done end)
  end
end

--- Whether `x` is a wfs.multi.
-- @local
function M.is_multi(x) return getmetatable(x) == Multi end

--- Default time a step spends resuming tasks before it leaves the rest for
-- the next one (seconds).
M.STEP_BUDGET = 0.002

--- A new multi.
-- @tparam[opt] table opts `{ step_budget = seconds }`: how long one step
--   resumes tasks before it leaves the rest for the next (default 0.002;
--   at least one task runs per step)
-- @treturn table wfsession.multi
-- @local
function M.new(opts)
  local budget = M.STEP_BUDGET
  if opts ~= nil then
    if type(opts) ~= "table" then error("bad argument #1 to 'multi' (table or nil expected)", 3) end
    for k in pairs(opts) do
      if k ~= "step_budget" then
        error("bad argument #1 to 'multi' ('" .. tostring(k) .. "' is not an option)", 3)
      end
    end
    if opts.step_budget ~= nil then
      if not (util.is_finite(opts.step_budget) and opts.step_budget >= 0) then
        error("bad argument #1 to 'multi' ('step_budget' must be a number of seconds >= 0)", 3)
      end
      budget = opts.step_budget
    end
  end
  return setmetatable({
    _budget = budget,
    _cm = core.multi(),
    _tasks = {},      -- coroutine -> task (alive)
    _ready = {},      -- tasks to resume now, with what to resume them with
    _later = {},      -- tasks that yielded cooperatively: resumed at the next step
    _timers = {},     -- { at, task | box }, by time
    _xfers = {},      -- transfer id -> waiting task or box
    _alive = 0,       -- user tasks not ended
    _stepping = false,
    _closed = false,
  }, Multi)
end

return M
