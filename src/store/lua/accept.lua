-- The professional takes the case offered to them. Accepting again is harmless.
-- ARGV: P, now, ttl, case_id, pro
local id, pro = ARGV[4], ARGV[5]
local key = case_key(id)
local h = redis.call('HMGET', key, 'status', 'pro', 'offer_exp')
if h[1] == 'in_progress' and h[2] == pro then return {'ok'} end
if not h[1] then return {'missing'} end
if h[1] ~= 'offered' or h[2] ~= pro then return {'not_yours', h[1]} end
if tonumber(h[3]) < tonumber(NOW) then
  requeue_offered(id, pro, 'expired', NOW)
  return {'expired'}
end
redis.call('HSET', key, 'status', 'in_progress', 'accepted', NOW)
redis.call('ZREM', P .. 'offers', id)
event('c', id, 'in_progress')
return {'ok'}
