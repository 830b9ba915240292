-- Recipe recipes/larga.lua (bundled test portal /larga/): metadata and sandbox hygiene.
local support = require "recipes.recipe_support"

describe("recipe larga", function()
  support.common("larga", it)
end)
