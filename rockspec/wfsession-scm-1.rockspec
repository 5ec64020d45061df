package = "wfsession"
version = "scm-1"
source = { url = "git+https://example.invalid/wfsession.git" }
description = {
  summary = "Workflow sessions from ComplyCube, IDnow and Extend through one API",
  detailed = [[
    Lazy pagination with resumable cursors, one normalized session model, server-side
    filters where the provider has them, retries, summaries, and a local sandbox that
    speaks all three APIs. C core on libcurl and lua-cjson.
  ]],
  license = "MIT",
}
dependencies = { "lua >= 5.1", "lua-cjson" }
external_dependencies = { CURL = { header = "curl/curl.h", library = "curl" } }
build = {
  type = "builtin",
  modules = {
    ["wfsession.core"] = {
      sources = { "csrc/wfs_core.c", "csrc/wfs_compat.c", "csrc/wfs_provider.c", "csrc/wfs_json.c",
                  "csrc/wfs_time.c", "csrc/wfs_session.c", "csrc/wfs_error.c", "csrc/wfs_pager.c",
                  "csrc/wfs_transfer.c", "csrc/wfs_easy.c", "csrc/wfs_multi.c" },
      libraries = { "curl" },
      incdirs = { "$(CURL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)" },
      defines = { "_POSIX_C_SOURCE=200809L" },
    },
    ["wfsession"] = "lua/wfsession/init.lua",
    ["wfsession.util"] = "lua/wfsession/util.lua",
    ["wfsession.options"] = "lua/wfsession/options.lua",
    ["wfsession.client"] = "lua/wfsession/client.lua",
    ["wfsession.listing"] = "lua/wfsession/listing.lua",
    ["wfsession.host"] = "lua/wfsession/host.lua",
    ["wfsession.multi"] = "lua/wfsession/multi.lua",
    ["wfsession.provider"] = "lua/wfsession/provider/init.lua",
    ["wfsession.retry"] = "lua/wfsession/retry.lua",
    ["wfsession.filter"] = "lua/wfsession/filter.lua",
    ["wfsession.summary"] = "lua/wfsession/summary.lua",
    ["wfsession.transport.curl"] = "lua/wfsession/transport/curl.lua",
    ["wfsession.provider.complycube"] = "lua/wfsession/provider/complycube.lua",
    ["wfsession.provider.idnow"] = "lua/wfsession/provider/idnow.lua",
    ["wfsession.provider.extend"] = "lua/wfsession/provider/extend.lua",
    ["wfsession.sandbox"] = "lua/wfsession/sandbox/init.lua",
    ["wfsession.sandbox.server"] = "lua/wfsession/sandbox/server.lua",
    ["wfsession.sandbox.data"] = "lua/wfsession/sandbox/data.lua",
    ["wfsession.sandbox.util"] = "lua/wfsession/sandbox/util.lua",
    ["wfsession.sandbox.nginx"] = "lua/wfsession/sandbox/nginx.lua",
    ["wfsession.sandbox.watchdog"] = "lua/wfsession/sandbox/watchdog.lua",
    ["wfsession.sandbox.complycube"] = "lua/wfsession/sandbox/complycube.lua",
    ["wfsession.sandbox.idnow"] = "lua/wfsession/sandbox/idnow.lua",
    ["wfsession.sandbox.extend"] = "lua/wfsession/sandbox/extend.lua",
  },
  install = { bin = { "bin/wfsession-sandbox" } },
}
