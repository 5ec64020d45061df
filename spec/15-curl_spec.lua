-- The libcurl transport: core.easy (C) and wfsession.transport.curl (Lua).
-- The HTTP tests talk to the provider sandbox (nginx on loopback).

local core = require "wfsession.core"
local curl = require "wfsession.transport.curl"
local cjson = require "cjson"
local system = require "system"  -- luasystem, a busted dependency: wall-clock time

-- proxy = "": never route loopback tests through a proxy from the environment
local function new_transport(opts)
  opts = opts or {}
  if opts.proxy == nil then opts.proxy = "" end
  if opts.timeout == nil then opts.timeout = 10 end
  if opts.connect_timeout == nil then opts.connect_timeout = 5 end
  return curl.new(opts)
end

describe("core.easy", function()
  it("rejects a bad option type, naming the option", function()
    assert.error_matches(function() core.easy{ connect_timeout = "10" } end,
      "^bad argument #1 to '[%w%.]+' %(option 'connect_timeout' must be a number %(got string%)%)$")
    assert.error_matches(function() core.easy{ verify = "yes" } end, "option 'verify' must be a boolean")
    assert.error_matches(function() core.easy{ ca_file = 1 } end, "option 'ca_file' must be a string")
    assert.error_matches(function() core.easy{ proxy = true } end, "option 'proxy' must be a string")
    assert.error_matches(function() core.easy{ user_agent = {} } end, "option 'user_agent' must be a string")
    assert.error_matches(function() core.easy{ max_body = -1 } end, "option 'max_body' must be a finite number >= 0")
    assert.error_matches(function() core.easy{ timeout = 0 } end, "option 'timeout' must be a finite number > 0")
    assert.error_matches(function() core.easy{ connect_timeout = 0 / 0 } end, "option 'connect_timeout'")
    assert.error_matches(function() core.easy{ conect_timeout = 1 } end, "unknown option 'conect_timeout'")
    assert.error_matches(function() core.easy(42) end, "table expected")
  end)

  it("accepts no options at all", function()
    local e = core.easy()
    assert.matches("^wfsession%.easy %(0x%x+%)$", tostring(e))
    e:close()
  end)

  it("closes idempotently and refuses use after close", function()
    local e = core.easy{ proxy = "" }
    e:close()
    assert.equals("wfsession.easy (closed)", tostring(e))
    assert.has_no_error(function() e:close() end)
    assert.error_matches(function() e:perform{ url = "http://127.0.0.1:9/" } end,
      "attempt to use a closed wfsession%.easy")
  end)

  it("rejects a malformed request before any I/O", function()
    -- port 9 on loopback: were anything sent, the answer would be a network error, not a raise
    local e = core.easy{ proxy = "" }
    local url = "http://127.0.0.1:9/x"
    assert.error_matches(function() e:perform{ url = url, headers = { ["X-A"] = "a\r\nX-B: b" } } end,
      "'headers' value of 'X%-A' contains CR, LF or NUL")
    assert.error_matches(function() e:perform{ url = url, headers = { ["X-A\n"] = "a" } } end,
      "'headers' has a name containing CR, LF or NUL")
    assert.error_matches(function() e:perform{ url = url, headers = { ["X-A"] = "a\0b" } } end,
      "contains CR, LF or NUL")
    assert.error_matches(function() e:perform{ url = url .. "\r\n" } end, "'url' contains CR, LF or NUL")
    assert.error_matches(function() e:perform{ url = 42 } end, "'url' must be a string")
    assert.error_matches(function() e:perform{ url = "ftp://127.0.0.1/" } end, "http:// or https://")
    assert.error_matches(function() e:perform{ url = "file:///etc/passwd" } end, "'url'")
    assert.error_matches(function() e:perform{ url = url, method = "PUT" } end, "'method' must be")
    assert.error_matches(function() e:perform{ url = url, body = "x" } end, "'body' is only sent")
    assert.error_matches(function() e:perform{ url = url, timeout = -1 } end, "'timeout' must be")
    assert.error_matches(function() e:perform{ url = url, headers = { "x" } } end, "'headers' keys must be strings")
    assert.error_matches(function() e:perform{ url = url, headers = { ["X-A"] = {} } } end,
      "'headers' value of 'X%-A' must be a string")
    assert.error_matches(function() e:perform("x") end, "table expected")
    e:close()
  end)
end)

