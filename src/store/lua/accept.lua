-- The professional takes the case offered to them. Accepting again is harmless.
-- ARGV: P, now, case_id, pro
local now, id, pro = ARGV[2], ARGV[3], ARGV[4]
local key = case_key(id)
local h = redis.call('HMGET', key, 'status', 'pro', 'offer_exp')
if h[1] == 'in_progress' and h[2] == pro then return {'ok'} end
if not h[1] then return {'missing'} end
if h[1] ~= 'offered' or h[2] ~= pro then return {'not_yours', h[1]} end
if tonumber(h[3]) < tonumber(now) then
  requeue_offered(id, pro, 'expired', now)
  return {'expired'}
end
redis.call('HSET', key, 'status', 'in_progress', 'accepted', now)
redis.call('ZREM', P .. 'offers', id)
event('c', id, 'in_progress')
return {'ok'}
