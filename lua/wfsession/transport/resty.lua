--- HTTP/1.1 over OpenResty cosockets, for clients inside nginx: every wait
-- (connect, TLS, send, each read) yields to nginx's event loop, so a
-- listing never stalls the other requests of its worker.
--
--     local send = require("wfsession.transport.resty").new{ connect_timeout = 10 }
--     local status, headers, body = send{ method = "GET", url = url, headers = h, timeout = 30 }
--
-- Connections are kept alive in nginx's pool per scheme, host and port
-- (`setkeepalive`), and reused by every request of the worker. TLS peers
-- are verified by default against `lua_ssl_trusted_certificate` (nginx has
-- no CA file per request). Bodies may come with a Content-Length, chunked,
-- or until the connection closes; none may exceed `max_body`. Redirects are
-- never followed. Host names need nginx's `resolver` directive; IP
-- addresses do not.
-- @module wfsession.transport.resty
-- luacheck: globals ngx

local core = require "wfsession.core"
local util = require "wfsession.util"

local M = {}

local LIMITS = core.TRANSFER     -- max_body, low_speed_bytes, low_speed_time (wfs_transfer.h)
local HEAD_MAX = 1024 * 1024      -- all header bytes of one answer
local HEAD_LINES = 1000
local CHUNK = 65536               -- bytes per read of a body
local KEEPALIVE_MS, POOL_SIZE = 60000, 64

local function fail(kind, detail)
  local msg = kind .. ": " .. detail
  return nil, msg, { kind = kind, message = msg }
end

-- An error of a cosocket call: a timeout is one, the rest the network's.
local function io_fail(what, err)
  err = tostring(err)
  if err == "timeout" then return fail("timeout", what .. " timed out") end
  return fail("network", what .. ": " .. err)
end

local function argerror(msg) error("bad argument #1 to 'send' (" .. msg .. ")", 3) end

--- Split an http(s) URL; raises for anything else (never quoting the URL).
local function parse_url(url)
  if type(url) ~= "string" then argerror("'url' must be a string (got " .. type(url) .. ")") end
  if util.unsafe(url) then argerror("'url' contains CR, LF or NUL") end
  local scheme, authority, rest = url:match("^(https?)://([^/?#]+)(.*)$")
  if not scheme then argerror("'url' must be an http:// or https:// URL") end
  if authority:find("@", 1, true) then argerror("'url' must not hold user info") end
  local host, port = authority:match("^%[([%x:.]+)%]:?(%d*)$")
  if not host then host, port = authority:match("^([^:]+):?(%d*)$") end
  if not host then argerror("'url' has an invalid host") end
  port = tonumber(port ~= "" and port or (scheme == "https" and 443 or 80))
  if not port or port < 1 or port > 65535 then argerror("'url' has an invalid port") end
  rest = rest:gsub("#.*$", "")
  if rest == "" or rest:sub(1, 1) == "?" then rest = "/" .. rest end
  local default = (scheme == "https" and port == 443) or (scheme == "http" and port == 80)
  return scheme, host, port, rest, default and authority:gsub(":%d*$", "") or authority
end

local TOKEN = "^[!#$%%&'*+%-.^_`|~%w]+$"

