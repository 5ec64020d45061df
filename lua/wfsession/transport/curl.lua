--- Blocking HTTP transport on libcurl, for scripts (Lua 5.1 to 5.4).
--
-- A transport is a plain function `transport(req) -> status, headers, body`
-- or `nil, msg, err`. This one closes over one `wfsession.easy` object (one
-- libcurl easy handle), so consecutive requests to the same host reuse one
-- kept-alive connection. It blocks the calling thread: in OpenResty use the
-- cosocket transport instead.
--
--     local transport, close = require("wfsession.transport.curl").new{ timeout = 30 }
--     local status, headers, body = transport{ method = "GET", url = url, headers = h }
--     close()
--
-- @module wfsession.transport.curl

local core = require "wfsession.core"

local M = {}

--- Create a transport and the function that closes it.
-- @tparam[opt] table opts passed to `wfsession.core.easy`: `timeout` (seconds
--   for a request that has no `timeout`, default 30), `connect_timeout`
--   (seconds, default 10), `ca_file`, `proxy` (nil = libcurl's default, which
--   honours `http_proxy`/`https_proxy`/`no_proxy`; `""` = no proxy ever),
--   `user_agent`, `verify` (default true), `max_body` (bytes, default 64 MiB).
--   An unknown key or a wrong type raises.
-- @treturn function `transport(req)`: `req` is `{ method = "GET"|"POST", url,
--   headers = { [name] = value }, timeout, body }`; returns `status, headers,
--   body` (headers with lower-case names), or `nil, msg, err` with `err.kind`
--   `"timeout"`, `"tls"` or `"network"`. A malformed request raises.
-- @treturn function `close()`: closes the handle and its connections;
--   calling it again does nothing, calling `transport` afterwards raises.
--   Garbage collection closes it too.
function M.new(opts)
  local easy = core.easy(opts)

  local function transport(req)
    -- not a tail call: an argument error then names 'perform'
    local status, headers, body = easy:perform(req)
    return status, headers, body
  end

  local function close()
    easy:close()
  end

  return transport, close
end

return M
