--- The sandbox's deterministic data set and its query engine.
-- Session `i` of a data set (0 = oldest) is a pure function of
-- (seed, data set, i): nothing is stored per session, so a million sessions
-- cost nothing until a filtered or re-sorted listing asks for an index list.
--
-- Runs inside nginx (LuaJIT, needs the `bit` library).
-- @module wfsession.sandbox.data

local bit = require "bit"
local util = require "wfsession.sandbox.util"

local bxor, rshift = bit.bxor, bit.rshift
local floor, min, max = math.floor, math.min, math.max
local format = string.format
local sort = table.sort

local M32 = 4294967296

local data = {}

-- Hashing ------------------------------------------------------------------

-- 32x32 -> low 32 bits, exact in doubles: split `a` so no product passes 2^53.
local function mul32(a, b)
  local lo = a % 65536
  local hi = (a - lo) / 65536
  return ((hi * b) % 65536 * 65536 + lo * b) % M32
end

-- MurmurHash3's finalizer: every input bit affects every output bit.
local function fmix(h)
  h = bxor(h, rshift(h, 16)) % M32
  h = mul32(h, 0x85ebca6b)
  h = bxor(h, rshift(h, 13)) % M32
  h = mul32(h, 0xc2b2ae35)
  h = bxor(h, rshift(h, 16)) % M32
  return h
end

-- Salted sub-hashes; the salt multiples are precomputed (this is the
-- innermost loop of every scan).
local SALT = {}
for k = 0, 127 do SALT[k] = mul32(k, 0x632be5ab) end

local function sub(h, k)
  return fmix((h + (SALT[k] or mul32(k, 0x632be5ab))) % M32)
end

data.fmix = fmix
data.sub = sub

local VARIANT = { "8", "9", "a", "b" }

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

local function b64chars(h, n)
  local out = {}
  for k = 1, n do
    local d = h % 64
    out[k] = B64:sub(d + 1, d + 1)
    h = (h - d) / 64
  end
  return table.concat(out)
end

-- `n` characters from a hash stream: 4 characters per 32-bit hash.
local function token(h, salt, n)
  local parts, k = {}, 0
  while n > 0 do
    k = k + 1
    local take = min(n, 4)
    parts[k] = b64chars(sub(h, salt + k), take)
    n = n - take
  end
  return table.concat(parts)
end

local function hex(h, salt, n)
  local parts, k = {}, 0
  while n > 0 do
    k = k + 1
    local take = min(n, 8)
    parts[k] = format("%08x", sub(h, salt + k)):sub(1, take)
    n = n - take
  end
  return table.concat(parts)
end

--- `n` characters of [A-Za-z0-9_-] derived from a hash.
-- @function token
data.token = token

--- `n` lowercase hex digits derived from a hash.
-- @function hex
data.hex = hex

-- Fixed vocabulary -------------------------------------------------------------

--- Midnight 2025-01-01 UTC in milliseconds: session 0 is created soon after.
data.T0 = 1735689600000
local T0 = data.T0
local SLOT = 600000          -- one session every ten minutes ...
local JITTER = 300000        -- ... plus up to five minutes of noise

--- Upper bound of updatedAt - createdAt, in ms (the Extend scan relies on it).
data.DMAX = 4 * 86400000

--- The data sets: IDnow keeps one per environment.
data.sets = {
  complycube = { name = "complycube", provider = "complycube", salt = 0x1001 },
  idnow_live = { name = "idnow_live", provider = "idnow", env = "live", salt = 0x2002 },
  idnow_staging = { name = "idnow_staging", provider = "idnow", env = "staging", salt = 0x3003 },
  extend = { name = "extend", provider = "extend", salt = 0x4004 },
}

-- Weighted raw statuses per provider (weights out of 1000) and the
-- normalized class each maps to.
local STATUS = {
  complycube = {
    { "complete", 700, "completed" }, { "started", 80, "running" },
    { "processing", 70, "running" }, { "abandoned", 80, "expired" },
    { "cancelled", 70, "cancelled" },
  },
  idnow = {
    { "COMPLETED", 640, "completed" }, { "RUNNING", 80, "running" },
    { "CREATED", 60, "pending" }, { "ERROR", 60, "failed" },
    { "ABORTED", 70, "cancelled" }, { "EXPIRED", 90, "expired" },
  },
  extend = {
    { "PROCESSED", 560, "completed" }, { "REJECTED", 90, "completed" },
    { "NEEDS_REVIEW", 80, "review" }, { "PROCESSING", 70, "running" },
    { "PENDING", 60, "pending" }, { "FAILED", 60, "failed" },
    { "CANCELLED", 50, "cancelled" }, { "CANCELLING", 30, "running" },
  },
}

