--[[
  Publish a fully written version: flip the dataset's current pointer to it, atomically.
  KEYS[1] P:{D}:current     KEYS[2] P:{D}:v:V (manifest)     KEYS[3] P:{D}:lock
  ARGV[1] version id        ARGV[2] lock token                ARGV[3] now (ISO-8601): published_at and current_since
  ARGV[4] events channel    ARGV[5] event message
  Returns  1 published
          -1 the caller no longer holds the load lock (nothing changed)
          -2 the manifest is not in state "loading" (nothing changed)
]]
if redis.call('GET', KEYS[3]) ~= ARGV[2] then return -1 end
if redis.call('HGET', KEYS[2], 'state') ~= 'loading' then return -2 end
redis.call('HSET', KEYS[2], 'state', 'published', 'published_at', ARGV[3], 'current_since', ARGV[3])
-- The pointer is "id:uid": the uid tells a reset Redis's new version 1 from the old one.
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. (redis.call('HGET', KEYS[2], 'uid') or ''))
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
