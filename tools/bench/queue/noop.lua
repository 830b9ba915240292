-- noop.lua -- the benchmark's job handler: does nothing.
return function(job) end