local CC_OUTCOMES = { { "clear", 700 }, { "attention", 150 }, { "rejected", 150 } }
local IDNOW_OUTCOMES = {
  { "accepted", 450 }, { "ACCEPTED", 150 }, { "rejected", 150 },
  { "REJECTED", 50 }, { "NO_OUTCOME", 200 },
}

local function pick(list, r)
  local v = r % 1000
  for k = 1, #list do
    v = v - list[k][2]
    if v < 0 then return list[k] end
  end
  return list[#list]
end

--- Normalized status per raw value (lower-cased), per provider.
data.norm_status = {}
for p, list in pairs(STATUS) do
  local t = {}
  for k = 1, #list do t[list[k][1]:lower()] = list[k][3] end
  data.norm_status[p] = t
end
data.norm_status.extend.rejected = "completed"

--- Normalized outcome per raw value (lower-cased), per provider.
data.norm_outcome = {
  complycube = { clear = "approved", attention = "needs_attention", rejected = "rejected" },
  idnow = { accepted = "approved", rejected = "rejected" },   -- no_outcome -> none
  extend = {},
}

local EXTEND_OUTCOME = { NEEDS_REVIEW = "needs_attention", PROCESSED = "approved", REJECTED = "rejected" }

--- Extend's raw status values (the API validates its `status` filter).
data.extend_statuses = {}
for k = 1, #STATUS.extend do data.extend_statuses[STATUS.extend[k][1]] = true end

local FIRST = { "John", "Maria", "Wei", "Amara", "Lukas", "Sofia", "José", "Aiko", "Noah", "Zoë",
  "Omar", "Ingrid", "Ravi", "Chloé", "Mateo", "Hana" }
local LAST = { "Doe", "García", "Chen", "Okafor", "Müller", "Rossi", "Tanaka", "Smith", "Haddad",
  "Nilsen", "Patel", "Dubois", "Silva", "Kowalski", "Novak", "O'Brien" }
local CC_FLOWS = {
  "Age estimation flow", "AML + Liveness + Document Verification flow",
  "Standard KYC onboarding", "Enhanced due diligence",
}
local EXT_FLOWS = { "Invoice Processing", "Bank Statement Extraction", "Receipt Capture", "Contract Review" }
local FILE_PATTERNS = { "Invoice-%05d.pdf", "bank_statement_2025_%02d.pdf", "Receipt %04d.jpg",
  "contract_%s.docx" }
local COMPANIES = { "acme_gmbh", "globex", "initech", "umbrella", "stark_industries", "wayne_ent" }

-- The per-seed context: ids and names of the shared vocabulary. ---------------

local contexts = {}

--- Returns the (cached) generator context of a seed.
-- @function context
-- @number seed
-- @treturn table
function data.context(seed)
  local ctx = contexts[seed]
  if ctx then return ctx end
  local root = fmix((seed * 2654435761) % M32)
  ctx = { seed = seed, root = root, base = {} }
  for name, ds in pairs(data.sets) do
    ctx.base[name] = fmix(bxor(root, fmix(ds.salt)) % M32)
  end
  local h = root
  -- ComplyCube: workflow templates with three versions each, and clients.
  ctx.cc_flows = {}
  for k = 1, #CC_FLOWS do
    local fh = sub(h, 100 + k)
    local f = { id = hex(fh, 1, 24), name = CC_FLOWS[k], versions = {},
      description = CC_FLOWS[k] .. " (sandbox template)" }
    for v = 1, 3 do f.versions[v] = hex(fh, 10 * v, 24) end
    ctx.cc_flows[k] = f
  end
  ctx.cc_clients = {}
  for k = 1, 64 do
    local ch = sub(h, 200 + k)
    ctx.cc_clients[k] = { id = hex(ch, 1, 24),
      name = FIRST[ch % #FIRST + 1] .. " " .. LAST[floor(ch / 256) % #LAST + 1] }
  end
  -- IDnow: one flow (both environments), subjects.
  local ih = sub(h, 300)
  ctx.idnow_flow = format("%s-%s-7%s-%s-%s", hex(ih, 1, 8), hex(ih, 2, 4), hex(ih, 3, 3),
    VARIANT[ih % 4 + 1] .. hex(ih, 4, 3), hex(ih, 5, 12))
  ctx.idnow_subjects = {}
  for k = 1, 64 do ctx.idnow_subjects[k] = "subj_" .. hex(sub(h, 400 + k), 1, 16) end
  -- Extend: workflows with versions, batches.
  ctx.ext_flows = {}
  for k = 1, #EXT_FLOWS do
    local fh = sub(h, 500 + k)
    local created = T0 - (400 - 37 * k) * 86400000
    local f = { id = "workflow_" .. token(fh, 1, 21), name = EXT_FLOWS[k],
      created = util.iso(created), updated = util.iso(created + 86400000 * k), versions = {} }
    local labels = { "1", "2", "draft" }
    for v = 1, 3 do
      f.versions[v] = { id = "workflow_version_" .. token(fh, 20 * v, 21), version = labels[v],
        name = v < 3 and ("Production v" .. v) or util.NULL,
        created = util.iso(created + v * 86400000) }
    end
    ctx.ext_flows[k] = f
  end
  ctx.batches = {}
  for k = 1, 16 do ctx.batches[k] = "batch_" .. token(sub(h, 600 + k), 1, 8) end
  contexts[seed] = ctx
  return ctx
end

-- Sessions -------------------------------------------------------------------

local function session_hash(ctx, ds, i)
  return fmix(bxor(ctx.base[ds.name], mul32(i % M32, 0x9e3779b1)) % M32)
end

--- createdAt of session `i` in ms; strictly increasing in `i`.
-- @function created
-- @tparam table ctx
-- @tparam table ds
-- @number i
-- @treturn number
local function created(ctx, ds, i)
  local h = session_hash(ctx, ds, i)
  local ms = T0 + i * SLOT + (sub(h, 1) % (JITTER / 1000)) * 1000
  if ds.provider ~= "extend" then
    ms = ms + sub(h, 3) % 1000
  elseif sub(h, 2) % 8 == 0 then
    ms = ms + sub(h, 3) % 1000
  end
  return ms, h
end
data.created = created

--- Largest i in [0, n-1] with created(i) <= t, or -1.
-- @function last_created_le
function data.last_created_le(ctx, ds, n, t)
  local i = floor((t - T0) / SLOT)
  if i < 0 then return -1 end
  if i > n - 1 then return n - 1 end
  if created(ctx, ds, i) <= t then return i end
  return i - 1
end

--- Smallest i in [0, n] with created(i) >= t (n when none).
-- @function first_created_ge
function data.first_created_ge(ctx, ds, n, t)
  local i = floor((t - T0) / SLOT)
  if i < 0 then return 0 end
  if i > n - 1 then return n end
  if created(ctx, ds, i) >= t then return i end
  return i + 1
end

local function ms_noise(h, k, has_ms)
  if has_ms then return sub(h, k) % 1000 end
  return 0
end

--- The base record of session `i`: every field the renderers and filters use.
-- @function record
-- @tparam table ctx
-- @tparam table ds
-- @number i
-- @treturn table
function data.record(ctx, ds, i)
  local c, h = created(ctx, ds, i)
  local p = ds.provider
  local has_ms = p ~= "extend" or sub(h, 2) % 8 == 0
  local st = pick(STATUS[p], sub(h, 4))
  local class = st[3]
  local r = { i = i, h = h, c = c, st = st[1], class = class, has_ms = has_ms }
  -- Durations: how long each stage took, in whole seconds plus noise.
  local start = c + (1 + sub(h, 5) % 30) * 1000 + ms_noise(h, 6, has_ms)
  if class == "pending" then
    r.u = c + (sub(h, 7) % 60) * 1000
  elseif class == "running" then
    r.start = start
    r.u = start + (60 + sub(h, 7) % 3540) * 1000 + ms_noise(h, 8, has_ms)
  elseif class == "review" then
    r.start = start
    r.u = start + (120 + sub(h, 7) % 7080) * 1000 + ms_noise(h, 8, has_ms)
  elseif class == "completed" then
    r.start = start
    r.done = start + (30 + sub(h, 7) % 5370) * 1000 + ms_noise(h, 8, has_ms)
    -- One in ten is touched again later (a review, a note): updatedAt is
    -- then days after completion, so updatedAt order differs from createdAt.
    if sub(h, 9) % 10 == 0 then
      r.u = r.done + (sub(h, 10) % 259200) * 1000 + ms_noise(h, 11, has_ms)
    else
      r.u = r.done + (sub(h, 10) % 600) * 1000
    end
  elseif class == "expired" then
    r.start = start
    r.done = c + 86400000
    r.u = r.done + (sub(h, 10) % 60) * 1000
  else -- failed, cancelled
    r.start = start
    r.done = start + (10 + sub(h, 7) % 1790) * 1000 + ms_noise(h, 8, has_ms)
    r.u = r.done + (sub(h, 10) % 60) * 1000
  end
  if p == "complycube" then
    if st[1] == "started" then r.start = nil end
    if st[1] == "complete" then r.oc = pick(CC_OUTCOMES, sub(h, 12))[1] end
    local f = sub(h, 13) % #ctx.cc_flows + 1
    r.flow, r.ver = f, 1 + sub(h, 14) % 3
    r.client = sub(h, 15) % #ctx.cc_clients + 1
    r.nchecks = r.start and (1 + sub(h, 16) % 3) or 0
  elseif p == "idnow" then
    if st[1] == "COMPLETED" then
      r.oc = pick(IDNOW_OUTCOMES, sub(h, 12))[1]
    elseif r.done and sub(h, 12) % 2 == 0 then
      r.oc = "NO_OUTCOME"
    end
    r.ver = 1 + sub(h, 14) % 3
    r.subj = sub(h, 15) % 20 ~= 0 and (sub(h, 16) % #ctx.idnow_subjects + 1) or nil
    r.old_step = sub(h, 17) % 3 == 0
  else
    r.oc = EXTEND_OUTCOME[st[1]]
    r.flow, r.ver = sub(h, 13) % #ctx.ext_flows + 1, 1 + sub(h, 14) % 3
    r.batch = sub(h, 15) % 10 < 7 and (sub(h, 16) % #ctx.batches + 1) or nil
  end
  return r
end
local record = data.record

--- The files of an Extend run (`{name, h}` each), computed on first use:
-- formatting names is the dearest part of a record and most scans skip it.
-- @function files
-- @tparam table r an Extend record
-- @treturn table
function data.files(r)
  local files = r.files
  if files then return files end
  files = {}
  local h = r.h
  for k = 1, 1 + sub(h, 17) % 2 do
    local fh = sub(h, 20 + k)
    local kind = (r.flow + k) % #FILE_PATTERNS + 1
    local arg = kind == 4 and COMPANIES[fh % #COMPANIES + 1]
      or kind == 2 and (fh % 12 + 1) or (fh % 9999 + 1)
    files[k] = { name = format(FILE_PATTERNS[kind], arg), h = fh }
  end
  r.files = files
  return files
end

-- Ids ------------------------------------------------------------------------

-- Ids carry `i` (so a get needs no storage) mixed with a per-data-set mask,
-- so neighbouring sessions do not get visibly sequential ids.
local function id_mask(ctx, ds)
  return sub(ctx.base[ds.name], 99)
end

--- The id of session `i` of a data set.
-- @function id
function data.id(ctx, ds, i, r)
  r = r or record(ctx, ds, i)
  local h, mask = r.h, id_mask(ctx, ds)
  if ds.provider == "complycube" then
    -- ObjectId layout: 4-byte time, 5 random bytes, 3-byte counter.
    return format("%08x%s%06x", floor(r.c / 1000), hex(h, 30, 10), (i + mask) % 16777216)
  elseif ds.provider == "idnow" then
    -- UUIDv7 layout: 48-bit ms time, version 7, variant 10xx, i at the end.
    return format("%08x-%04x-7%s-%s%s-%s%08x", floor(r.c / 65536), r.c % 65536, hex(h, 30, 3),
      VARIANT[sub(h, 31) % 4 + 1], hex(h, 32, 3), hex(h, 33, 4),
      bxor(i, mask) % M32)
  end
  return "workflow_run_" .. token(h, 30, 16) .. b64chars(bxor(i, mask) % 1073741824, 5)
end

--- Decodes an id back to `i`, or nil when it is not an id of this data set.
-- @function decode_id
-- @tparam table ctx
-- @tparam table ds
-- @number n number of sessions in the data set
-- @string id
-- @treturn[1] number i
-- @treturn[1] table its record
-- @treturn[2] nil
function data.decode_id(ctx, ds, n, id)
  if type(id) ~= "string" then return nil end
  local i
  local mask = id_mask(ctx, ds)
  if ds.provider == "complycube" then
    if not id:match("^%x+$") or #id ~= 24 then return nil end
    i = (tonumber(id:sub(19), 16) - mask) % 16777216
  elseif ds.provider == "idnow" then
    if #id ~= 36 then return nil end
    local tail = id:match("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x(%x%x%x%x%x%x%x%x)$")
    if not tail then return nil end
    i = bxor(tonumber(tail, 16), mask) % M32
  else
    local tail = id:match("^workflow_run_[%w_%-]+$") and #id == 34 and id:sub(30)
    if not tail then return nil end
    local v = 0
    for k = 5, 1, -1 do
      local d = B64:find(tail:sub(k, k), 1, true)
      if not d then return nil end
      v = v * 64 + d - 1
    end
    i = bxor(v, mask) % 1073741824
  end
  if i >= n then return nil end
  local r = record(ctx, ds, i)
  if data.id(ctx, ds, i, r) ~= id then return nil end
  return i, r
end

-- Normalized view (for the oracle) -------------------------------------------

--- Normalized fields of a record, as the client library would compute them.
-- @function normalized
-- @treturn table `{status, outcome, workflow_id, subject_id, batch_id}`
function data.normalized(ctx, ds, r)
  local p = ds.provider
  local n = { status = data.norm_status[p][r.st:lower()] }
  if p == "extend" then
    n.outcome = r.oc
    local f = ctx.ext_flows[r.flow]
    n.workflow_id = f.id
    n.batch_id = r.batch and ctx.batches[r.batch]
  else
    n.outcome = r.oc and data.norm_outcome[p][r.oc:lower()]
    if p == "complycube" then
      n.workflow_id = ctx.cc_flows[r.flow].id
      n.subject_id = ctx.cc_clients[r.client].id
    else
      n.workflow_id = ctx.idnow_flow
      n.subject_id = r.subj and ctx.idnow_subjects[r.subj]
    end
  end
  return n
end

-- Small bounded cache of index lists (per listing query) ----------------------

local cache, CACHE_MAX = {}, 4

local function cached(key, build)
  for k = 1, #cache do
    if cache[k].key == key then
      local e = table.remove(cache, k)
      table.insert(cache, 1, e)
      return e.list
    end
  end
  local list = build()
  table.insert(cache, 1, { key = key, list = list })
  if #cache > CACHE_MAX then cache[#cache] = nil end
  return list
end

--- Drops every cached index list.
-- @function flush
function data.flush()
  cache = {}
end

-- ComplyCube listing: createdAt descending, raw filters ----------------------

--- Lists ComplyCube sessions.
-- @function cc_list
-- @tparam table ctx
-- @number n sessions in the data set
-- @tparam table f filters: outcome, clientId, workflowTemplateId (raw values),
--   and ms bounds ca, cb, ua, ub (exclusive)
-- @number first 0-based position of the first item
-- @number count items wanted
-- @treturn number total
-- @treturn table records
function data.cc_list(ctx, n, f, first, count)
  local ds = data.sets.complycube
  local lo, hi = 0, n - 1
  if f.ca then lo = data.first_created_ge(ctx, ds, n, f.ca + 1) end
  if f.cb then hi = data.last_created_le(ctx, ds, n, f.cb - 1) end
  local out = {}
  if hi < lo then return 0, out end
  if not (f.outcome or f.clientId or f.workflowTemplateId or f.ua or f.ub) then
    -- Only createdAt bounds: a contiguous range of i, nothing to store.
    local total = hi - lo + 1
    for k = first, min(total, first + count) - 1 do
      out[#out + 1] = record(ctx, ds, hi - k)
    end
    return total, out
  end
  local key = table.concat({ "cc", ctx.seed, n, lo, hi, tostring(f.outcome), tostring(f.clientId),
    tostring(f.workflowTemplateId), tostring(f.ua), tostring(f.ub) }, "\0")
  local list = cached(key, function()
    local l = {}
    for i = hi, lo, -1 do
      local r = record(ctx, ds, i)
      if (not f.outcome or r.oc == f.outcome)
        and (not f.clientId or ctx.cc_clients[r.client].id == f.clientId)
        and (not f.workflowTemplateId or ctx.cc_flows[r.flow].id == f.workflowTemplateId)
        and (not f.ua or r.u > f.ua) and (not f.ub or r.u < f.ub) then
        l[#l + 1] = i
      end
    end
    return l
  end)
  for k = first + 1, min(#list, first + count) do
    out[#out + 1] = record(ctx, ds, list[k])
  end
  return #list, out
end

-- IDnow listing: createdAt or status, ascending or descending ----------------

--- Lists IDnow sessions of one environment.
-- @function idnow_list
-- @tparam table ctx
-- @tparam table ds an IDnow data set
-- @number n sessions
-- @string sort_by "createdAt" or "status"
-- @tparam boolean desc
-- @number first 0-based position
-- @number count
-- @treturn number total
-- @treturn table records
function data.idnow_list(ctx, ds, n, sort_by, desc, first, count)
  local out = {}
  if sort_by == "createdAt" then
    for k = first, min(n, first + count) - 1 do
      out[#out + 1] = record(ctx, ds, desc and n - 1 - k or k)
    end
    return n, out
  end
  -- By raw status: bucket once (no comparisons), ties by i in the same direction.
  local key = table.concat({ "idnow", ds.name, ctx.seed, n, tostring(desc) }, "\0")
  local list = cached(key, function()
    local buckets, names = {}, {}
    for k = 1, #STATUS.idnow do
      names[k] = STATUS.idnow[k][1]
      buckets[names[k]] = {}
    end
    sort(names)
    local statuses = STATUS.idnow
    for i = 0, n - 1 do
      -- Only the status is needed: two hashes instead of a whole record.
      local b = buckets[pick(statuses, sub(session_hash(ctx, ds, i), 4))[1]]
      b[#b + 1] = i
    end
    local l = {}
    local from, to, step = 1, #names, 1
    if desc then from, to, step = #names, 1, -1 end
    for k = from, to, step do
      local b = buckets[names[k]]
      if desc then
        for j = #b, 1, -1 do l[#l + 1] = b[j] end
      else
        for j = 1, #b do l[#l + 1] = b[j] end
      end
    end
    return l
  end)
  for k = first + 1, min(#list, first + count) do
    out[#out + 1] = record(ctx, ds, list[k])
  end
  return #list, out
end

-- Extend listing: keyset pagination without an index --------------------------

local function extend_match(ctx, r, f)
  if f.status and r.st ~= f.status then return false end
  if f.workflowId and ctx.ext_flows[r.flow].id ~= f.workflowId then return false end
  if f.batchId and (not r.batch or ctx.batches[r.batch] ~= f.batchId) then return false end
  if f.fileNameContains then
    local needle = f.fileNameContains:lower()
    local files = data.files(r)
    for k = 1, #files do
      if files[k].name:lower():find(needle, 1, true) then return true end
    end
    return false
  end
  return true
end
data.extend_match = extend_match

local CHUNK = 256

--- Lists Extend runs after a keyset cursor.
-- For createdAt the key is `i` itself. For updatedAt the scan walks `i`
-- in createdAt order and relies on createdAt <= updatedAt <= createdAt +
-- DMAX: once the scan is past index s, no unscanned run can beat a candidate
-- whose updatedAt lies beyond the window, so those candidates are final.
-- @function extend_list
-- @tparam table ctx
-- @number n sessions
-- @tparam table f filters: status, workflowId, batchId, fileNameContains
-- @string sort_by "createdAt" or "updatedAt"
-- @tparam boolean desc
-- @tparam[opt] table cursor `{u = key, i = i}` of the last run already sent
-- @number want runs wanted
-- @treturn table records, at most `want`
function data.extend_list(ctx, n, f, sort_by, desc, cursor, want)
  local ds = data.sets.extend
  local out = {}
  if sort_by == "createdAt" then
    local from, to, step = 0, n - 1, 1
    if desc then from, to, step = n - 1, 0, -1 end
    if cursor then from = cursor.i + step end
    for i = from, to, step do
      local r = record(ctx, ds, i)
      if extend_match(ctx, r, f) then
        out[#out + 1] = r
        if #out >= want then break end
      end
    end
    return out
  end
  local cand = {}
  local function before(a, b)   -- listing order of (u, i)
    if a.u ~= b.u then
      if desc then return a.u > b.u end
      return a.u < b.u
    end
    if desc then return a.i > b.i end
    return a.i < b.i
  end
  local s, final_count
  if desc then
    s = cursor and data.last_created_le(ctx, ds, n, cursor.u) or n - 1
    while true do
      local stop = max(s - CHUNK + 1, 0)
      for i = s, stop, -1 do
        local r = record(ctx, ds, i)
        if (not cursor or r.u < cursor.u or (r.u == cursor.u and i < cursor.i))
          and extend_match(ctx, r, f) then
          cand[#cand + 1] = r
        end
      end
      s = stop - 1
      if s < 0 then break end
      local bound = created(ctx, ds, s) + data.DMAX
      final_count = 0
      for k = 1, #cand do
        if cand[k].u > bound then final_count = final_count + 1 end
      end
      if final_count >= want then break end
    end
  else
    s = cursor and data.first_created_ge(ctx, ds, n, cursor.u - data.DMAX) or 0
    while true do
      local stop = min(s + CHUNK - 1, n - 1)
      for i = s, stop do
        local r = record(ctx, ds, i)
        if (not cursor or r.u > cursor.u or (r.u == cursor.u and i > cursor.i))
          and extend_match(ctx, r, f) then
          cand[#cand + 1] = r
        end
      end
      s = stop + 1
      if s > n - 1 then break end
      local bound = created(ctx, ds, s)
      final_count = 0
      for k = 1, #cand do
        if cand[k].u < bound then final_count = final_count + 1 end
      end
      if final_count >= want then break end
    end
  end
  sort(cand, before)
  for k = 1, min(want, #cand) do out[k] = cand[k] end
  return out
end

-- The oracle -------------------------------------------------------------------

--- Default listing order of each provider: sort key and descending flag.
data.default_sort = {
  complycube = { "created_at", true },
  idnow = { "created_at", false },
  extend = { "updated_at", true },
}

--- Ids a provider lists for a normalized query, by brute force.
-- Deliberately shares no code with the listing paths above except `record`.
-- @function truth
-- @tparam table ctx
-- @tparam table ds
-- @number n sessions
-- @tparam table q normalized query (see docs/sandbox.md); dates in ms
-- @treturn table array of ids
function data.truth(ctx, ds, n, q)
  local rows = {}
  local needle = q.file_name_contains and q.file_name_contains:lower()
  for i = 0, n - 1 do
    local r = record(ctx, ds, i)
    local nz = data.normalized(ctx, ds, r)
    local ok = (not q.status or nz.status == q.status)
      and (not q.outcome or (q.outcome == "none" and nz.outcome == nil) or nz.outcome == q.outcome)
      and (not q.created_after or r.c > q.created_after)
      and (not q.created_before or r.c < q.created_before)
      and (not q.updated_after or r.u > q.updated_after)
      and (not q.updated_before or r.u < q.updated_before)
      and (not q.workflow_id or nz.workflow_id == q.workflow_id)
      and (not q.subject_id or nz.subject_id == q.subject_id)
      and (not q.batch_id or nz.batch_id == q.batch_id)
    if ok and needle then
      ok = false
      local files = ds.provider == "extend" and data.files(r) or {}
      for k = 1, #files do
        if files[k].name:lower():find(needle, 1, true) then ok = true end
      end
    end
    if ok then rows[#rows + 1] = r end
  end
  local def = data.default_sort[ds.provider]
  local by = q.sort or def[1]
  local desc
  if q.order then
    desc = q.order == "desc"
  elseif q.sort then
    desc = ds.provider ~= "idnow"
  else
    desc = def[2]
  end
  local field = by == "created_at" and "c" or by == "updated_at" and "u" or "st"
  sort(rows, function(a, b)
    local x, y = a[field], b[field]
    if x ~= y then
      if desc then return x > y end
      return x < y
    end
    if desc then return a.i > b.i end
    return a.i < b.i
  end)
  local ids = {}
  for k = 1, #rows do ids[k] = data.id(ctx, ds, rows[k].i, rows[k]) end
  return ids
end

return data
