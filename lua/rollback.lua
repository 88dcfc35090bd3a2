--[[
  Serve an older published version again, atomically.
  KEYS[1] P:{D}:current     KEYS[2] P:{D}:v:V (target manifest)
  ARGV[1] target version    ARGV[2] events channel    ARGV[3] event message
  ARGV[4] now (ISO-8601), recorded as the manifest's current_since
  Returns  1 rolled back
          -1 the target is not a published version (nothing changed)
]]
if redis.call('HGET', KEYS[2], 'state') ~= 'published' then return -1 end
redis.call('HSET', KEYS[2], 'current_since', ARGV[4])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. (redis.call('HGET', KEYS[2], 'uid') or ''))
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
