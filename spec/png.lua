--- A small PNG reader for the specs (pure Lua 5.1-5.4 and LuaJIT, no bit
-- operators): 8-bit RGB and RGBA, not interlaced, the five filter types,
-- and a zlib inflater for stored, fixed-Huffman and dynamic-Huffman
-- blocks. Chunk CRCs and the zlib Adler-32 are checked. Bounded: files
-- over 64 MiB, sides over 16384 and images over 40 million pixels are
-- refused, and inflating stops at the size the header announces.
--
--     local png = dofile("spec/png.lua")
--     local img = png.read("shot.png")      -- or png.decode(bytes)
--     local r, g, b = img.pixel(0, 0)       -- x in 0..width-1, y in 0..height-1
--
-- Errors raise a message starting with "png: ".

local byte, char, sub = string.byte, string.char, string.sub
local floor = math.floor
local concat = table.concat
local unpack = table.unpack or unpack -- luacheck: ignore 143

local M = {}

M.MAX_FILE = 64 * 1024 * 1024
M.MAX_SIDE = 16384
M.MAX_PIXELS = 40000000

local function fail(msg) error("png: " .. msg, 0) end

-- 2^k for k = 0..32
local P2 = {}
for k = 0, 32 do P2[k] = 2 ^ k end

-- string of bytes t[i..j], in slices that stay under every Lua's C-stack limit
local function chars(t, i, j, out)
  while i <= j do
    local k = i + 4095
    if k > j then k = j end
    out[#out + 1] = char(unpack(t, i, k))
    i = k + 1
  end
end

--[[
** XOR without bit operators: a 256 x 256 table for bytes; CRC-32 over
** bytes kept as four numbers (low byte first).
]]
local XOR = {}
for a = 0, 255 do
  for b = 0, 255 do
    local r, p, x, y = 0, 1, a, b
    for _ = 1, 8 do
      if x % 2 ~= y % 2 then r = r + p end
      x, y, p = floor(x / 2), floor(y / 2), p * 2
    end
    XOR[a * 256 + b] = r
  end
end

local CRC0, CRC1, CRC2, CRC3 = {}, {}, {}, {}
do
  local poly = { 0x20, 0x83, 0xB8, 0xED }  -- 0xEDB88320, low byte first
  for n = 0, 255 do
    local c = { n, 0, 0, 0 }
    for _ = 1, 8 do
      local odd = c[1] % 2 == 1
      -- shift right by one over the four bytes
      for i = 1, 4 do
        local carry = i < 4 and (c[i + 1] % 2) * 128 or 0
        c[i] = floor(c[i] / 2) + carry
      end
      if odd then
        for i = 1, 4 do c[i] = XOR[c[i] * 256 + poly[i]] end
      end
    end
    CRC0[n], CRC1[n], CRC2[n], CRC3[n] = c[1], c[2], c[3], c[4]
  end
end

-- CRC-32 of s[i..j] as a number
local function crc32(s, i, j)
  local c0, c1, c2, c3 = 255, 255, 255, 255
  for k = i, j do
    local n = XOR[c0 * 256 + byte(s, k)]
    c0 = XOR[c1 * 256 + CRC0[n]]
    c1 = XOR[c2 * 256 + CRC1[n]]
    c2 = XOR[c3 * 256 + CRC2[n]]
    c3 = CRC3[n]
  end
  return (255 - c0) + (255 - c1) * 256 + (255 - c2) * 65536 + (255 - c3) * 16777216
end
M.crc32 = function(s) return crc32(s, 1, #s) end

local function u32(s, i)
  local a, b, c, d = byte(s, i, i + 3)
  return ((a * 256 + b) * 256 + c) * 256 + d
end

--[[
** Inflate (RFC 1950/1951).
]]
local LBASE = { 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115,
                131, 163, 195, 227, 258 }
local LEXT = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0 }
local DBASE = { 1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
                2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577 }
local DEXT = { 0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13 }
local CLORDER = { 16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15 }

--[[
** A canonical Huffman code as a lookup table: the next `max` bits of the
** stream (first bit lowest) index `sym * 16 + len`. Lengths are given for
** symbols 0..n-1; an over-subscribed set is refused; an incomplete one
** leaves holes, an error when met.
]]
local function huffman(lengths, n)
  local bl_count, max = {}, 0
  for l = 0, 15 do bl_count[l] = 0 end
  for s = 0, n - 1 do
    local l = lengths[s] or 0
    bl_count[l] = bl_count[l] + 1
    if l > max then max = l end
  end
  if max == 0 then return { max = 0 } end
  local left = 1
  for l = 1, 15 do
    left = left * 2 - bl_count[l]
    if left < 0 then fail("over-subscribed Huffman code") end
  end
  local next_code, code = {}, 0
  bl_count[0] = 0
  for l = 1, 15 do
    code = (code + bl_count[l - 1]) * 2
    next_code[l] = code
  end
  local t = { max = max }
  for s = 0, n - 1 do
    local l = lengths[s] or 0
    if l > 0 then
      local c = next_code[l]
      next_code[l] = c + 1
      local r = 0 -- c reversed over l bits
      for _ = 1, l do
        r = r * 2 + c % 2
        c = floor(c / 2)
      end
      local v, step = s * 16 + l, P2[l]
      for i = r, P2[max] - 1, step do t[i] = v end
    end
  end
  return t
end

local FIXED_LIT, FIXED_DIST
do
  local l = {}
  for s = 0, 143 do l[s] = 8 end
  for s = 144, 255 do l[s] = 9 end
  for s = 256, 279 do l[s] = 7 end
  for s = 280, 287 do l[s] = 8 end
  FIXED_LIT = huffman(l, 288)
  local d = {}
  for s = 0, 29 do d[s] = 5 end
  FIXED_DIST = huffman(d, 30)
end

local WINDOW = 32768
local FLUSH = 1048576 + WINDOW

--- Inflate the zlib stream in `s` from byte `start`; at most `limit` bytes out.
-- @treturn string the data
-- @treturn number the index after the Adler-32 trailer
function M.inflate(s, start, limit)
  start = start or 1
  local len = #s
  if len - start + 1 < 6 then fail("zlib stream too short") end
  local cmf, flg = byte(s, start, start + 1)
  if cmf % 16 ~= 8 or floor(cmf / 16) > 7 then fail("not a deflate stream") end
  if (cmf * 256 + flg) % 31 ~= 0 then fail("bad zlib header check") end
  if floor(flg / 32) % 2 == 1 then fail("zlib preset dictionary not supported") end
  local pos, bitbuf, bitcnt, over = start + 2, 0, 0, 0

  local function need(n)
    while bitcnt < n do
      local b = byte(s, pos)
      if not b then
        -- zeros past the end let a peek look ahead; using them is an error
        over = over + 1
        if over > 4 then fail("truncated zlib stream") end
        b = 0
      end
      pos = pos + 1
      bitbuf = bitbuf + b * P2[bitcnt]
      bitcnt = bitcnt + 8
    end
  end
  local function bits(n)
    if n == 0 then return 0 end
    need(n)
    local v = bitbuf % P2[n]
    bitbuf = (bitbuf - v) / P2[n]
    bitcnt = bitcnt - n
    return v
  end
  local function decode(t)
    local max = t.max
    if max == 0 then fail("use of an empty Huffman code") end
    need(max)
    local e = t[bitbuf % P2[max]]
    if not e then fail("invalid Huffman code") end
    local l = e % 16
    bitbuf = (bitbuf - bitbuf % P2[l]) / P2[l]
    bitcnt = bitcnt - l
    return (e - l) / 16
  end

  local pieces, buf, n, flushed = {}, {}, 0, 0
  local function flush(keep)
    if n <= keep then return end
    chars(buf, 1, n - keep, pieces)
    local from = n - keep
    for i = 1, keep do buf[i] = buf[from + i] end
    flushed = flushed + from
    n = keep
  end
  local function grow(k)
    if flushed + n + k > limit then fail("image data larger than the header says") end
  end

  local final = false
  while not final do
    final = bits(1) == 1
    local btype = bits(2)
    if btype == 0 then
      bits(bitcnt % 8)
      local ln, nln = bits(16), bits(16)
      if ln + nln ~= 65535 then fail("stored block length check failed") end
      grow(ln)
      while ln > 0 and bitcnt > 0 do
        n = n + 1
        buf[n] = bits(8)
        ln = ln - 1
      end
      if ln > 0 then
        if pos + ln - 1 > len then fail("truncated stored block") end
        for i = pos, pos + ln - 1, 4096 do
          local j = i + 4095
          if j > pos + ln - 1 then j = pos + ln - 1 end
          local t = { byte(s, i, j) }
          for k = 1, #t do buf[n + k] = t[k] end
          n = n + #t
          if n > FLUSH then flush(WINDOW) end
        end
        pos = pos + ln
      end
    elseif btype == 1 or btype == 2 then
      local lit, dist = FIXED_LIT, FIXED_DIST
      if btype == 2 then
        local hlit, hdist, hclen = bits(5) + 257, bits(5) + 1, bits(4) + 4
        if hlit > 286 or hdist > 30 then fail("bad dynamic block header") end
        local cl = {}
        for i = 1, hclen do cl[CLORDER[i]] = bits(3) end
        local clt = huffman(cl, 19)
        local lengths, i, total = {}, 0, hlit + hdist
        while i < total do
          local sym = decode(clt)
          if sym < 16 then
            lengths[i] = sym
            i = i + 1
          else
            local rep, v
            if sym == 16 then
              if i == 0 then fail("repeat with no previous length") end
              rep, v = 3 + bits(2), lengths[i - 1]
            elseif sym == 17 then
              rep, v = 3 + bits(3), 0
            else
              rep, v = 11 + bits(7), 0
            end
            if i + rep > total then fail("code lengths overflow") end
            for _ = 1, rep do
              lengths[i] = v
              i = i + 1
            end
          end
        end
        if (lengths[256] or 0) == 0 then fail("no end-of-block code") end
        local ll, dl = {}, {}
        for k = 0, hlit - 1 do ll[k] = lengths[k] end
        for k = 0, hdist - 1 do dl[k] = lengths[hlit + k] end
        lit, dist = huffman(ll, hlit), huffman(dl, hdist)
      end
      while true do
        if n > FLUSH then flush(WINDOW) end
        local sym = decode(lit)
        if sym < 256 then
          grow(1)
          n = n + 1
          buf[n] = sym
        elseif sym == 256 then
          break
        else
          sym = sym - 256
          if sym > 29 then fail("bad length code") end
          local ln = LBASE[sym] + bits(LEXT[sym])
          local dsym = decode(dist) + 1
          if dsym > 30 then fail("bad distance code") end
          local d = DBASE[dsym] + bits(DEXT[dsym])
          if d > flushed + n then fail("distance too far back") end
          grow(ln)
          local from = n - d
          for k = 1, ln do buf[n + k] = buf[from + k] end
          n = n + ln
        end
      end
    else
      fail("bad block type 3")
    end
  end
  flush(0)
  -- the Adler-32 follows, byte-aligned: give back the whole bytes still buffered
  local tail = pos - floor(bitcnt / 8)
  if over > floor(bitcnt / 8) or tail + 3 > len then fail("truncated zlib stream") end
  return concat(pieces), tail + 4, u32(s, tail)
end

local function adler_ok(a, b, want)
  return (b % 65521) * 65536 + (a % 65521) == want
end

--- Decode a PNG held in a string.
-- @treturn table `{ width, height, channels, pixel = function(x, y) -> r, g, b, a }`
function M.decode(data)
  if type(data) ~= "string" then fail("expected a string") end
  if #data > M.MAX_FILE then fail("file too large") end
  if sub(data, 1, 8) ~= "\137PNG\r\n\26\n" then fail("not a PNG file") end
  local pos, ihdr, idat, ended = 9, nil, {}, false
  while not ended do
    if pos + 11 > #data then fail("truncated chunk") end
    local clen, ctype = u32(data, pos), sub(data, pos + 4, pos + 7)
    if clen > #data - pos - 11 then fail("chunk longer than the file") end
    local body = pos + 8
    if crc32(data, pos + 4, body + clen - 1) ~= u32(data, body + clen) then
      fail("CRC mismatch in chunk " .. ctype:gsub("[^%w]", "?"))
    end
    if not ihdr and ctype ~= "IHDR" then fail("first chunk is not IHDR") end
    if ctype == "IHDR" then
      if ihdr then fail("two IHDR chunks") end
      if clen ~= 13 then fail("bad IHDR length") end
      local depth, ctyp, comp, filt, inter = byte(data, body + 8, body + 12)
      ihdr = { width = u32(data, body), height = u32(data, body + 4), depth = depth, ctype = ctyp,
               comp = comp, filt = filt, inter = inter }
    elseif ctype == "IDAT" then
      idat[#idat + 1] = sub(data, body, body + clen - 1)
    elseif ctype == "IEND" then
      ended = true
    elseif byte(ctype, 1) < 97 and ctype ~= "PLTE" then
      fail("unknown critical chunk " .. ctype:gsub("[^%w]", "?"))
    end
    pos = body + clen + 4
  end
  local w, h = ihdr.width, ihdr.height
  if w < 1 or h < 1 then fail("empty image") end
  if w > M.MAX_SIDE or h > M.MAX_SIDE or w * h > M.MAX_PIXELS then
    fail(string.format("image too large (%d x %d)", w, h))
  end
  if ihdr.depth ~= 8 then fail("bit depth " .. ihdr.depth .. " not supported (8 only)") end
  local bpp
  if ihdr.ctype == 2 then bpp = 3 elseif ihdr.ctype == 6 then bpp = 4
  else fail("color type " .. ihdr.ctype .. " not supported (RGB and RGBA only)") end
  if ihdr.comp ~= 0 or ihdr.filt ~= 0 then fail("unknown compression or filter method") end
  if ihdr.inter ~= 0 then fail("interlaced images not supported") end
  if #idat == 0 then fail("no IDAT chunk") end

  local stride = w * bpp
  local size = h * (stride + 1)
  local raw, _, want = M.inflate(concat(idat), 1, size)
  if #raw ~= size then fail("image data shorter than the header says") end

  -- unfilter row by row (and sum Adler-32 over the filtered bytes on the way)
  local rows, prev, cur = {}, {}, {}
  for i = 1, stride do prev[i] = 0 end
  local a, b = 1, 0
  for y = 0, h - 1 do
    local base = y * (stride + 1) + 1
    local ft = byte(raw, base)
    a = a + ft
    b = b + a
    if ft > 4 then fail("bad filter type " .. ft) end
    for off = 0, stride - 1, 4096 do
      local last = off + 4096
      if last > stride then last = stride end
      local t = { byte(raw, base + off + 1, base + last) }
      for j = 1, last - off do
        local i, x = off + j, t[j]
        a = a + x
        b = b + a
        if ft == 1 then
          if i > bpp then x = x + cur[i - bpp] end
        elseif ft == 2 then
          x = x + prev[i]
        elseif ft == 3 then
          x = x + floor(((i > bpp and cur[i - bpp] or 0) + prev[i]) / 2)
        elseif ft == 4 then
          local l, u, ul = 0, prev[i], 0
          if i > bpp then l, ul = cur[i - bpp], prev[i - bpp] end
          local p = l + u - ul
          local pa, pb, pc = p - l, p - u, p - ul
          if pa < 0 then pa = -pa end
          if pb < 0 then pb = -pb end
          if pc < 0 then pc = -pc end
          if pa <= pb and pa <= pc then x = x + l elseif pb <= pc then x = x + u else x = x + ul end
        end
        if x > 255 then x = x - 256 end
        cur[i] = x
      end
    end
    a, b = a % 65521, b % 65521
    local parts = {}
    chars(cur, 1, stride, parts)
    rows[y] = concat(parts)
    prev, cur = cur, prev
  end
  if not adler_ok(a, b, want) then fail("Adler-32 mismatch") end

  local img = { width = w, height = h, channels = bpp }
  function img.pixel(x, y)
    local row = rows[y]
    if not row or x < 0 or x >= w or x ~= floor(x) then
      error("png: pixel (" .. tostring(x) .. ", " .. tostring(y) .. ") outside the image", 2)
    end
    local i = x * bpp + 1
    if bpp == 3 then
      local r, g, bl = byte(row, i, i + 2)
      return r, g, bl, 255
    end
    return byte(row, i, i + 3)
  end
  --- the rows as strings of `width * channels` bytes (0-based index), for fast scans
  img.rows = rows
  return img
end

--- Read and decode a PNG file.
function M.read(path)
  local f, err = io.open(path, "rb")
  if not f then fail("cannot open " .. tostring(err)) end
  local size = f:seek("end")
  if size and size > M.MAX_FILE then
    f:close()
    fail("file too large")
  end
  f:seek("set", 0)
  local data = f:read("*a")
  f:close()
  return M.decode(data)
end

return M
