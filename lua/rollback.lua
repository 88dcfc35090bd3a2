--[[
  Serve an older published version again, atomically.
  KEYS[1] P:{D}:current     KEYS[2] P:{D}:v:V (target manifest)
  KEYS[3] manifest of the version being replaced (KEYS[2] again when there is none)
  ARGV[1] target version    ARGV[2] events channel    ARGV[3] event message
  ARGV[4] now (ISO-8601)    ARGV[5] expected current pointer ('' = none)
  Returns  1 rolled back: the target gets current_since = now; the replaced version gets
             retired_at and rolled_back_at = now (loads of the same source are then skipped)
          -1 the target is not a published version (nothing changed)
          -3 the current pointer moved since the caller read it (nothing changed; read and retry)
]]
if redis.call('HGET', KEYS[2], 'state') ~= 'published' then return -1 end
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[5] then return -3 end
redis.call('HSET', KEYS[2], 'current_since', ARGV[4])
if ARGV[5] ~= '' and KEYS[3] ~= KEYS[2] then
  redis.call('HSET', KEYS[3], 'retired_at', ARGV[4], 'rolled_back_at', ARGV[4])
end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. (redis.call('HGET', KEYS[2], 'uid') or ''))
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
