-- Every example runs, end to end, against its own sandbox.
describe("examples", function()
  local env = 'LUA_PATH="./lua/?.lua;./lua/?/init.lua;;" LUA_CPATH="./?.so;;" '
  local lua = arg and arg[-1] or "lua5.4"

  local function run(script, args)
    local p = assert(io.popen(env .. "timeout 60 " .. lua .. " " .. script .. " " .. (args or "") .. " 2>&1"))
    local out = p:read("*a")
    local ok, _, code = p:close()
    return out, ok and 0 or code
  end

  it("demo.lua lists all three providers and prints their summaries", function()
    local out, code = run("examples/demo.lua", "300")
    assert.equal(0, code, out)
    for _, provider in ipairs({ "complycube", "idnow", "extend" }) do
      assert.matches("== " .. provider .. ": 300 sessions", out, 1, true)
    end
    assert.matches("== all providers: 900 sessions", out, 1, true)
    assert.matches("wfsession summary: 900 sessions, approval rate %d+%.%d%%", out)
    assert.matches("by provider", out, 1, true)
  end)

  it("game_loop.lua keeps its 60 Hz frames while four listings run", function()
    local out, code = run("examples/game_loop.lua", "600 0.05")
    assert.equal(0, code, out)
    assert.equal(4, select(2, out:gsub("sessions\n", "")), out)
    assert.matches("every listing complete", out, 1, true)
    local wall, cpu = out:match("max step ([%d.]+) ms %(CPU ([%d.]+) ms%)")
    assert.is_not_nil(wall, out)
    -- no step did more than 8 ms of work; none waited on the network (50 ms a request)
    assert.is_true(tonumber(cpu) <= 8, out)
    assert.is_true(tonumber(wall) <= 40, out)
  end)
end)
