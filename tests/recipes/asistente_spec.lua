-- Recipe recipes/asistente.lua (bundled test portal /asistente/): metadata and sandbox hygiene.
local support = require "recipes.recipe_support"

describe("recipe asistente", function()
  support.common("asistente", it)
end)
