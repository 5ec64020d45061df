--- Shared checks and encoders of the Lua layer (internal).
-- @module wfsession.util

local M = {}

--- Query keys that filter, in a fixed order (canonical cursors depend on it).
M.FILTER_KEYS = { "status", "outcome", "created_after", "created_before", "updated_after",
                  "updated_before", "workflow_id", "subject_id", "batch_id",
                  "file_name_contains", "sort", "order" }

--- Raise an argument error naming `name`. The message never quotes a value:
-- the value may be a secret.
function M.argerror(name, msg, where)
  error((where or "wfsession") .. ": '" .. name .. "' " .. msg, 0)
end

--- True when `s` holds CR, LF or NUL (header splitting, truncation).
function M.unsafe(s) return s:find("[\r\n%z]") ~= nil end

function M.header_safe(opts, name)
  local v = opts[name]
  if v == nil then return end
  if type(v) ~= "string" then M.argerror(name, "must be a string, got " .. type(v)) end
  if M.unsafe(v) then M.argerror(name, "must not contain CR, LF or NUL") end
end

function M.need_string(opts, name, who)
  local v = opts[name]
  if v == nil then M.argerror(name, "is required for " .. who) end
  if type(v) ~= "string" then M.argerror(name, "must be a string, got " .. type(v)) end
  if v == "" then M.argerror(name, "must not be empty") end
  if M.unsafe(v) then M.argerror(name, "must not contain CR, LF or NUL") end
end

--- Like need_string, for secrets: same checks, worded so nothing leaks.
M.need_secret = M.need_string

function M.strip_slash(url) return (url:gsub("/+$", "")) end

function M.check_url(opts, name)
  local v = opts[name]
  if type(v) ~= "string" then M.argerror(name, "must be a string, got " .. type(v)) end
  if not v:match("^https?://[^/%s]+") or M.unsafe(v) or v:find("%s") then
    M.argerror(name, "must be an http:// or https:// URL")
  end
  if v:find("[?#]") then M.argerror(name, "must not have a query or fragment") end
end

--- True for a number that is neither NaN nor infinite.
function M.is_finite(x)
  return type(x) == "number" and x == x and x > -math.huge and x < math.huge
end

--- True for a function or a value whose metatable has __call.
function M.is_callable(x)
  if type(x) == "function" then return true end
  local mt = getmetatable(x)
  return type(mt) == "table" and rawget(mt, "__call") ~= nil
end

--- The error a generic `for` over a listing raised last, by coroutine:
-- `{ msg, err }`, so that a task of wfs.multi can hand back `err` too.
M.raised = setmetatable({}, { __mode = "k" })

return M
