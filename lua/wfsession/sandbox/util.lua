--- Small helpers shared by the sandbox server modules.
-- Runs inside nginx (LuaJIT, 5.1 semantics) and under plain Lua 5.1-5.4:
-- no `//`, no `goto`, no integer-only operations.
--
-- The JSON encoder here exists because the sandbox must answer with the
-- providers' documented field order and must be byte-for-byte reproducible;
-- cjson walks tables in hash order, which is neither.
-- @module wfsession.sandbox.util

local floor = math.floor
local format = string.format
local concat = table.concat
local byte, char = string.byte, string.char

local util = {}

--- The JSON `null` sentinel for ordered objects.
util.NULL = setmetatable({}, { __tostring = function() return "null" end })
local NULL = util.NULL

local OBJ = {}   -- metatable tag of ordered objects
local RAW = {}   -- metatable tag of text that is JSON already
local ARR = {}   -- metatable tag of arrays (so that `{}` encodes as `[]`)

--- Builds an ordered JSON object from alternating keys and values.
-- Values must not be `nil`; use `util.NULL`.
-- @function obj
-- @param ... key1, value1, key2, value2, ...
-- @treturn table
function util.obj(...)
  local t = { n = select("#", ...), ... }
  return setmetatable(t, OBJ)
end

--- Marks a Lua sequence as a JSON array (an empty one stays `[]`).
-- @function arr
-- @tparam[opt] table t
-- @treturn table
function util.arr(t)
  return setmetatable(t or {}, ARR)
end

--- Wraps text that is JSON already, to be embedded as it is.
-- @function raw
-- @string text
-- @treturn table
function util.raw(text)
  return setmetatable({ text }, RAW)
end

--- Appends a key/value pair to an ordered object.
-- @function put
-- @tparam table o an object from `util.obj`
-- @string k
-- @param v
function util.put(o, k, v)
  local n = o.n
  o[n + 1], o[n + 2] = k, v
  o.n = n + 2
end

local escapes = {
  ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
}
local function escape_char(c)
  return escapes[c] or format("\\u%04x", byte(c))
end

local function quote(s)
  return '"' .. s:gsub('[%c"\\]', escape_char) .. '"'
end
util.quote = quote

local encode_value

local function encode_number(v)
  if v ~= v or v == math.huge or v == -math.huge then
    return "null"
  end
  if v == floor(v) and v > -9007199254740992 and v < 9007199254740992 then
    return format("%.0f", v)
  end
  return format("%.14g", v)
end

