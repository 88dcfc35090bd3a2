--[[
  Publish a fully written version: flip the dataset's current pointer to it, atomically.
  KEYS[1] P:{D}:current     KEYS[2] P:{D}:v:V (manifest)     KEYS[3] P:{D}:lock
  KEYS[4] manifest of the version being replaced (KEYS[2] again when there is none)
  ARGV[1] version id        ARGV[2] lock token                ARGV[3] now (ISO-8601)
  ARGV[4] events channel    ARGV[5] event message             ARGV[6] expected current pointer ('' = none)
  Returns  1 published (the replaced version gets retired_at = now, starting its reclaim grace)
          -1 the caller no longer holds the load lock (nothing changed)
          -2 the manifest is not in state "loading" (nothing changed)
          -3 the current pointer moved since the caller read it (nothing changed; read and retry)
]]
if redis.call('GET', KEYS[3]) ~= ARGV[2] then return -1 end
if redis.call('HGET', KEYS[2], 'state') ~= 'loading' then return -2 end
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[6] then return -3 end
redis.call('HSET', KEYS[2], 'state', 'published', 'published_at', ARGV[3], 'current_since', ARGV[3])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[4], 'retired_at', ARGV[3]) end
-- The pointer is "id:uid": the uid tells a reset Redis's new version 1 from the old one.
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. (redis.call('HGET', KEYS[2], 'uid') or ''))
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
