-- Recipe recipes/spa.lua (bundled test portal /spa/): metadata and sandbox hygiene.
local support = require "recipes.recipe_support"

describe("recipe spa", function()
  support.common("spa", it)
end)
