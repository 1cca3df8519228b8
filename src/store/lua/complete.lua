-- The professional finishes the case with an outcome; their freed slot pulls the next case.
-- ARGV: P, now, ttl, case_id, pro, outcome, retention_secs
local id, pro, outcome, retention = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local key = case_key(id)
local h = redis.call('HMGET', key, 'status', 'holder', 'channel')
if h[1] == 'completed' and h[2] == pro then return {'ok'} end
if not h[1] then return {'missing'} end
if h[1] ~= 'in_progress' or h[2] ~= pro then return {'not_yours', h[1]} end
redis.call('HSET', key, 'status', 'completed', 'outcome', outcome)
-- A new case about the same need within 7 days is a re-contact.
local c = redis.call('HMGET', key, 'citizen', 'needs', 'team')
if c[1] and c[1] ~= '' then
  for _, need in ipairs(csv(c[2])) do
    redis.call('SET', P .. 'last:' .. c[1] .. ':' .. need, NOW, 'EX', 604800)
  end
end
stat('k', 'done', 'team', c[3], 'outcome', outcome, 'contacts', redis.call('SCARD', key .. ':contacts'))
close_case(id, retention)
event('c', id, 'completed')
release_load(pro, id, h[3])
pull(pro)
log_access(id, 'complete')
return {'ok'}
