--- The sandbox's knobs and their checks (internal): one table for the owner
-- (`start`, `configure`, which raise on a bad knob) and for the server
-- inside nginx (which refuses a bad control request), so the two never
-- disagree on what a knob accepts.
-- @module wfsession.sandbox.knobs

local floor = math.floor

local knobs = {}

local FAULTS = { ["500"] = true, ["502"] = true, ["503"] = true, html502 = true, ["429"] = true,
  drop = true, truncate = true, malformed = true, slow = true, trickle = true }

local function number_in(lo, hi, integer)
  return function(v)
    if type(v) ~= "number" or v ~= v or v < lo or v > hi or (integer and v ~= floor(v)) then
      return nil, (integer and "an integer" or "a number") .. " in [" .. lo .. ", " .. hi .. "]"
    end
    return v
  end
end

local function boolean(v)
  if type(v) ~= "boolean" then return nil, "a boolean" end
  return v
end

local function string_value(v)
  if type(v) ~= "string" or v == "" or v:find("%c") then return nil, "a non-empty string" end
  return v
end

local function fault_list(v)
  if type(v) ~= "table" then return nil, "an array of fault names" end
  local out = {}
  for k, f in pairs(v) do
    if type(k) ~= "number" or not FAULTS[f] then
      return nil, "an array of: 500, 502, 503, html502, 429, drop, truncate, malformed, slow, trickle"
    end
    out[k] = f
  end
  return out
end

--- name -> `{ check, runtime, action }`: `check(v)` returns the cleaned
-- value or nil and what the knob must be; `runtime = false` marks a knob
-- only `start` may set; `action` one that does something once instead of
-- staying set (only `configure` takes it).
knobs.KNOBS = {
  seed = { check = number_in(0, 4294967295, true), runtime = false },
  sessions = { check = number_in(0, 10000000, true) },
  latency = { check = number_in(0, 60) },
  token_ttl = { check = number_in(0.001, 31536000) },
  idnow_page_base = { check = function(v)
    if v ~= 0 and v ~= 1 then return nil, "0 or 1" end
    return v
  end },
  insert_every = { check = number_in(0, 1e9, true) },
  insert_count = { check = number_in(0, 1e6, true) },
  rate_limit = { check = number_in(0, 1e9) },
  fault_rate = { check = number_in(0, 1) },
  faults = { check = fault_list },
  slow_seconds = { check = number_in(0, 60) },
  fault_random = { check = boolean },
  retry_after = { check = number_in(0, 3600, true) },
  revoke_tokens = { check = boolean, action = true },
  gzip = { check = boolean, runtime = false },
  tls = { check = boolean, runtime = false },
  complycube_api_key = { check = string_value, runtime = false },
  extend_api_key = { check = string_value, runtime = false },
  idnow_client_id = { check = string_value, runtime = false },
  idnow_client_secret = { check = string_value, runtime = false },
}

--- Check one knob's value.
-- @string name a key of KNOBS
-- @param v
-- @return the cleaned value, or nil and a message ("'x' must be ...")
function knobs.check(name, v)
  local clean, why = knobs.KNOBS[name].check(v)
  if clean == nil then return nil, "'" .. name .. "' must be " .. why end
  return clean
end

return knobs
