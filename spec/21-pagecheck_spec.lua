-- Page checks: a server that misbehaves gets a `protocol` error, never our
-- trust, and never a listing reported complete with sessions missing.
-- Fake transports only: no network here.
local wfs = require "wfsession"
local core = require "wfsession.core"
local helpers = require "helpers"

local cc_client = helpers.cc_client

-- Drain a pager; return the ids seen and the error that ended it (nil on success).
local function drain(pager)
  local ids = {}
  for _ = 1, 100000 do
    local s, msg, err = pager:next()
    if not s then return ids, err, msg end
    ids[#ids + 1] = s.id
  end
  error("the listing did not end")
end

local function items(from, to)
  local parts = {}
  for i = from, to do parts[#parts + 1] = string.format('{"id":"s%d","status":"complete"}', i) end
  return "[" .. table.concat(parts, ",") .. "]"
end

describe("page checks", function()
  it("refuses a 200 body that is not an object", function()
    for _, body in ipairs({ "[1,2,3]", '["a"]', "42", '"text"' }) do
      local ids, err = drain(cc_client(function() return 200, {}, body end):sessions())
      assert.same({}, ids)
      assert.equal("protocol", err and err.kind, body)
    end
  end)

  it("refuses items that are not an array of objects with a string id", function()
    for _, list in ipairs({ '{"a":1}', "[1,2]", '[{"id":7}]', '[{"id":""}]', '[{"status":"x"}]',
                            '[{"id":"a"},null]', '"x"' }) do
      local body = '{"page":1,"pages":1,"totalItems":2,"items":' .. list .. "}"
      local ids, err, msg = drain(cc_client(function() return 200, {}, body end):sessions())
      assert.same({}, ids, list)
      assert.equal("protocol", err and err.kind, list)
      assert.matches("'items'", msg)
    end
  end)

  it("refuses an empty page when the total promises sessions", function()
    local body = '{"page":1,"pages":3,"totalItems":250,"items":[]}'
    local ids, err, msg = drain(cc_client(function() return 200, {}, body end):sessions())
    assert.same({}, ids)
    assert.equal("protocol", err.kind)
    assert.matches("empty, but the total promises 250", msg)
  end)

  it("stops a server that ignores `page` after one page, with an error", function()
    -- every answer is the first page, without a page number
    local t, log = helpers.recording(function()
      return 200, {}, '{"pageSize":100,"totalItems":4900,"items":' .. items(1, 100) .. "}"
    end)
    local ids, err, msg = drain(cc_client(t, { concurrency = 1 }):sessions{ page_size = 100 })
    assert.equal(100, #ids)
    assert.is_true(helpers.unique(ids))
    assert.equal("protocol", err.kind)
    assert.matches("only sessions handed out before", msg)
    assert.equal(2, #log)
  end)

  it("refuses a total that jumps beyond any plausible drift", function()
    local t = helpers.recording(function(req)
      local page = tonumber(helpers.query_of(req.url).page)
      local total = page == 1 and 250 or 9e15
      return 200, {}, string.format('{"page":%d,"pages":3,"totalItems":%.0f,"items":%s}', page, total,
        items((page - 1) * 100 + 1, page * 100))
    end)
    local ids, err, msg = drain(cc_client(t):sessions{ page_size = 100 })
    assert.equal(100, #ids)
    assert.equal("protocol", err.kind)
    assert.matches("the total jumped from 250", msg)
  end)

  it("refuses a page with more sessions than asked for, or a count that is not one", function()
    local ids, err = drain(cc_client(function()
      return 200, {}, '{"page":1,"pages":1,"totalItems":3,"items":' .. items(1, 3) .. "}"
    end):sessions{ page_size = 2 })
    assert.same({}, ids)
    assert.equal("protocol", err.kind)
    for _, bad in ipairs({ '"250"', "-1", "2.5", "{}" }) do
      local body = '{"page":1,"pages":1,"totalItems":' .. bad .. ',"items":[]}'
      local _, e = drain(cc_client(function() return 200, {}, body end):sessions())
      assert.equal("protocol", e and e.kind, bad)
    end
  end)

  it("reads JSON null in the envelope as absent", function()
    local body = '{"page":1,"pages":null,"totalItems":null,"items":' .. items(1, 2) .. "}"
    local ids, err = drain(cc_client(function() return 200, {}, body end):sessions{ page_size = 5 })
    assert.is_nil(err)
    assert.same({ "s1", "s2" }, ids)
    local ext = wfs.new{ provider = "extend", api_key = "ext_key_0123", retry = false,
                         transport = function() return 200, {}, '{"data":[{"id":"e1"}],"nextPageToken":null}' end }
    assert.same({ "e1" }, helpers.ids(ext:sessions()))
  end)

  it("asks again from the position when a page starts after it (sessions removed meanwhile)", function()
    -- newest first: 30 sessions; after the first page, 5 of the newest are gone
    local fake = helpers.fake_complycube(30)
    local t, log = helpers.recording(function(req, n)
      if n == 2 then for _ = 1, 5 do table.remove(fake.ids, 1) end end
      return fake.serve(req)
    end)
    local ids = helpers.ids(cc_client(t):sessions{ page_size = 10 })
    -- every session that was there from start to end is listed once
    assert.is_true(helpers.unique(ids))
    for i = 1, 25 do
      local want = string.format("%024x", i)
      local found = false
      for _, id in ipairs(ids) do if id == want then found = true end end
      assert.is_true(found, want)
    end
    assert.is_true(#log >= 3)
  end)
end)

describe("page checks over several answers", function()
  -- IDnow pages of one session, numbered from 1, as a server that lies about its total
  local function page(number, total, id)
    return ('{"content":[{"sessionId":"%s","status":"COMPLETED"}],"page":{"number":%d,"totalPages":%d,'
      .. '"totalElements":%d}}'):format(id, number, total, total)
  end

  it("refuses a total that falls again and again, further back than the repeats it can catch", function()
    local p = core.pager{ provider = "idnow", url = "http://127.0.0.1/x", page_size = 1, query = "|idnow",
                          page_base = 1, window = 2 }
    local seen = {}
    local function answer(total, id)
      local req = assert(p:request())
      local n, msg, err = p:feed(assert(p:decode(200, {}, page(req.page + 1, total, id))), req)
      if n then
        for _ = 1, n do
          local s = assert(p:pop())
          assert.is_nil(seen[s.id], s.id .. " twice")
          seen[s.id] = true
        end
      end
      return n, msg, err
    end
    for i = 1, 5 do assert.equal(1, answer(19, "s" .. i)) end
    -- two gone: back two, which the window of the last two still covers
    assert.is_false(answer(17, "s6"))
    -- two more gone: four back from the furthest point, two more than the window holds
    local n, msg, err = answer(15, "s4")
    assert.is_nil(n)
    assert.equal("protocol", err.kind)
    assert.matches("the total fell from 17 to 15", msg, 1, true)
  end)
end)

describe("token scan of cursor pages", function()
  local function pager()
    return core.pager{ provider = "extend", url = "http://127.0.0.1/x", page_size = 5, query = "|extend" }
  end

  it("finds the top-level token before the page is decoded", function()
    local p = pager()
    assert.equal("abc", p:peek('{"object":"list","data":[{"id":"a"}],"nextPageToken":"abc"}'))
    assert.equal("t:1/2+=", p:peek('{ "nextPageToken" : "t:1/2+=", "data": [] }'))
  end)

  it("ignores the same key deeper down or inside a string", function()
    local p = pager()
    assert.is_nil(p:peek('{"data":[{"id":"a","nextPageToken":"inner"}]}'))
    assert.is_nil(p:peek('{"data":[{"note":"\\"nextPageToken\\":\\"fake\\""}]}'))
    assert.equal("real", p:peek('{"data":[{"nextPageToken":"inner"}],"nextPageToken":"real"}'))
  end)

  it("leaves unusual tokens to the decoder", function()
    local p = pager()
    assert.is_nil(p:peek('{"data":[],"nextPageToken":null}'))
    assert.is_nil(p:peek('{"data":[],"nextPageToken":"a\\/b"}'))
    assert.is_nil(p:peek('{"data":[],"nextPageToken":""}'))
    assert.is_nil(p:peek('{"data":[],"nextPageToken":"unterminated'))
    assert.is_nil(p:peek(""))
  end)

  it("ends where the decoder does: at the object's close, or at a NUL", function()
    local p = pager()
    assert.equal("t", p:peek('{"data":[],"nextPageToken":"t"}{"nextPageToken":"later"}'))
    assert.equal("t", p:peek('{"data":[],"nextPageToken":"t"}\0\0{"nextPageToken":"later"}'))
    assert.is_nil(p:peek('{"data":[],\0"nextPageToken":"t"}'))
  end)

  it("is nothing on page-number listings", function()
    local p = core.pager{ provider = "complycube", url = "http://127.0.0.1/x", page_size = 5, query = "|c" }
    assert.is_nil(p:peek('{"nextPageToken":"abc"}'))
  end)
end)
