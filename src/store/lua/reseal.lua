-- Moves an open case's sealed values from an old data key to today's (`seal.rs`), so that the
-- old key can be destroyed while the case stays open. The values were opened and sealed again
-- by the caller; each is written only if what is stored is still what was read.
-- KEYS[1]: the case hash. ARGV: P, now, ttl, case_id, old key id, new key id, n (word fields),
-- then n × (field, expected, value), then per joined contact (contact id, expected, value).
-- Returns 1 when moved, 0 when the case changed meanwhile (closed, written again): nothing is
-- written then.
local id, old, new, n = ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])
local key = case_key(id)
local seals = redis.call('HGET', key, 'seal') or ''
if not string.find(',' .. seals .. ',', ',' .. old .. ',', 1, true) then return 0 end
local words = words_key(id)
local i = 8
for _ = 1, n do
  if redis.call('HGET', words, ARGV[i]) ~= ARGV[i + 1] then return 0 end
  i = i + 3
end
for j = i, #ARGV, 3 do
  if redis.call('HGET', P .. 'contact:' .. ARGV[j], 'classification') ~= ARGV[j + 1] then return 0 end
end
i = 8
for _ = 1, n do
  redis.call('HSET', words, ARGV[i], ARGV[i + 2])
  i = i + 3
end
for j = i, #ARGV, 3 do
  redis.call('HSET', P .. 'contact:' .. ARGV[j], 'classification', ARGV[j + 2])
end
local kept = {}
for _, s in ipairs(csv(seals)) do
  if s ~= old and s ~= new then kept[#kept + 1] = s end
end
kept[#kept + 1] = new
redis.call('HSET', key, 'seal', table.concat(kept, ','))
redis.call('SREM', P .. 'sealed:' .. old, id)
redis.call('SADD', P .. 'sealed:' .. new, id)
return 1
