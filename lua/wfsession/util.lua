--- Shared checks and encoders of the Lua layer (internal).
-- @module wfsession.util

local M = {}

--- The longest id or query value sent (bytes before percent-encoding): no
-- server takes a longer URL, and libcurl refuses one of 8 MB.
M.MAX_VALUE = 65536

--- The largest number of seconds a timeout, wait or backoff may be: larger
-- ones are not waits anybody means, and would overflow the hosts' timers.
M.MAX_SECONDS = 1000000


--- The whole of a file, or nil when it cannot be opened.
-- @string path
-- @treturn ?string
function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

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

--- Check a string sent in a header or a URL: a string, free of CR, LF and
-- NUL, at most MAX_VALUE bytes, and not empty unless `empty_ok`. `for_url`
-- words the length error for an id or a query value.
function M.check_text(v, name, empty_ok, for_url)
  if type(v) ~= "string" then M.argerror(name, "must be a string, got " .. type(v)) end
  if v == "" and not empty_ok then M.argerror(name, "must not be empty") end
  if M.unsafe(v) then M.argerror(name, "must not contain CR, LF or NUL") end
  if #v > M.MAX_VALUE then
    M.argerror(name, "is too long" .. (for_url and " for a URL" or "") .. " (at most " .. M.MAX_VALUE .. " bytes)")
  end
end

--- An optional option that goes into a header (it may be empty).
function M.header_safe(opts, name)
  if opts[name] ~= nil then M.check_text(opts[name], name, true) end
end

--- A required, non-empty string option; `who` names what needs it.
function M.need_string(opts, name, who)
  if opts[name] == nil then M.argerror(name, "is required for " .. who) end
  M.check_text(opts[name], name)
end

--- Like need_string, for secrets: same checks, worded so nothing leaks.
M.need_secret = M.need_string

function M.strip_slash(url) return (url:gsub("/+$", "")) end

-- Hosts a plain http:// URL may name without allow_insecure: this machine.
local function loopback(host)
  host = host:lower()
  return host == "localhost" or host:match("^127%.%d+%.%d+%.%d+$") ~= nil or host == "[::1]"
end

--- Check a base URL option: http or https, no user info, no query; plain
-- http only to a loopback host unless `opts.allow_insecure` (credentials
-- would travel in clear).
function M.check_url(opts, name)
  local v = opts[name]
  if type(v) ~= "string" then M.argerror(name, "must be a string, got " .. type(v)) end
  local scheme, authority = v:match("^(https?)://([^/%s]+)")
  if not scheme or M.unsafe(v) or v:find("%s") then
    M.argerror(name, "must be an http:// or https:// URL")
  end
  if authority:find("@", 1, true) then
    M.argerror(name, "must not hold user info (user:password@): credentials go in their options")
  end
  if v:find("[?#]") then M.argerror(name, "must not have a query or fragment") end
  if #v > M.MAX_VALUE then M.argerror(name, "is too long for a URL") end
  local host = authority:match("^(%[[^%]]*%])") or authority:match("^([^:]+)")
  if scheme == "http" and not loopback(host or "") and opts.allow_insecure ~= true then
    M.argerror(name, "is plain http:// to a host that is not this machine: the credentials would "
      .. "travel in clear (use https://, or allow_insecure = true)")
  end
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

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

--- Standard base64 (RFC 4648 section 4, with padding).
function M.base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local q1, q2 = math.floor(n / 262144) % 64, math.floor(n / 4096) % 64
    local q3, q4 = math.floor(n / 64) % 64, n % 64
    out[#out + 1] = B64:sub(q1 + 1, q1 + 1) .. B64:sub(q2 + 1, q2 + 1)
      .. (b and B64:sub(q3 + 1, q3 + 1) or "=") .. (c and B64:sub(q4 + 1, q4 + 1) or "=")
  end
  return table.concat(out)
end

--- The error a generic `for` over a listing raised last, by coroutine:
-- `{ msg, err }`, so that a task of wfs.multi can hand back `err` too.
M.raised = setmetatable({}, { __mode = "k" })

return M