-- `drop` removes NULL members from objects: ComplyCube's documented
-- convention is to leave empty fields out rather than send null.
encode_value = function(v, buf, drop)
  local tv = type(v)
  if tv == "string" then
    buf[#buf + 1] = quote(v)
  elseif tv == "number" then
    buf[#buf + 1] = encode_number(v)
  elseif tv == "boolean" then
    buf[#buf + 1] = v and "true" or "false"
  elseif v == nil or v == NULL then
    buf[#buf + 1] = "null"
  elseif tv == "table" then
    local mt = getmetatable(v)
    if mt == RAW then
      buf[#buf + 1] = v[1]
    elseif mt == OBJ then
      buf[#buf + 1] = "{"
      local first = true
      for k = 1, v.n, 2 do
        local val = v[k + 1]
        if not (drop and (val == NULL or val == nil)) then
          if not first then buf[#buf + 1] = "," end
          first = false
          buf[#buf + 1] = quote(v[k])
          buf[#buf + 1] = ":"
          encode_value(val, buf, drop)
        end
      end
      buf[#buf + 1] = "}"
    elseif mt == ARR or v[1] ~= nil or next(v) == nil then
      buf[#buf + 1] = "["
      for k = 1, #v do
        if k > 1 then buf[#buf + 1] = "," end
        encode_value(v[k], buf, drop)
      end
      buf[#buf + 1] = "]"
    else
      -- A plain hash table: sort the keys so the output stays reproducible.
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = tostring(k) end
      table.sort(keys)
      buf[#buf + 1] = "{"
      for k = 1, #keys do
        if k > 1 then buf[#buf + 1] = "," end
        buf[#buf + 1] = quote(keys[k])
        buf[#buf + 1] = ":"
        encode_value(v[keys[k]], buf, drop)
      end
      buf[#buf + 1] = "}"
    end
  else
    error("cannot encode a " .. tv .. " as JSON", 2)
  end
end

--- Encodes a value as JSON.
-- @function json
-- @param v value (ordered objects, arrays, plain tables, scalars)
-- @tparam[opt] boolean drop_nulls leave out NULL object members
-- @treturn string
function util.json(v, drop_nulls)
  local buf = {}
  encode_value(v, buf, drop_nulls)
  return concat(buf)
end

-- Time ----------------------------------------------------------------------

local function days_from_civil(y, m, d)
  -- Howard Hinnant's algorithm: exact for the proleptic Gregorian calendar.
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = floor(z / 146097)
  local doe = z - era * 146097
  local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
  local mp = floor((5 * doy + 2) / 153)
  local d = doy - floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return y, m, d
end

local mdays = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

--- Formats epoch milliseconds as ISO-8601 UTC.
-- @function iso
-- @number ms epoch milliseconds
-- @tparam boolean with_ms include `.mmm`
-- @treturn string `YYYY-MM-DDTHH:MM:SS[.mmm]Z`
function util.iso(ms, with_ms)
  local s = floor(ms / 1000)
  local days = floor(s / 86400)
  local sod = s - days * 86400
  local y, m, d = civil_from_days(days)
  local hh = floor(sod / 3600)
  local mm = floor((sod - hh * 3600) / 60)
  local ss = sod - hh * 3600 - mm * 60
  if with_ms then
    return format("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d, hh, mm, ss, ms - s * 1000)
  end
  return format("%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, hh, mm, ss)
end

--- Parses an ISO-8601 date or date-time into epoch milliseconds.
-- Accepts `YYYY-MM-DD`, and `YYYY-MM-DDTHH:MM:SS[.fff][Z|+HH:MM|-HH:MM]`
-- (a missing zone means UTC). Fractions beyond milliseconds are truncated.
-- @function parse_iso
-- @string s
-- @treturn[1] number epoch milliseconds
-- @treturn[2] nil when malformed
function util.parse_iso(s)
  if type(s) ~= "string" or #s > 40 then return nil end
  local y, mo, d, rest = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)(.*)$")
  if not y then return nil end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo < 1 or mo > 12 or d < 1 or d > mdays[mo] then return nil end
  if mo == 2 and d == 29 and not (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) then
    return nil
  end
  local hh, mi, ss, frac, zone = 0, 0, 0, 0, 0
  if rest ~= "" then
    local h, m, sec, tail = rest:match("^[Tt ](%d%d):(%d%d):(%d%d)(.*)$")
    if not h then return nil end
    hh, mi, ss = tonumber(h), tonumber(m), tonumber(sec)
    if hh > 23 or mi > 59 or ss > 59 then return nil end
    local digits, tz = tail:match("^%.(%d+)(.*)$")
    if digits then
      frac = tonumber((digits .. "00"):sub(1, 3))
      tail = tz
    end
    if tail == "Z" or tail == "z" or tail == "" then
      zone = 0
    else
      local sign, zh, zm = tail:match("^([+-])(%d%d):?(%d%d)$")
      if not sign then return nil end
      zh, zm = tonumber(zh), tonumber(zm)
      if zh > 23 or zm > 59 then return nil end
      zone = (zh * 60 + zm) * 60
      if sign == "-" then zone = -zone end
    end
  end
  local secs = days_from_civil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss - zone
  return secs * 1000 + frac
end

-- URLs ----------------------------------------------------------------------

local function hexval(h)
  return char(tonumber(h, 16))
end

--- Percent-decodes a string (`+` is left alone).
-- @function unescape
-- @string s
-- @treturn string
function util.unescape(s)
  return (s:gsub("%%(%x%x)", hexval))
end

--- Parses a query string with form semantics (`+` is a space).
-- Repeated keys keep their first value. At most 100 pairs are read.
-- @function parse_query
-- @string qs query string without the `?`
-- @treturn table name -> value
-- @treturn table names in order of appearance
function util.parse_query(qs)
  local args, order = {}, {}
  if not qs or qs == "" then return args, order end
  local count = 0
  for pair in qs:gmatch("[^&]+") do
    count = count + 1
    if count > 100 then break end
    local k, v = pair:match("^([^=]*)=(.*)$")
    if not k then k, v = pair, "" end
    k = util.unescape((k:gsub("%+", " ")))
    v = util.unescape((v:gsub("%+", " ")))
    if args[k] == nil then
      args[k] = v
      order[#order + 1] = k
    end
  end
  return args, order
end

local function escape_byte(c)
  return format("%%%02X", byte(c))
end

--- Percent-encodes a query value or path segment.
-- @function escape
-- @string s
-- @treturn string
function util.escape(s)
  return (tostring(s):gsub("[^%w%-%._~]", escape_byte))
end

--- Builds a query string from a table (keys sorted, for reproducibility).
-- @function build_query
-- @tparam table t name -> value (strings, numbers or booleans)
-- @treturn string without the `?`
function util.build_query(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for n = 1, #keys do
    parts[n] = util.escape(keys[n]) .. "=" .. util.escape(tostring(t[keys[n]]))
  end
  return concat(parts, "&")
end

--- Parses a decimal integer string, within bounds.
-- @function int
-- @string s
-- @number lo
-- @number hi
-- @treturn[1] number
-- @treturn[2] nil when not an integer in [lo, hi]
function util.int(s, lo, hi)
  if type(s) ~= "string" or not s:match("^%-?%d+$") or #s > 12 then return nil end
  local n = tonumber(s)
  if n < lo or n > hi then return nil end
  return n
end

return util
