--[[
  Drop the overlay entries of one entity that every kept version already supersedes.
  KEYS[1] P:u:{D:E} (overlay hash)
  ARGV[1] cutoff, event µs: entries with an event time at or before it are removed
  Returns the number of fields left (0: the key is gone)
]]
local key = KEYS[1]
local cutoff = tonumber(ARGV[1])
local all = redis.call('HGETALL', key)
local left = 0
for i = 1, #all, 2 do
  local v = all[i + 1]
  local t = tonumber(string.sub(v, 1, string.find(v, ' ', 1, true) - 1))
  if t <= cutoff then redis.call('HDEL', key, all[i]) else left = left + 1 end
end
return left
