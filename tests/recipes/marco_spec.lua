-- Recipe recipes/marco.lua (bundled test portal /marco/): metadata and sandbox hygiene.
local support = require "recipes.recipe_support"

describe("recipe marco", function()
  support.common("marco", it)
end)
