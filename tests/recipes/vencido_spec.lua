-- Recipe recipes/vencido.lua (bundled test portal /vencido/): metadata and sandbox hygiene.
local support = require "recipes.recipe_support"

describe("recipe vencido", function()
  support.common("vencido", it)
end)
