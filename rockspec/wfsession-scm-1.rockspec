package = "wfsession"
version = "scm-1"
source = { url = "git+https://github.com/wfsession/wfsession.git" }
description = {
  summary = "Workflow sessions from ComplyCube, IDnow and Extend through one API",
  detailed = [[
    Lazy pagination with resumable cursors, one normalized session model, server-side
    filters where the provider has them, concurrent pages, retries, summaries, a
    `wfsession` command, hosts for scripts, OpenResty and event loops, and a local
    sandbox that speaks all three APIs. C core on libcurl and lua-cjson.
  ]],
  homepage = "https://github.com/wfsession/wfsession",
  license = "MIT",
}
-- cjson.safe.new() (the core decodes with its own instance) came with 2.1.0
dependencies = { "lua >= 5.1", "lua-cjson >= 2.1.0", "argparse" }
-- only the library: Debian's curl/curl.h is under the multiarch include
-- directory, which the compiler searches but LuaRocks' header check does not
external_dependencies = { CURL = { library = "curl" } }
build = {
  type = "builtin",
  modules = {
    ["wfsession.core"] = {
      sources = {
        "csrc/wfs_compat.c", "csrc/wfs_core.c", "csrc/wfs_easy.c", "csrc/wfs_error.c", "csrc/wfs_hash.c",
        "csrc/wfs_json.c", "csrc/wfs_multi.c", "csrc/wfs_pager.c", "csrc/wfs_provider.c",
        "csrc/wfs_session.c", "csrc/wfs_signal.c", "csrc/wfs_time.c", "csrc/wfs_transfer.c",
      },
      libraries = { "curl" },
      incdirs = { "$(CURL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)" },
      defines = { "_POSIX_C_SOURCE=200809L" },
    },
    ["wfsession.budget"] = "lua/wfsession/budget.lua",
    ["wfsession.cli"] = "lua/wfsession/cli.lua",
    ["wfsession.client"] = "lua/wfsession/client.lua",
    ["wfsession.filter"] = "lua/wfsession/filter.lua",
    ["wfsession.host"] = "lua/wfsession/host.lua",
    ["wfsession"] = "lua/wfsession/init.lua",
    ["wfsession.listing"] = "lua/wfsession/listing.lua",
    ["wfsession.multi"] = "lua/wfsession/multi.lua",
    ["wfsession.options"] = "lua/wfsession/options.lua",
    ["wfsession.provider.complycube"] = "lua/wfsession/provider/complycube.lua",
    ["wfsession.provider.extend"] = "lua/wfsession/provider/extend.lua",
    ["wfsession.provider.idnow"] = "lua/wfsession/provider/idnow.lua",
    ["wfsession.provider"] = "lua/wfsession/provider/init.lua",
    ["wfsession.report"] = "lua/wfsession/report.lua",
    ["wfsession.retry"] = "lua/wfsession/retry.lua",
    ["wfsession.sandbox.complycube"] = "lua/wfsession/sandbox/complycube.lua",
    ["wfsession.sandbox.data"] = "lua/wfsession/sandbox/data.lua",
    ["wfsession.sandbox.extend"] = "lua/wfsession/sandbox/extend.lua",
    ["wfsession.sandbox.idnow"] = "lua/wfsession/sandbox/idnow.lua",
    ["wfsession.sandbox"] = "lua/wfsession/sandbox/init.lua",
    ["wfsession.sandbox.knobs"] = "lua/wfsession/sandbox/knobs.lua",
    ["wfsession.sandbox.nginx"] = "lua/wfsession/sandbox/nginx.lua",
    ["wfsession.sandbox.server"] = "lua/wfsession/sandbox/server.lua",
    ["wfsession.sandbox.util"] = "lua/wfsession/sandbox/util.lua",
    ["wfsession.sandbox.watchdog"] = "lua/wfsession/sandbox/watchdog.lua",
    ["wfsession.summary"] = "lua/wfsession/summary.lua",
    ["wfsession.transport.curl"] = "lua/wfsession/transport/curl.lua",
    ["wfsession.transport.resty"] = "lua/wfsession/transport/resty.lua",
    ["wfsession.util"] = "lua/wfsession/util.lua",
  },
  install = { bin = { "bin/wfsession", "bin/wfsession-sandbox" } },
}
