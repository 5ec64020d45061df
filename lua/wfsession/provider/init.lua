--- The providers, by key: everything provider-specific that is not C
-- (internal). Each module has `name`, `default_base_url`, `options`,
-- `inapplicable`, `validate`, `configure`, `list_url`, `get_url`,
-- `authorize`, `renewable`, `plan` and `unwrap`.
-- @module wfsession.provider

return {
  complycube = require "wfsession.provider.complycube",
  idnow = require "wfsession.provider.idnow",
  extend = require "wfsession.provider.extend",
}
