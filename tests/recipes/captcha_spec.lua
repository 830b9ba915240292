-- Recipe recipes/captcha.lua (bundled test portal /captcha/): metadata and sandbox hygiene.
local support = require "recipes.recipe_support"

describe("recipe captcha", function()
  support.common("captcha", it)
end)
