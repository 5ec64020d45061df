-- Every ```lua block of the README runs as written, each in its own process,
-- against one sandbox: the credentials it reads from the environment are the
-- sandbox's, and a client made without `base_url` is pointed at the sandbox
-- (the one thing the prelude adds). A `--> text` comment is what the line
-- prints: the run's output must have a line with those words.
local helpers = require "helpers"

local LUA, ENV = helpers.LUA, helpers.IN_TREE

local PRELUDE = [[
do
  local wfs = require "wfsession"
  local new = wfs.new
  local url = { complycube = os.getenv("WFS_README_COMPLYCUBE"), idnow = os.getenv("WFS_README_IDNOW"),
                extend = os.getenv("WFS_README_EXTEND") }
  wfs.new = function(opts)
    if type(opts) ~= "table" or opts.base_url ~= nil or not url[opts.provider] then return new(opts) end
    local o = {}
    for k, v in pairs(opts) do o[k] = v end
    o.base_url = url[o.provider]
    if o.provider == "idnow" then o.auth_url = o.auth_url or os.getenv("WFS_README_IDNOW_AUTH") end
    return new(o)
  end
end
]]

-- the ```lua blocks of README.md, with the line each starts on
local function lua_blocks()
  local f = assert(io.open("README.md", "rb"))
  local text = f:read("*a")
  f:close()
  local blocks, current, n = {}, nil, 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    if current then
      if line:match("^```%s*$") then
        blocks[#blocks + 1] = current
        current = nil
      else
        current.lines[#current.lines + 1] = line
      end
    elseif line:match("^```lua%s*$") then
      current = { line = n + 1, lines = {} }
    end
  end
  assert(current == nil, "README.md: a ```lua block is not closed")
  for _, b in ipairs(blocks) do b.code = table.concat(b.lines, "\n") .. "\n" end
  return blocks
end

local function words(s)
  local out = {}
  for w in s:gmatch("%S+") do out[#out + 1] = w end
  return table.concat(out, " ")
end

describe("README", function()
  local blocks = lua_blocks()
  local sb

  setup(function()
    sb = assert(helpers.sandbox{ sessions = 1000, seed = 3 })
  end)
  teardown(function()
    if sb then sb:stop() end
  end)

  it("has Lua blocks to run", function()
    assert.is_true(#blocks >= 10, "found " .. #blocks)
  end)

  for _, block in ipairs(blocks) do
    local first = block.lines[1] ~= "" and block.lines[1] or block.lines[2] or ""
    it(("runs the block at line %d (%s)"):format(block.line, first:sub(1, 50)), function()
      for _, lib in ipairs({ "cqueues", "luv" }) do
        if block.code:find('require "' .. lib .. '"', 1, true) and not pcall(require, lib) then
          return pending(lib .. " is not installed for " .. _VERSION)
        end
      end
      local file = os.tmpname()
      finally(function() os.remove(file) end)
      local f = assert(io.open(file, "wb"))
      f:write(PRELUDE, block.code)
      f:close()
      local vars = {
        COMPLYCUBE_API_KEY = sb.complycube.api_key, EXTEND_API_KEY = sb.extend.api_key,
        IDNOW_CLIENT_ID = sb.idnow.client_id, IDNOW_CLIENT_SECRET = sb.idnow.client_secret,
        IDNOW_FLOW_ID = sb.idnow.flow_id, WFS_README_COMPLYCUBE = sb.complycube.base_url,
        WFS_README_IDNOW = sb.idnow.base_url, WFS_README_IDNOW_AUTH = sb.idnow.auth_url,
        WFS_README_EXTEND = sb.extend.base_url,
      }
      local parts = {}
      for k, v in pairs(vars) do parts[#parts + 1] = k .. "='" .. v .. "'" end
      local out, code = helpers.shell(ENV .. table.concat(parts, " ") .. " timeout 120 " .. LUA .. " "
        .. file .. " 2>&1")
      assert.equal(0, code, ("README.md:%d: the block failed:\n%s"):format(block.line, out))
      local printed = {}
      for line in out:gmatch("[^\n]+") do printed[words(line)] = true end
      for i, line in ipairs(block.lines) do
        local expected = line:match("%-%->%s*(.-)%s*$")
        if expected then
          assert.is_true(printed[words(expected)] == true,
            ("README.md:%d: no line printed reads %q; the output was:\n%s"):format(block.line + i - 1,
              words(expected), out))
        end
      end
    end)
  end
end)