--- The request head; raises for a bad header name or value.
local function request_head(req, method, target, hostline, opts, blen)
  local lines = { method .. " " .. target .. " HTTP/1.1" }
  local given = {}
  local headers = req.headers
  if headers ~= nil and type(headers) ~= "table" then
    argerror("'headers' must be a table (got " .. type(headers) .. ")")
  end
  for name, value in pairs(headers or {}) do
    if type(name) ~= "string" then argerror("'headers' keys must be strings") end
    if not name:match(TOKEN) then argerror("'headers' has an invalid name '" .. name .. "'") end
    given[name:lower()] = true
    if value ~= false then
      if type(value) ~= "string" and type(value) ~= "number" then
        argerror("'headers' value of '" .. name .. "' must be a string (got " .. type(value) .. ")")
      end
      value = tostring(value)
      if util.unsafe(value) then argerror("'headers' value of '" .. name .. "' contains CR, LF or NUL") end
      lines[#lines + 1] = name .. ": " .. value
    end
  end
  if not given.host then lines[#lines + 1] = "Host: " .. hostline end
  if not given["user-agent"] then lines[#lines + 1] = "User-Agent: " .. opts.user_agent end
  if blen then lines[#lines + 1] = "Content-Length: " .. blen end
  lines[#lines + 1] = ""
  lines[#lines + 1] = ""
  return table.concat(lines, "\r\n")
end

--[[
** A reader over one socket that keeps to the request's deadline and to the
** low-speed rule of the curl transport: once `low_speed` seconds have
** passed, an answer that came slower than LIMITS.low_speed_bytes a second
** is a timeout (a server that trickles its body a byte at a time), and no
** read waits longer than `low_speed` for anything at all.
]]
local function reader(sock, deadline, low_speed)
  ngx.update_time()
  local started, got = ngx.now(), 0
  local function arm()
    ngx.update_time()
    local now = ngx.now()
    local left = deadline - now
    if left <= 0 then return false end
    if low_speed then
      if now - started >= low_speed and got / (now - started) < LIMITS.low_speed_bytes then return false end
      if low_speed < left then left = low_speed end
    end
    sock:settimeout(math.max(1, math.floor(left * 1000)))
    return true
  end
  local function count(data, err, partial)
    got = got + #(data or partial or "")
    return data, err, partial
  end
  return function(pattern)
    if not arm() then return nil, "timeout" end
    return count(sock:receive(pattern))
  end, function(max)
    if not arm() then return nil, "timeout" end
    return count(sock:receiveany(max))
  end
end

-- Read the status line and headers of the final answer.
local function read_head(receive)
  for _ = 1, 6 do  -- interim 1xx answers come first
    local line, err = receive("*l")
    if not line then return nil, err end
    local major, status = line:match("^HTTP/(%d)%.%d (%d%d%d)")
    if not status then return nil, "bad status line" end
    status = tonumber(status)
    local headers, last, bytes = {}, nil, #line
    for _ = 1, HEAD_LINES + 1 do
      local h, herr = receive("*l")
      if not h then return nil, herr end
      bytes = bytes + #h + 2
      if bytes > HEAD_MAX then return nil, "response headers exceed " .. HEAD_MAX .. " bytes" end
      if h == "" then break end
      if h:match("^[ \t]") and last then   -- a folded line continues the one before
        headers[last] = headers[last] .. " " .. h:match("^[ \t]*(.-)[ \t]*$")
      else
        local name, value = h:match("^([^:%s]+)[ \t]*:[ \t]*(.-)[ \t]*$")
        if name then
          name = name:lower()
          headers[name] = headers[name] and (headers[name] .. ", " .. value) or value
          last = name
        end
      end
    end
    if status >= 200 or status == 101 then return status, headers, major end
  end
  return nil, "too many interim answers"
end

-- Append exactly `n` bytes to `parts`; true | nil, kind, detail.
local function read_exactly(receive, parts, n)
  while n > 0 do
    local piece, err = receive(math.min(n, CHUNK))
    if not piece then return nil, err == "timeout" and "timeout" or "network", "body: " .. tostring(err) end
    parts[#parts + 1] = piece
    n = n - #piece
  end
  return true
end

local function too_large(max_body)
  return nil, "protocol", "response body exceeds max_body (" .. max_body .. " bytes)"
end

-- Read a body; returns body, reusable | nil, kind, detail.
local function read_body(receive, receiveany, method, status, headers, max_body)
  if method == "HEAD" or status == 204 or status == 304 then return "", true end
  local te = headers["transfer-encoding"]
  local parts, total = {}, 0
  if te and te:lower():find("chunked", 1, true) then
    for _ = 1, 1e7 do
      local line, err = receive("*l")
      if not line then return nil, "network", "body: " .. tostring(err) end
      local size = tonumber(line:match("^%s*(%x+)") or "", 16)
      if not size then return nil, "network", "body: a chunk size is not a number" end
      if size == 0 then
        for _ = 1, HEAD_LINES do  -- trailers, up to the empty line
          local t, terr = receive("*l")
          if not t then return nil, "network", "body: " .. tostring(terr) end
          if t == "" then break end
        end
        return table.concat(parts), true
      end
      total = total + size
      if total > max_body then return too_large(max_body) end
      local ok, kind, detail = read_exactly(receive, parts, size)
      if not ok then return nil, kind, detail end
      local crlf, cerr = receive("*l")
      if crlf ~= "" then return nil, "network", "body: " .. tostring(cerr or "a chunk does not end in CRLF") end
    end
    return nil, "network", "body: too many chunks"
  end
  local length = headers["content-length"]
  if length then
    local n = tonumber(length:match("^%s*(%d+)%s*$") or "")
    if not n then return nil, "network", "body: Content-Length is not a number" end
    if n > max_body then return too_large(max_body) end
    local ok, kind, detail = read_exactly(receive, parts, n)
    if not ok then return nil, kind, detail end
    return table.concat(parts), true
  end
  -- neither: the body ends when the server closes the connection
  for _ = 1, 1e7 do
    local piece, err = receiveany(CHUNK)
    if not piece then
      if err == "closed" then return table.concat(parts), false end
      return nil, err == "timeout" and "timeout" or "network", "body: " .. tostring(err)
    end
    total = total + #piece
    if total > max_body then return too_large(max_body) end
    parts[#parts + 1] = piece
  end
  return nil, "network", "body: too long"
end

-- One attempt on one connection. `fresh` is false when the pool handed out a
-- kept-alive connection that the server may have closed meanwhile.
local function attempt(opts, req, u)
  local scheme, host, port, target, hostline = u[1], u[2], u[3], u[4], u[5]
  local method = req.method or "GET"
  if method ~= "GET" and method ~= "POST" then argerror("'method' must be \"GET\" or \"POST\"") end
  local body = req.body
  if body ~= nil then
    if type(body) ~= "string" then argerror("'body' must be a string (got " .. type(body) .. ")") end
    if method ~= "POST" then argerror("'body' is only sent with method \"POST\"") end
  end
  local head = request_head(req, method, target, hostline, opts, method == "POST" and #(body or "") or nil)
  local timeout = req.timeout or opts.timeout
  ngx.update_time()
  local deadline = ngx.now() + timeout
  local sock = ngx.socket.tcp()
  local connect_ms = math.floor(math.min(opts.connect_timeout, timeout) * 1000)
  sock:settimeouts(math.max(1, connect_ms), math.max(1, math.floor(timeout * 1000)),
                   math.max(1, math.floor(timeout * 1000)))
  local pool = scheme .. "://" .. host .. ":" .. port .. (opts.verify and "" or "#noverify")
  local ok, err = sock:connect(host, port, { pool = pool, pool_size = POOL_SIZE })
  if not ok then return io_fail("connect to " .. host .. ":" .. port, err) end
  local reused = (sock:getreusedtimes() or 0) > 0
  if scheme == "https" and not reused then
    -- SNI and the name check take a host name; an IP address is checked by the chain only
    local name = not host:match("^[%d.]+$") and not host:find(":", 1, true) and host or nil
    -- false: no session object wanted back (asking for one trips an assertion of
    -- Debian's lua-resty-core when verification fails)
    local done, serr = sock:sslhandshake(false, name, opts.verify)
    if not done then
      sock:close()
      if tostring(serr):find("timeout", 1, true) then return fail("timeout", "TLS handshake timed out") end
      return fail("tls", "TLS handshake failed: " .. tostring(serr))
    end
  end
  local sent
  sent, err = sock:send(body and { head, body } or head)
  if not sent then
    sock:close()
    local nil1, msg, e = io_fail("send", err)
    return nil1, msg, e, reused
  end
  local receive, receiveany = reader(sock, deadline, opts.low_speed_time)
  local status, headers, major = read_head(receive)
  if not status then
    sock:close()
    local nil1, msg, e = io_fail("response", headers)
    -- a kept-alive connection the server had closed: nothing was answered
    return nil1, msg, e, reused and (headers == "closed" or headers == "connection reset by peer")
  end
  local data, reusable, detail = read_body(receive, receiveany, method, status, headers, opts.max_body)
  if not data then
    sock:close()
    return fail(reusable, detail)  -- (the kind of failure, then)
  end
  local conn = (headers.connection or ""):lower()
  if reusable and major == "1" and not conn:find("close", 1, true) then
    sock:setkeepalive(KEEPALIVE_MS, POOL_SIZE)
  else
    sock:close()
  end
  return status, headers, data
end

--- A transport function over cosockets.
-- @tparam[opt] table opts `connect_timeout` (seconds, 10), `timeout`
--   (seconds for a request that has none, 30), `verify` (true),
--   `user_agent`, `max_body` (bytes, 16 MiB; a larger body is a `protocol`
--   failure), `low_speed_time` (10 s: a body slower than 1 KiB/s for that
--   long is a timeout)
-- @treturn function `send(req)` -> status, headers (lower-case names), body
--   | nil, msg, err (`err.kind` "network", "timeout" or "tls")
function M.new(opts)
  opts = opts or {}
  local o = {
    connect_timeout = opts.connect_timeout or 10, timeout = opts.timeout or 30,
    verify = opts.verify ~= false, max_body = opts.max_body or LIMITS.max_body,
    low_speed_time = opts.low_speed_time or LIMITS.low_speed_time,
    user_agent = opts.user_agent or ("wfsession/" .. (opts.version or "0") .. " ngx_lua/"
      .. tostring(ngx.config and ngx.config.ngx_lua_version or "?")),
  }
  return function(req)
    if type(req) ~= "table" then argerror("table expected, got " .. type(req)) end
    local u = { parse_url(req.url) }
    local status, headers, body, again = attempt(o, req, u)
    if not status and again then
      -- once more on a new connection: a pooled one may have been closed by the server
      status, headers, body = attempt(o, req, u)
    end
    return status, headers, body
  end
end

return M
