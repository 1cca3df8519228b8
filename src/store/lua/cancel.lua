-- The citizen withdraws one contact. The case is cancelled when no contact is left on it;
-- wherever it was (queue, offer, in progress) it is taken out in the same step.
-- ARGV: P, now, contact_id, retention_secs
local now, cid, retention = ARGV[2], ARGV[3], ARGV[4]
local ckey = P .. 'contact:' .. cid
local id = redis.call('HGET', ckey, 'case')
if not id then return {'missing'} end
if redis.call('HEXISTS', ckey, 'withdrawn') == 1 then return {'ok', id} end
redis.call('HSET', ckey, 'withdrawn', now)
local key = case_key(id)
if redis.call('HINCRBY', key, 'active', -1) > 0 then
  event('c', id, 'withdrawn')
  return {'ok', id}
end
local h = redis.call('HMGET', key, 'status', 'team', 'queue', 'pro', 'channel')
if h[1] == 'queued' then
  dequeue(id, h[2], h[3])
elseif h[1] == 'offered' then
  redis.call('ZREM', P .. 'offers', id)
  release_load(h[4], id, h[5])
elseif h[1] == 'in_progress' then
  release_load(h[4], id, h[5])
else
  return {'ok', id}
end
redis.call('HSET', key, 'status', 'cancelled')
close_case(id, now, retention)
event('c', id, 'cancelled')
event('w', h[2])
return {'ok', id}
