-- No credential in anything the library hands a caller: every message,
-- every field of every err, tostring of clients, pagers and sessions, the
-- on_request info, and the sandbox's logs, over every error path of every
-- provider, searched for every spelling the library itself writes (raw,
-- "Bearer ...", percent- and form-encoded, base64 of client_id:client_secret).
local wfs = require "wfsession"
local core = require "wfsession.core"
local util = require "wfsession.util"
local helpers = require "helpers"

-- Distinctive values whose encodings differ from them.
local CREDS = {
  api_key = "live_key+Q/7 z&x=9%41",
  client_id = "client id/7+&",
  client_secret = "s3cr+t/with space&=%25",
  token = "tok.en+/=eyJhbGciOi",
}

local function spellings(values)
  local out = {}
  for _, v in pairs(values) do
    out[#out + 1] = v
    out[#out + 1] = core.escape(v)
  end
  local id, secret = values.client_id, values.client_secret
  if id and secret then
    out[#out + 1] = util.base64(id .. ":" .. secret)
    out[#out + 1] = util.base64(core.escape(id) .. ":" .. core.escape(secret))
  end
  return out
end

-- Every string inside `v` (tables walked, cycles stopped).
local function strings(v, out, seen)
  out, seen = out or {}, seen or {}
  local t = type(v)
  if t == "string" then
    out[#out + 1] = v
  elseif t == "number" or t == "boolean" then
    out[#out + 1] = tostring(v)
  elseif t == "table" and not seen[v] then
    seen[v] = true
    for k, x in pairs(v) do
      strings(k, out, seen)
      strings(x, out, seen)
    end
  elseif t == "userdata" then
    out[#out + 1] = tostring(v)
  end
  return out
end

local function assert_clean(collected, values, where)
  local bad = spellings(values)
  for _, s in ipairs(collected) do
    for _, secret in ipairs(bad) do
      -- also a piece of it, at a message's cut
      local probe = #secret > 12 and secret:sub(1, 12) or secret
      assert.is_nil(s:find(probe, 1, true), ("%s: a credential in %q"):format(where, s:sub(1, 120)))
    end
  end
end

-- A server that echoes everything it was sent into everything it answers.
local function echoing(kind)
  return function(req)
    local echo = tostring(req.headers and req.headers.Authorization or "") .. " | " .. tostring(req.body or "")
      .. " | " .. req.url
    local long = echo .. string.rep(" padding", 30) .. echo  -- cut in the middle of a secret
    if kind == "transport" then
      return nil, "network: could not reach " .. long, { kind = "network", message = long, code = echo,
                                                          request_id = echo }
    elseif kind == "decode" then
      return 200, { ["x-request-id"] = echo }, "not json: " .. long
    elseif kind == "page" then
      return 200, {}, '{"page":2,"pages":1,"totalItems":1,"items":[{"id":' .. string.format("%q", echo) .. "}]}"
    end
    local body = core.encode({ type = echo, code = echo, errorCode = echo, error = echo, message = long,
                               error_description = long, requestId = echo, retryable = false })
    return kind, { ["x-request-id"] = echo, ["retry-after"] = echo }, body
  end
end

local function clients(transport, on_request)
  return {
    wfs.new{ provider = "complycube", api_key = CREDS.api_key, transport = transport, retry = false,
             on_request = on_request, rate_limit = false },
    wfs.new{ provider = "extend", api_key = CREDS.api_key, transport = transport, retry = false,
             on_request = on_request, rate_limit = false },
    wfs.new{ provider = "idnow", client_id = CREDS.client_id, client_secret = CREDS.client_secret,
             flow_id = "flow-1", transport = transport, retry = false, on_request = on_request },
    wfs.new{ provider = "idnow", client_id = CREDS.client_id, client_secret = CREDS.client_secret,
             flow_id = "flow-1", idnow_auth = "basic", transport = transport, retry = false,
             on_request = on_request },
    wfs.new{ provider = "idnow", token = CREDS.token, flow_id = "flow-1", transport = transport,
             retry = false, on_request = on_request },
  }
end

-- Every error path of one client: a listing (next, pages, a for loop), one
-- session, lookups, wait; all strings they hand back.
local function exercise(c, out)
  local pager = c:sessions{}
  local r = table.pack(pager:next())
  strings(r, out)
  strings(pager:err(), out)
  out[#out + 1] = tostring(pager)
  out[#out + 1] = tostring(c)
  strings(table.pack(c:sessions():next_page()), out)
  local ok, raised = pcall(function() for _ in c:sessions{} do end end) -- luacheck: ignore 512
  strings({ ok, raised }, out)
  strings(table.pack(c:session("some-id")), out)
  for id, s, msg, err in c:sessions_by_id({ "a", "b" }) do strings({ id, s, msg, err }, out) end
  strings(table.pack(c:wait("some-id", { timeout = 0.01, interval = 0.01 })), out)
  for k, v in pairs(c) do strings({ k, v }, out) end
end

describe("no credential reaches a caller", function()
  for _, kind in ipairs({ 400, 401, 403, 404, 429, 500, 503, "transport", "decode", "page" }) do
    it("when the server echoes them back (" .. tostring(kind) .. ")", function()
      local out, infos = {}, {}
      for _, c in ipairs(clients(echoing(kind), function(info) infos[#infos + 1] = info end)) do
        exercise(c, out)
      end
      strings(infos, out)
      assert.is_true(#out > 50)
      assert_clean(out, CREDS, tostring(kind))
    end)
  end

  describe("over the sandbox's error paths", function()
    local sb, tls
    setup(function()
      sb = assert(helpers.sandbox{ sessions = 200, seed = 61, complycube_api_key = CREDS.api_key,
                                   extend_api_key = "ext+" .. CREDS.api_key, idnow_client_id = "sbx-id-4242",
                                   idnow_client_secret = "sbx+secret/4242&" })
      tls = assert(helpers.sandbox{ sessions = 10, tls = true })
    end)
    teardown(function()
      if sb then sb:stop() end
      if tls then tls:stop() end
    end)

    it("in messages, errors, info and logs", function()
      local out, infos = {}, {}
      local function on_request(info) infos[#infos + 1] = info end
      local values = { cc = CREDS.api_key, ext = "ext+" .. CREDS.api_key, client_id = "sbx-id-4242",
                       client_secret = "sbx+secret/4242&" }
      local function each(extra)
        for _, p in ipairs({ "complycube", "idnow", "extend" }) do
          local o = { on_request = on_request, retry = false, timeout = 2 }
          for k, v in pairs(extra or {}) do o[k] = v end
          if p == "idnow" then
            o.api_key = nil
          elseif o.base_url then
            o.base_url = o.base_url:gsub("complycube/v1", p == "extend" and "extend" or "complycube/v1")
          end
          exercise(helpers.client(sb, p, o), out)
        end
      end
      each()                                                           -- not found, wait timeouts
      each{ api_key = "wrong-" .. CREDS.api_key }                      -- 401
      values.wrong = "wrong-" .. CREDS.api_key
      exercise(helpers.client(sb, "idnow", { client_secret = "wrong-secret-9999", on_request = on_request,
                                            retry = false }), out)
      values.wrong_secret = "wrong-secret-9999"
      for _, fault in ipairs({ "500", "502", "503", "html502", "429", "drop", "truncate", "malformed" }) do
        sb:configure{ fault_rate = 1, faults = { fault } }
        each()
      end
      sb:configure{ fault_rate = 0, rate_limit = 1 }
      each()
      sb:configure{ rate_limit = 0, revoke_tokens = true }
      each{ max_body = 1024 }                                           -- protocol: max_body
      each{ base_url = tls.url .. "/complycube/v1" }                    -- TLS: unknown issuer
      each{ base_url = "http://127.0.0.1:1/v1" }                        -- refused
      strings(infos, out)
      assert.is_true(#out > 200)
      assert_clean(out, values, "sandbox paths")
      -- and the sandbox never logs them
      local log = assert(helpers.slurp(sb.dir .. "/error.log"))
      assert_clean({ log }, values, "the sandbox's error.log")
    end)
  end)
end)
