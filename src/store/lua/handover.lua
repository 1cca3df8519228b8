-- Inside the team, without the queue: the holder hands the case over to a colleague (who is
-- offered it at once), or asks a colleague to consult (the case stays with the holder).
-- ARGV: P, now, ttl, op ('transfer' | 'consult'), case_id, holder, colleague, colleague's
--       profession, reason
local op, id, holder, to, prof, why = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local key = case_key(id)
local h = redis.call('HMGET', key, 'status', 'holder', 'channel', 'professions', 'needs', 'urgency', 'language', 'deadline', 'team')
if not h[1] then return {'missing'} end
if h[1] ~= 'in_progress' or h[2] ~= holder then return {'not_yours', h[1]} end
if to == holder then return {'refused', 'yourself'} end
if op == 'transfer' then
  -- The colleague's profession may now take the case, also if it returns to the queue.
  if not string.find(h[4] or '', ',' .. prof .. ',', 1, true) then
    redis.call('HSET', key, 'professions', (h[4] or ',') .. prof .. ',')
  end
  add_reason(id, 'handed over by ' .. holder .. ' to ' .. to .. ' (' .. prof .. '): ' .. why)
  release_load(holder, id, h[3])
  holder_back(id)
  reserve(id, to)
  pull(holder)
  log_access(id, op)
  return {'ok'}
elseif op == 'consult' then
  redis.call('HSET', key, 'consult:' .. to, 'requested')
  add_reason(id, 'consultation asked by ' .. holder .. ' from ' .. to .. ' (' .. prof .. ')')
  event('o', to, id, '0', h[3], h[5], h[6], h[7] or '', h[8], h[9], '0', holder,
    redis.call('HGET', pro_key(to), 'conn') or '')
  event('c', id, 'consult')
  log_access(id, op)
  return {'ok'}
end
return redis.error_reply('unknown op ' .. op)