describe("curl transport on loopback", function()
  local sandbox = require "wfsession.sandbox"
  local sb, transport, close

  setup(function()
    sb = assert(sandbox.start{ latency = 0 })
    transport, close = new_transport()
  end)

  teardown(function()
    if close then close() end
    if sb then sb:stop() end
  end)

  it("GETs status, lower-case headers and body", function()
    local status, headers, body = transport{ method = "GET", url = sb.url .. "/_sandbox/echo?a=1&b=two" }
    assert.equals(200, status)
    if math.type then assert.equals("integer", math.type(status)) end
    assert.is_table(headers)
    for name in pairs(headers) do assert.equals(name:lower(), name) end
    assert.matches("json", headers["content-type"])
    local echo = cjson.decode(body)
    assert.equals("GET", echo.method)
    assert.equals("/_sandbox/echo?a=1&b=two", echo.uri)
  end)

  it("sends the request headers", function()
    local status, _, body = transport{
      method = "GET", url = sb.url .. "/_sandbox/echo",
      headers = { ["X-Wfs-Test"] = "abc 123", Accept = "application/json", ["X-Count"] = 7 },
    }
    assert.equals(200, status)
    local h = cjson.decode(body).headers
    assert.equals("abc 123", h["x-wfs-test"])
    assert.equals("application/json", h["accept"])
    assert.equals("7", h["x-count"])
    assert.equals("wfsession/" .. core.VERSION, h["user-agent"]:match("^(%S+) libcurl/%d"))
    assert.matches("gzip", h["accept-encoding"])
  end)

  it("POSTs a body", function()
    local payload = "grant_type=client_credentials&scope=a%20b"
    local status, _, body = transport{
      method = "POST", url = sb.url .. "/_sandbox/echo", body = payload,
      headers = { ["Content-Type"] = "application/x-www-form-urlencoded" },
    }
    assert.equals(200, status)
    local echo = cjson.decode(body)
    assert.equals("POST", echo.method)
    assert.equals(tostring(#payload), echo.headers["content-length"])
    assert.equals("application/x-www-form-urlencoded", echo.headers["content-type"])
  end)

  it("reuses one connection over 5 requests", function()
    local sb2 = assert(sandbox.start{ latency = 0 })
    local t, c = new_transport()
    finally(function() c(); sb2:stop() end)
    for i = 1, 5 do
      local status = t{ method = "GET", url = sb2.url .. "/_sandbox/echo?i=" .. i }
      assert.equals(200, status)
    end
    assert.equals(1, sb2:stats().connections)
  end)

  it("decodes a gzip body", function()
    local sbz = assert(sandbox.start{ latency = 0, gzip = true })
    local t, c = new_transport()
    finally(function() c(); sbz:stop() end)
    local status, headers, body = t{ method = "GET", url = sbz.url .. "/_sandbox/echo?gz=1" }
    assert.equals(200, status)
    assert.equals("gzip", headers["content-encoding"])
    assert.equals("/_sandbox/echo?gz=1", cjson.decode(body).uri)
  end)

  it("verifies TLS peers, trusting ca_file", function()
    local sbt = assert(sandbox.start{ latency = 0, tls = true })
    local strict, c1 = new_transport()
    local trusting, c2 = new_transport{ ca_file = sbt.ca_file }
    local blind, c3 = new_transport{ verify = false }
    finally(function() c1(); c2(); c3(); sbt:stop() end)
    local url = sbt.url .. "/_sandbox/echo"
    assert.matches("^https://127%.0%.0%.1:", url)
    local status, msg, err = strict{ method = "GET", url = url }
    assert.is_nil(status)
    assert.equals("tls", err.kind)
    -- CURLE_PEER_FAILED_VERIFICATION, or CURLE_SSL_CACERT_BADFILE where the
    -- system has no CA bundle: refused before any byte of the request either way
    assert.is_true(err.curl_code == 60 or err.curl_code == 77, "curl code " .. tostring(err.curl_code))
    assert.matches("^tls: ", msg)
    assert.equals(200, (trusting{ method = "GET", url = url }))
    assert.equals(200, (blind{ method = "GET", url = url }))
  end)

  it("refuses a body over max_body", function()
    local t, c = new_transport{ max_body = 10 }
    finally(c)
    local status, msg, err = t{ method = "GET", url = sb.url .. "/_sandbox/echo" }
    assert.is_nil(status)
    assert.equals("protocol: response body exceeds max_body (10 bytes)", msg)
    assert.equals("protocol", err.kind)
    assert.equals(msg, err.message)
  end)

  it("reports a refused connection as a network error", function()
    local gone = assert(sandbox.start{ latency = 0 })
    local url = gone.url
    gone:stop()
    local t0 = system.gettime()
    local status, msg, err = transport{ method = "GET", url = url .. "/_sandbox/echo" }
    assert.is_nil(status)
    assert.equals("network", err.kind)
    assert.equals(7, err.curl_code)  -- CURLE_COULDNT_CONNECT
    assert.matches("^network: ", msg)
    assert.is_nil(msg:find("\n", 1, true))
    assert.equals(msg, err.message)
    assert.is_true(system.gettime() - t0 < 5)
  end)

  it("times out within a bounded time, keeping secrets out of the message", function()
    sb:configure{ latency = 2 }
    finally(function() sb:configure{ latency = 0 } end)
    local t0 = system.gettime()
    local status, msg, err = transport{
      method = "GET", url = sb.url .. "/_sandbox/echo", timeout = 0.5,
      headers = { Authorization = "Bearer sk_live_SECRET" },
    }
    local elapsed = system.gettime() - t0
    assert.is_nil(status)
    assert.equals("timeout", err.kind)
    assert.equals(28, err.curl_code)  -- CURLE_OPERATION_TIMEDOUT
    assert.matches("^timeout: ", msg)
    assert.is_nil(msg:find("SECRET", 1, true))
    assert.is_true(elapsed >= 0.4 and elapsed < 1.8, "elapsed " .. elapsed)
  end)

  it("raises on CR/LF in a header before sending anything", function()
    local t, c = new_transport()
    finally(c)
    assert.error_matches(function()
      t{ method = "GET", url = sb.url .. "/_sandbox/echo", headers = { ["X-A"] = "1\r\nX-Injected: 1" } }
    end, "bad argument #1 to 'perform' %('headers' value of 'X%-A' contains CR, LF or NUL%)")
  end)

  it("raises after close, and closing twice is fine", function()
    local t, c = new_transport()
    assert.equals(200, (t{ method = "GET", url = sb.url .. "/_sandbox/echo" }))
    c()
    assert.has_no_error(c)
    assert.error_matches(function() t{ method = "GET", url = sb.url .. "/_sandbox/echo" } end,
      "attempt to use a closed wfsession%.easy")
  end)
end)
