--[[
  Apply updates to one entity's overlay hash, last-write-wins per field (docs/updates.md).
  A field's value is "<event µs> <tie> <payload>"; an incoming entry replaces the stored one when
  its event time is later, or equal with a greater tie number (so replaying the same operations in
  any order gives the same state). Numbers compare as Lua doubles: exact below 2^53 µs (year 2255),
  the write path refuses later event times.
  KEYS[1] P:u:{D:E} (overlay hash)
  ARGV[1] expire-at, Unix ms (newest event + retention); the key's expiry only ever moves later
  ARGV    then field, event µs, tie, payload, ... (4 per entry)
  Returns {written, won1, previous1, won2, previous2, ...}: the number of fields written (entries
  that won), then per entry 1/0 (it won or not) and the value it replaced ('' when none); the
  segment events of an update are derived from that transition (src/updates/segment-events.ts)
]]
local key = KEYS[1]
local written = 0
local out = {0}
for i = 2, #ARGV, 4 do
  local field, t, tie, payload = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), ARGV[i + 3]
  local cur = redis.call('HGET', key, field)
  local wins = true
  if cur then
    local s1 = string.find(cur, ' ', 1, true)
    local s2 = string.find(cur, ' ', s1 + 1, true)
    local ct, ctie = tonumber(string.sub(cur, 1, s1 - 1)), tonumber(string.sub(cur, s1 + 1, s2 - 1))
    wins = t > ct or (t == ct and tie > ctie)
  end
  if wins then
    redis.call('HSET', key, field, ARGV[i + 1] .. ' ' .. ARGV[i + 2] .. ' ' .. payload)
    written = written + 1
  end
  out[#out + 1] = wins and 1 or 0
  out[#out + 1] = cur or ''
end
out[1] = written
local at = tonumber(ARGV[1])
local current = redis.call('PEXPIRETIME', key)
if current == -1 or current < at then redis.call('PEXPIREAT', key, at) end
return out
