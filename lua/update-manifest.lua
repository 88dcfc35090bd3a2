--[[
  Write a loading version's manifest fields (and optionally its dictionary) only while the caller
  still holds the load lock and the manifest still exists, so a loader that lost its lock never
  re-creates keys that another loader has reclaimed.
  KEYS[1] P:{D}:lock    KEYS[2] P:{D}:v:V (manifest)    KEYS[3] P:{D}:v:V:dict
  ARGV[1] lock token    ARGV[2] dictionary JSON ('' = leave as is)    ARGV[3..] field, value pairs
  Returns  1 written
           0 not written: the lock is lost or the manifest is gone
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
if ARGV[2] ~= '' then redis.call('SET', KEYS[3], ARGV[2]) end
if #ARGV > 2 then redis.call('HSET', KEYS[2], unpack(ARGV, 3)) end
return 1
