-- Recipe recipes/sombra.lua (bundled test portal /sombra/): metadata and sandbox hygiene.
local support = require "recipes.recipe_support"

describe("recipe sombra", function()
  support.common("sombra", it)
end)
