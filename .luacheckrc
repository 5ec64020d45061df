std = "max"
max_line_length = 120
files["spec"] = { std = "+busted" }
-- the sandbox runs inside nginx: it writes ngx.status and ngx.header
files["lua/wfsession/sandbox"] = { std = "lua51+lua54", globals = { "ngx" } }
