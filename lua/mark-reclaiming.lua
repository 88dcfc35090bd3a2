--[[
  Claim a version for deletion, atomically with respect to publish and rollback: a version that
  is current, or that a rollback could still target, is never deleted under a reader.
  KEYS[1] P:{D}:current     KEYS[2] P:{D}:v:V (manifest)
  ARGV[1] version id
  Returns  1 marked "reclaiming" (rollback.lua now refuses it; the caller deletes its keys)
           0 refused: it is the current version, or its manifest is gone
]]
local pointer = redis.call('GET', KEYS[1])
if pointer and string.match(pointer, '^(%d+)') == ARGV[1] then return 0 end
if not redis.call('HGET', KEYS[2], 'state') then return 0 end
redis.call('HSET', KEYS[2], 'state', 'reclaiming')
return 1
