-- Provider error answers -> msg, err.

local core = require "wfsession.core"

local function fixture(name)
  local f = assert(io.open("spec/fixtures/" .. name, "rb"))
  local text = f:read("*a")
  f:close()
  return assert(core.decode(text))
end

-- one fixture body re-encoded, as a server would send it
local function body_of(name, key)
  return assert(core.encode(fixture(name)[key]))
end

local function one_line(msg)
  assert.equal("string", type(msg))
  assert.is_true(#msg <= 200, "too long: " .. #msg)
  assert.is_nil(msg:find("%c"), "control character in " .. msg)
end

describe("error", function()
  describe("http_error with ComplyCube bodies", function()
    local cases = {
      { "400", 400, "http", "invalid_request", false },
      { "401", 401, "auth", "unauthorized", false },
      { "403", 403, "forbidden", "unauthorized", false },
      { "404_workflow_session", 404, "not_found", "resource_not_found", false },
      { "404_client", 404, "not_found", "resource_not_found", false },
      { "429", 429, "rate_limited", "rate_limit_exceeded", true },
      { "500", 500, "server", "internal_server_error", true },
    }
    for _, c in ipairs(cases) do
      it(c[1], function()
        local raw = fixture("complycube_errors.json")[c[1]]
        local msg, err = core.http_error("complycube", c[2], nil, assert(core.encode(raw)))
        one_line(msg)
        assert.equal(c[3], err.kind)
        assert.equal(c[2], err.status)
        if math.type then assert.equal("integer", math.type(err.status)) end
        assert.equal(c[4], err.code)
        assert.equal(raw.message, err.message)
        assert.equal(c[5], err.retryable)
        assert.equal("complycube", err.provider)
        assert.is_nil(err.request_id)
        assert.matches("^complycube: " .. c[3] .. " %(HTTP " .. c[2] .. " " .. c[4] .. "%): ", msg)
      end)
    end

    it("writes the documented message line", function()
      local msg = core.http_error("complycube", 404, nil, body_of("complycube_errors.json", "404_workflow_session"))
      assert.equal("complycube: not_found (HTTP 404 resource_not_found): " ..
                   "Invalid workflow session id '5eb2b61e02df0a0008f1cf2b'", msg)
    end)
  end)

  describe("http_error with Extend bodies", function()
    it("reads code, message, retryable and requestId", function()
      local raw = fixture("extend_errors.json").docs_example_400_INVALID_REQUEST
      local msg, err = core.http_error("extend", 400, { ["x-request-id"] = "hdr" }, assert(core.encode(raw)))
      one_line(msg)
      assert.equal("http", err.kind)
      assert.equal("INVALID_REQUEST", err.code)
      assert.equal(raw.message, err.message)
      assert.is_false(err.retryable)
      assert.equal("req_Xj8mK2pL9nR4vT7qY5wZ", err.request_id)  -- the body wins over the header
      assert.equal("extend", err.provider)
      assert.matches("^extend: http %(HTTP 400 INVALID_REQUEST%): Non%-nullable", msg)
    end)

    it("reads the rate-limit body", function()
      local msg, err = core.http_error("extend", 429, { ["retry-after"] = "3" },
                                       body_of("extend_errors.json", "docs_example_429_RATE_LIMIT_EXCEEDED"))
      assert.equal("rate_limited", err.kind)
      assert.equal("RATE_LIMIT_EXCEEDED", err.code)
      assert.is_true(err.retryable)
      assert.equal("extend: rate_limited (HTTP 429 RATE_LIMIT_EXCEEDED): Too many requests. Back off and retry.", msg)
    end)

    it("reads the legacy {success, error} body", function()
      local msg, err = core.http_error("extend", 404, nil,
                                       body_of("extend_errors.json", "legacy_error_shape_2025-04-21"))
      assert.equal("not_found", err.kind)
      assert.is_nil(err.code)
      assert.equal("<description of the error>", err.message)
      assert.equal("extend: not_found (HTTP 404): <description of the error>", msg)
    end)

    it("honours a body that says retryable on any status", function()
      local _, err = core.http_error("extend", 409, nil, '{"code":"CONFLICT","message":"busy","retryable":true}')
      assert.equal("http", err.kind)
      assert.is_true(err.retryable)
      _, err = core.http_error("extend", 409, nil, '{"code":"CONFLICT","retryable":"yes"}')
      assert.is_false(err.retryable)
    end)
  end)

  describe("http_error with IDnow bodies", function()
    it("reads errorCode", function()
      local msg, err = core.http_error("idnow", 404, { ["x-request-id"] = "rid-1" },
                                       '{"errorCode":"SESSION_NOT_FOUND","message":"No session abc"}')
      assert.equal("SESSION_NOT_FOUND", err.code)
      assert.equal("No session abc", err.message)
      assert.equal("rid-1", err.request_id)
      assert.equal("idnow: not_found (HTTP 404 SESSION_NOT_FOUND): No session abc", msg)
    end)

    it("reads an OAuth error", function()
      local msg, err = core.http_error("idnow", 401, nil,
                                       '{"error":"invalid_client","error_description":"Client authentication failed"}')
      assert.equal("auth", err.kind)
      assert.equal("invalid_client", err.code)
      assert.equal("Client authentication failed", err.message)
      assert.equal("idnow: auth (HTTP 401 invalid_client): Client authentication failed", msg)
    end)

    it("turns a numeric errorCode into a string", function()
      local _, err = core.http_error("idnow", 400, nil, '{"errorCode":1234}')
      assert.equal("1234", err.code)
    end)
  end)

  describe("http_error without a usable body", function()
    it("uses the reason phrase", function()
      for _, c in ipairs({
        { nil, "Bad Gateway" }, { "", "Bad Gateway" }, { "<html><body>502</body></html>", "Bad Gateway" },
        { "[1,2]", "Bad Gateway" }, { '"text"', "Bad Gateway" }, { "null", "Bad Gateway" },
        { '{"message":""}', "Bad Gateway" }, { '{"message":{"nested":1}}', "Bad Gateway" },
        { '{"truncated": "bo', "Bad Gateway" },
      }) do
        local msg, err = core.http_error("complycube", 502, nil, c[1])
        assert.equal("server", err.kind)
        assert.is_true(err.retryable)
        assert.is_nil(err.code)
        assert.equal(c[2], err.message)
        assert.equal("complycube: server (HTTP 502): Bad Gateway", msg)
      end
    end)

    it("takes request_id from the x-request-id header", function()
      local _, err = core.http_error("extend", 500, { ["x-request-id"] = "abc-123" }, "oops")
      assert.equal("abc-123", err.request_id)
      _, err = core.http_error("extend", 500, { ["x-request-id"] = { "not", "a string" } }, nil)
      assert.is_nil(err.request_id)
      _, err = core.http_error("extend", 500, {}, nil)
      assert.is_nil(err.request_id)
    end)
  end)

  describe("kinds and retryable by status", function()
    local cases = {
      { 400, "http", false }, { 401, "auth", false }, { 402, "http", false }, { 403, "forbidden", false },
      { 404, "not_found", false }, { 408, "timeout", true }, { 409, "http", false }, { 422, "http", false },
      { 429, "rate_limited", true }, { 500, "server", true }, { 501, "server", false },
      { 502, "server", true }, { 503, "server", true }, { 504, "server", true }, { 505, "server", false },
      { 599, "server", false }, { 302, "http", false }, { 0, "http", false }, { 999, "server", false },
    }
    for _, c in ipairs(cases) do
      it(tostring(c[1]), function()
        local msg, err = core.http_error("idnow", c[1], nil, nil)
        one_line(msg)
        assert.equal(c[2], err.kind)
        assert.equal(c[3], err.retryable)
        assert.equal(c[1], err.status)
        assert.equal("string", type(err.message))
        assert.matches("^idnow: " .. c[2] .. " %(HTTP " .. c[1] .. "%): ", msg)
      end)
    end
  end)

  describe("message line", function()
    it("replaces CR, LF and other control characters with spaces", function()
      local body = assert(core.encode({ type = "bad\ttype", message = "line one\r\nline two\0end" }))
      local msg, err = core.http_error("complycube", 400, nil, body)
      one_line(msg)
      assert.equal("complycube: http (HTTP 400 bad type): line one  line two end", msg)
      assert.equal("line one\r\nline two\0end", err.message)  -- err keeps the provider's text
    end)

    it("is at most 200 bytes and ends with ... when cut", function()
      local long = ("word "):rep(300)
      local msg, err = core.http_error("extend", 400, nil, assert(core.encode({ code = "X", message = long })))
      one_line(msg)
      assert.matches("%.%.%.$", msg)
      assert.equal(long, err.message)
    end)

    it("is never cut inside a UTF-8 character", function()
      for pad = 0, 3 do
        local msg = core.http_error("extend", 400, nil,
                                    assert(core.encode({ message = ("x"):rep(pad) .. ("é€"):rep(100) })))
        assert.is_true(#msg <= 200)
        if utf8 then assert.is_not_nil(utf8.len(msg), "pad " .. pad) end
      end
    end)
  end)

  describe("http_error arguments", function()
    it("raises argument errors", function()
      assert.has_error(function() core.http_error("nope", 404) end)
      assert.has_error(function() core.http_error(nil, 404) end)
      assert.has_error(function() core.http_error("idnow", "404") end)
      assert.has_error(function() core.http_error("idnow", 404.5) end)
      assert.has_error(function() core.http_error("idnow", 404, "headers") end)
      assert.has_error(function() core.http_error("idnow", 404, nil, 12) end)
      local ok, msg = pcall(core.http_error, "idnow", 404, nil, {})
      assert.is_false(ok)
      assert.matches("#4", msg)
    end)
  end)

  describe("core.error", function()
    it("builds msg and err for non-HTTP failures", function()
      local msg, err = core.error("idnow", "decode", "Expected value but found T_END at character 1")
      assert.equal("idnow: decode: Expected value but found T_END at character 1", msg)
      assert.equal("decode", err.kind)
      assert.equal("Expected value but found T_END at character 1", err.message)
      assert.is_false(err.retryable)
      assert.equal("idnow", err.provider)
      assert.is_nil(err.status)
      assert.is_nil(err.code)
    end)

    it("defaults retryable by kind, and takes an explicit one", function()
      local defaults = {
        network = true, timeout = true, rate_limited = true, server = true,
        tls = false, http = false, auth = false, forbidden = false, not_found = false,
        decode = false, protocol = false, closed = false,
      }
      for kind, r in pairs(defaults) do
        local _, err = core.error("extend", kind, "x")
        assert.equal(r, err.retryable, kind)
        _, err = core.error("extend", kind, "x", not r)
        assert.equal(not r, err.retryable, kind)
      end
    end)

    it("works without a provider or a message", function()
      local msg, err = core.error(nil, "closed", "pager is closed")
      assert.equal("wfsession: closed: pager is closed", msg)
      assert.is_nil(err.provider)
      msg, err = core.error("complycube", "network")
      assert.equal("complycube: network", msg)
      assert.is_nil(err.message)
    end)

    it("keeps the line short and clean", function()
      local msg = core.error("extend", "protocol", "a\nb" .. ("z"):rep(500))
      one_line(msg)
      assert.matches("^extend: protocol: a b", msg)
    end)

    it("raises argument errors", function()
      assert.has_error(function() core.error("idnow", "oops", "x") end)
      assert.has_error(function() core.error("idnow") end)
      assert.has_error(function() core.error("bank", "network", "x") end)
      assert.has_error(function() core.error("idnow", "network", {}) end)
      assert.has_error(function() core.error("idnow", "network", "x", "yes") end)
      local ok, msg = pcall(core.error, "idnow", "oops", "x")
      assert.is_false(ok)
      assert.matches("unknown error kind 'oops'", msg)
    end)
  end)
end)
