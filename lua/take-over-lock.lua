--[[
  Take over the loader lock of a dead owner (compare-and-set: only if it still holds `old`).
  KEYS[1] P:{D}:lock    ARGV[1] old token    ARGV[2] new token    ARGV[3] ttl ms
  Returns 1 taken over, 0 the lock changed meanwhile
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
