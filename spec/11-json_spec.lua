-- JSON through the core's private cjson instance.

local core = require "wfsession.core"

local has_math_type = math.type ~= nil

local function nest(depth, inner)
  return ("["):rep(depth) .. inner .. ("]"):rep(depth)
end

describe("json", function()
  describe("decode", function()
    it("decodes objects, arrays and scalars", function()
      assert.same({ a = "x", b = { 1, 2, 3 }, c = true, d = { e = false } },
                  core.decode('{"a":"x","b":[1,2,3],"c":true,"d":{"e":false}}'))
      assert.equal("str", core.decode('"str"'))
      assert.equal(true, core.decode("true"))
      assert.equal(2.5, core.decode("2.5"))
      assert.equal("é\n", core.decode('"\\u00e9\\n"'))
    end)

    it("removes null from every table", function()
      local t = core.decode('{"a":null,"b":[1,null,3],"c":{"d":null,"e":{"f":null,"g":1}},"h":[null]}')
      assert.is_nil(rawget(t, "a"))
      assert.equal(1, t.b[1])
      assert.is_nil(rawget(t.b, 2))
      assert.equal(3, t.b[3])
      assert.is_nil(next(t.c.e, next(t.c.e)))  -- only g is left in c.e
      assert.equal(1, t.c.e.g)
      assert.is_nil(next(t.c, next(t.c)))      -- only e is left in c
      assert.is_nil(next(t.h))
      for _, v in pairs(t) do assert.are_not.equal("userdata", type(v)) end
    end)

    it("gives nil, and no message, for a top-level null", function()
      local n = select("#", core.decode("null"))
      local v, msg = core.decode("null")
      assert.equal(1, n)
      assert.is_nil(v)
      assert.is_nil(msg)
    end)

    it("turns integral numbers into integers", function()
      local t = core.decode('{"i":1,"f":2.0,"neg":-7,"z":-0.0,"e":1e3,"big":9007199254740992,' ..
                            '"x":2.5,"huge":1e300,"two63":9223372036854775808,"arr":[1,2.0,{"k":3}]}')
      assert.equal(1, t.i)
      assert.equal(2, t.f)
      assert.equal(-7, t.neg)
      assert.equal(1000, t.e)
      assert.equal(9007199254740992, t.big)
      assert.equal(2.5, t.x)
      if has_math_type then
        for _, k in ipairs({ "i", "f", "neg", "z", "e", "big" }) do
          assert.equal("integer", math.type(t[k]), k)
        end
        assert.equal("float", math.type(t.x))
        assert.equal("float", math.type(t.huge))   -- does not fit an integer
        assert.equal("float", math.type(t.two63))  -- 2^63 does not either
        assert.equal("integer", math.type(t.arr[1]))
        assert.equal("integer", math.type(t.arr[2]))
        assert.equal("integer", math.type(t.arr[3].k))
        assert.equal("integer", math.type(core.decode("42")))
        assert.equal("float", math.type(core.decode("4.2")))
      end
    end)

    it("returns nil, msg for invalid JSON", function()
      for _, bad in ipairs({ "", "{bad", "[1,2", "[] x", "{'a':1}", "[0x10]", "[NaN]", "[Infinity]",
                             "\0", '{"a":1,}', "[1]]" }) do
        local v, msg = core.decode(bad)
        assert.is_nil(v, bad)
        assert.equal("string", type(msg), bad)
        assert.is_nil(msg:find("[\r\n]"), bad)
      end
    end)

    it("refuses documents nested too deeply, and handles deep ones", function()
      local v, msg = core.decode(nest(5000, "1"))
      assert.is_nil(v)
      assert.equal("string", type(msg))
      local t = assert(core.decode(nest(500, '{"a":null,"b":1.0}')))
      for _ = 1, 500 do t = t[1] end
      assert.is_nil(rawget(t, "a"))
      assert.equal(1, t.b)
      if has_math_type then assert.equal("integer", math.type(t.b)) end
    end)

    it("refuses, before decoding, a text whose value would take more than max bytes", function()
      -- the densest valid texts: a container or a value for every two or three bytes
      local dense = {
        "[" .. ("[],"):rep(999) .. "[]]",
        "[" .. ("{},"):rep(999) .. "{}]",
        "{" .. ('"":[],'):rep(999) .. '"":[]}',
        "[" .. ("1,"):rep(999) .. "1]",
        "[" .. ('"",'):rep(999) .. '""]',
      }
      for _, text in ipairs(dense) do
        -- within 48 bytes a byte (plus 48), every valid text fits
        assert.is_table(core.decode(text, 48 * #text + 48), text:sub(1, 8))
        if text:find("[]", 1, true) or text:find("{}", 1, true) then
          local v, msg, kind = core.decode(text, 20 * #text)
          assert.is_nil(v)
          assert.equal("protocol", kind)
          assert.equal(("JSON of %d bytes would take more than %d bytes decoded"):format(#text, 20 * #text), msg)
        end
      end
      assert.same({ 1 }, core.decode("[1]", 1000))
      assert.same({ 1 }, core.decode("[1]"))  -- no max, no limit
    end)

    it("raises for a non-string argument", function()
      assert.has_error(function() core.decode() end)
      assert.has_error(function() core.decode(nil) end)
      assert.has_error(function() core.decode(12) end)
      assert.has_error(function() core.decode({}) end)
    end)

    it("does not change the shared cjson module's settings", function()
      local shared = require "cjson.safe"
      -- the private instance refuses hex numbers; the shared one still reads them
      assert.is_nil((core.decode("[0x10]")))
      local t = shared.decode("[0x10]")
      assert.same({ 16 }, t)
      -- and the shared decoder still hands out cjson.null
      local n = shared.decode('{"a":null}')
      assert.equal(shared.null, n.a)
    end)
  end)

  describe("encode", function()
    it("encodes values", function()
      assert.equal("[1,2,3]", core.encode({ 1, 2, 3 }))
      assert.equal('{"a":"x"}', core.encode({ a = "x" }))
      assert.equal('"a\\nb"', core.encode("a\nb"))
      assert.equal("true", core.encode(true))
      assert.equal("null", core.encode(nil))
      assert.equal("42", core.encode(42))
    end)

    it("round-trips a decoded fixture", function()
      local f = assert(io.open("spec/fixtures/extend_workflow_runs_list.json", "rb"))
      local text = f:read("*a")
      f:close()
      local t = assert(core.decode(text))
      assert.same(t, assert(core.decode(assert(core.encode(t)))))
    end)

    it("returns nil, msg for what JSON cannot hold", function()
      for _, bad in ipairs({ { f = print }, print, { 0 / 0 }, { math.huge } }) do
        local v, msg = core.encode(bad)
        assert.is_nil(v)
        assert.equal("string", type(msg))
      end
    end)

    it("raises without an argument", function()
      assert.has_error(function() core.encode() end)
    end)
  end)
end)
