-- The rockspecs describe the tree as it is: every module and every C source,
-- the same build in scm-1 and the release, and the version the core reports.
describe("packaging", function()
  local function rockspec(path)
    local f = assert(io.open(path, "rb"))
    local text = f:read("*a")
    f:close()
    local env = {}
    local chunk
    if setfenv then
      chunk = assert(loadstring(text, "=" .. path))
      setfenv(chunk, env)
    else
      chunk = assert(load(text, "=" .. path, "t", env))
    end
    chunk()
    return env
  end

  local function lines_of(cmd)
    local out, p = {}, assert(io.popen(cmd))
    for l in p:lines() do out[#out + 1] = l end
    p:close()
    table.sort(out)
    return out
  end

  local function keys(t)
    local out = {}
    for k in pairs(t) do out[#out + 1] = k end
    table.sort(out)
    return out
  end

  local scm = rockspec("rockspec/wfsession-scm-1.rockspec")
  local version = require("wfsession").VERSION
  local release = rockspec("rockspec/wfsession-" .. version .. "-1.rockspec")

  it("lists every Lua module of the tree under its module name", function()
    local expected = {}
    for _, f in ipairs(lines_of("find lua -name '*.lua'")) do
      expected[#expected + 1] = f:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
    end
    expected[#expected + 1] = "wfsession.core"
    table.sort(expected)
    assert.same(expected, keys(scm.build.modules))
    for name, file in pairs(scm.build.modules) do
      if type(file) == "string" then
        assert.equal(name, (file:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")))
      end
    end
  end)

  it("builds the core from every C source", function()
    local sources = scm.build.modules["wfsession.core"].sources
    table.sort(sources)
    assert.same(lines_of("ls csrc/*.c"), sources)
  end)

  it("has a release rockspec for the core's version, the same build as scm-1", function()
    assert.equal(version .. "-1", release.version)
    assert.equal("scm-1", scm.version)
    assert.is_string(release.source.tag)
    assert.same(scm.build, release.build)
    assert.same(scm.dependencies, release.dependencies)
    assert.same(scm.external_dependencies, release.external_dependencies)
  end)

  it("asks for what the core and the command need, and installs both commands", function()
    local deps = table.concat(scm.dependencies, ",")
    assert.matches("lua%-cjson >= 2%.1%.0", deps)   -- cjson.safe.new()
    assert.matches("argparse", deps)
    assert.is_nil(scm.external_dependencies.CURL.header)   -- multiarch: see the rockspec
    assert.same({ "bin/wfsession", "bin/wfsession-sandbox" }, scm.build.install.bin)
    assert.equal("MIT", scm.description.license)
    assert.truthy(io.open("LICENSE", "rb"), "LICENSE is missing")
  end)
end)
