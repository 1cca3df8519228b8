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
local case = whole_case(id)
local holder = nil
if case.status == 'queued' then
  dequeue(id, case.team, case.queue, case.sub_queue, case)
elseif case.status == 'offered' then
  redis.call('ZREM', P .. 'offers', id)
  holder = case.holder
elseif case.status == 'in_progress' then
  holder = case.holder
elseif case.status == 'unreachable' then
  redis.call('ZREM', P .. 'unreachable', id)
else
  return {'ok', id}
end
close_case(id, retention, case, contacts_of(id, case), {'status', 'cancelled'})
event('c', id, 'cancelled')
if holder then
  pull(holder, release_load(holder, id, case.channel))
end
return {'ok', id}
