--[[
  Add (entity, segment) pairs to one bucket of a segments version (long-shaped sources).
  The value of each entity is a JSON array of its segments, without duplicates.
  KEYS[1] P:d:D:V:B (bucket hash)
  ARGV    entity1, segment1, entity2, segment2, ...
  Returns {new entities, duplicate pairs}
]]
local bucket = KEYS[1]
local newEntities, duplicates = 0, 0
for i = 1, #ARGV, 2 do
  local entity, segment = ARGV[i], ARGV[i + 1]
  local raw = redis.call('HGET', bucket, entity)
  local list
  if raw then
    list = cjson.decode(raw)
  else
    list = {}
    newEntities = newEntities + 1
  end
  local present = false
  for _, s in ipairs(list) do
    if s == segment then present = true break end
  end
  if present then
    duplicates = duplicates + 1
  else
    list[#list + 1] = segment
    redis.call('HSET', bucket, entity, cjson.encode(list))
  end
end
return {newEntities, duplicates}
