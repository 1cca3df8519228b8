-- The citizen withdraws one contact. The case is cancelled when no contact is left on it;
-- wherever it was (queue, offer, in progress) it is taken out in the same step.
-- ARGV: P, now, ttl, contact_id, retention_secs, access-token hash, access entry.
-- A wrong token answers like a contact that does not exist.
local cid, retention, hash = ARGV[4], ARGV[5], ARGV[6]
local ckey = P .. 'contact:' .. cid
local id = redis.call('HGET', ckey, 'case')
if not id or not has_access(id, hash) then return {'missing'} end
log_access(id)
if redis.call('HEXISTS', ckey, 'withdrawn') == 1 then return {'ok', id} end
redis.call('HSET', ckey, 'withdrawn', NOW)
local key = case_key(id)
if redis.call('HINCRBY', key, 'active_contacts', -1) > 0 then
  event('c', id, 'withdrawn')
  return {'ok', id}
end
local h = redis.call('HMGET', key, 'status', 'team', 'queue', 'sub_queue', 'holder', 'channel')
local holder = nil
if h[1] == 'queued' then
  dequeue(id, h[2], h[3], h[4])
elseif h[1] == 'offered' then
  redis.call('ZREM', P .. 'offers', id)
  holder = h[5]
elseif h[1] == 'in_progress' then
  holder = h[5]
else
  return {'ok', id}
end
redis.call('HSET', key, 'status', 'cancelled')
close_case(id, retention)
event('c', id, 'cancelled')
if holder then
  release_load(holder, id, h[6])
  pull(holder)
end
return {'ok', id}
