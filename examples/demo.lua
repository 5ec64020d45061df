--- The main job: list the sessions of ComplyCube, IDnow and Extend through one
-- API and print an outcome summary. Runs against the sandbox (nginx on
-- loopback), so it needs no account:  make demo   (or: lua5.4 examples/demo.lua [N])
local wfs = require "wfsession"
local sandbox = require "wfsession.sandbox"

local n = tonumber(arg and arg[1]) or 2000
local sb = sandbox.start{ sessions = n, seed = 7 }

local ok, err = pcall(function()
  local everyone = {}
  for _, provider in ipairs({ "complycube", "idnow", "extend" }) do
    local client = wfs.new(sb:options(provider))
    local list = wfs.collect(client:sessions{ page_size = 500 })
    client:close()
    for _, s in ipairs(list) do everyone[#everyone + 1] = s end
    local by = provider == "idnow" and "workflow_id" or "workflow_name"
    print(("== %s: %d sessions, by %s"):format(provider, #list, by))
    print(wfs.summarize(list, { by = by }):format())
    print()
  end
  print(("== all providers: %d sessions"):format(#everyone))
  print(wfs.summarize(everyone, { by = "provider" }):format())
end)
sb:stop()
if not ok then error(err, 0) end
