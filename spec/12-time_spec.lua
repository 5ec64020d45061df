-- Timestamps, the wall clock and sleep.

local core = require "wfsession.core"

local has_math_type = math.type ~= nil

describe("time", function()
  describe("core.time", function()
    local valid = {
      { "1970-01-01T00:00:00Z", 0 },
      { "1969-12-31T23:59:59Z", -1 },
      { "2025-01-07T10:30:00Z", 1736245800 },
      { "2025-01-07T10:30:00z", 1736245800 },
      { "2025-01-07t10:30:00Z", 1736245800 },
      { "2025-01-07 10:30:00Z", 1736245800 },
      { "2025-01-07T12:30:00+02:00", 1736245800 },
      { "2025-01-07T12:30:00+0200", 1736245800 },
      { "2025-01-07T05:00:00-05:30", 1736245800 },
      { "2025-01-07T10:30:00+00:00", 1736245800 },
      { "2025-01-07T10:30:00-00:00", 1736245800 },
      { "2025-01-07", 1736208000 },
      { "2024-02-29", 1709164800 },
      { "2024-02-29T00:00:00Z", 1709164800 },
      { "2000-02-29T00:00:00Z", 951782400 },
      { "2000-03-01", 951868800 },
      { "2016-12-31T23:59:60Z", 1483228800 },  -- leap second: the next second
      { "0000-01-01T00:00:00Z", -62167219200 },
      { "9999-12-31T23:59:59Z", 253402300799 },
      { "2024-03-21T15:29:55Z", 1711034995 },
    }
    for _, c in ipairs(valid) do
      it("parses " .. c[1], function()
        local t = core.time(c[1])
        assert.equal(c[2], t)
        if has_math_type then assert.equal("integer", math.type(t)) end
      end)
    end

    it("keeps fractions, as a float", function()
      local t = core.time("2025-01-13T11:35:20.592Z")
      assert.is_true(math.abs(t - 1736768120.592) < 1e-6)
      assert.equal(1736245800.5, core.time("2025-01-07T10:30:00.5Z"))
      assert.is_true(math.abs(core.time("2025-01-07T10:30:00.123456789Z") - 1736245800.123456789) < 1e-6)
      assert.is_true(math.abs(core.time("2025-01-07T10:30:00.000000000000000000001Z") - 1736245800) < 1e-6)
      assert.equal(1736245800.25, core.time("2025-01-07T12:30:00.25+02:00"))
      local ms = core.time("2025-01-07T10:30:00.000Z")
      assert.equal(1736245800, ms)
      if has_math_type then assert.equal("float", math.type(ms)) end
    end)

    it("orders timestamps of mixed forms", function()
      assert.is_true(core.time("2025-01-01T14:06:44.756Z") < core.time("2025-01-01T14:06:45Z"))
      assert.equal(130, core.time("2025-01-07T10:32:10Z") - core.time("2025-01-07T10:30:00.000Z"))
    end)

    local invalid = {
      { "2025-01-01T14:06:91.913Z", "second out of range" },  -- ComplyCube's docs
      { "2025-13-01T00:00:00Z", "month out of range" },
      { "2025-00-10", "month out of range" },
      { "2025-04-31T00:00:00Z", "day out of range" },
      { "2025-01-00", "day out of range" },
      { "2023-02-29", "day out of range" },
      { "1900-02-29T00:00:00Z", "day out of range" },
      { "2100-02-29", "day out of range" },
      { "2025-01-01T24:00:00Z", "hour out of range" },
      { "2025-01-01T10:60:00Z", "minute out of range" },
      { "2025-01-01T10:00:61Z", "second out of range" },
      { "2025-01-07T10:30:00", "time zone" },
      { "2025-01-07T10:30:00.123", "time zone" },
      { "2025-01-07T10:30:00.Z", "digits after" },
      { "2025-01-07T10:30:00+25:00", "offset out of range" },
      { "2025-01-07T10:30:00+02:60", "offset out of range" },
      { "2025-01-07T10:30:00+2:00", "offset" },
      { "2025-01-07T10:30:00+02", "offset" },
      { "2025-01-07T10:30:00Zjunk", "after the time zone" },
      { "2025-01-07T10:30:00 Z", "time zone" },
      { "2025-01-07T10:30Z", "HH:MM:SS" },
      { "2025-01-07X10:30:00Z", "'T'" },
      { "", "YYYY%-MM%-DD" },
      { "not a date", "YYYY%-MM%-DD" },
      { "2025-1-7", "YYYY%-MM%-DD" },
      { "20250107", "YYYY%-MM%-DD" },
      { " 2025-01-07", "YYYY%-MM%-DD" },
      { "2025-01-07 ", "HH:MM:SS" },
      { "-2025-01-07", "YYYY%-MM%-DD" },
      { "2025-01-07T10:30:00\0Z", "time zone" },
    }
    for _, c in ipairs(invalid) do
      it(("refuses %q"):format(c[1]), function()
        local t, msg = core.time(c[1])
        assert.is_nil(t)
        assert.equal("string", type(msg))
        assert.matches(c[2], msg)
        assert.matches("^invalid timestamp '", msg)
      end)
    end

    it("quotes the bad value in the message, at most ~40 characters of it", function()
      local _, msg = core.time("2025-01-01T14:06:91.913Z")
      assert.equal("invalid timestamp '2025-01-01T14:06:91.913Z': second out of range", msg)
      local long = ("x"):rep(500)
      _, msg = core.time(long)
      assert.is_true(#msg < 100)
      assert.matches("'x+%.%.%.'", msg)
      _, msg = core.time("2025\r\n-01-01")
      assert.is_nil(msg:find("[%c]"))
      _, msg = core.time(("é"):rep(40))
      assert.is_true(#msg < 100)
      if utf8 then assert.is_not_nil(utf8.len(msg)) end  -- not cut inside a character
    end)

    it("raises for a non-string argument", function()
      assert.has_error(function() core.time() end)
      assert.has_error(function() core.time(nil) end)
      assert.has_error(function() core.time(1736245800) end)
      assert.has_error(function() core.time({}) end)
    end)
  end)

  describe("core.now", function()
    it("is the wall clock, with a fraction", function()
      local t = core.now()
      assert.equal("number", type(t))
      assert.is_true(math.abs(t - os.time()) < 2)
      if has_math_type then assert.equal("float", math.type(t)) end
    end)
  end)

  describe("core.sleep", function()
    it("sleeps for about the time asked", function()
      local t0 = core.now()
      core.sleep(0.05)
      local dt = core.now() - t0
      assert.is_true(dt >= 0.045, "slept " .. dt)
      assert.is_true(dt < 2, "slept " .. dt)
      t0 = core.now()
      core.sleep(0)
      assert.is_true(core.now() - t0 < 1)
    end)

    it("raises for negative, NaN, infinite or non-number seconds", function()
      assert.has_error(function() core.sleep(-1) end)
      assert.has_error(function() core.sleep(-0.001) end)
      assert.has_error(function() core.sleep(0 / 0) end)
      assert.has_error(function() core.sleep(math.huge) end)
      assert.has_error(function() core.sleep() end)
      assert.has_error(function() core.sleep("soon") end)
      local ok, msg = pcall(core.sleep, -1)
      assert.is_false(ok)
      assert.matches("#1", msg)
    end)
  end)
end)
