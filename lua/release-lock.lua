--[[
  Release the loader lock if we still hold it.
  KEYS[1] P:{D}:lock    ARGV[1] token
  Returns 1 released, 0 not ours
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
