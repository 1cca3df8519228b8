-- Set a professional's presence, capacities and connection in one step. Someone who is no
-- longer reachable gets their pending offers taken back (and placed with colleagues); someone
-- reachable fills their free slots from the queues at once.
-- ARGV: P, now, ttl, pro, team, profession, needs_csv, presence ('' keeps),
--       cap_phone, cap_chat, cap_e_service ('' keeps), conn_op ('' | 'set' | 'rejoin' | 'clear'),
--       token,
--       languages (',fi,sv,'), e-service during a call ('1' | '0'), presence lease (ms)
-- Setting a connection (a new Offers stream) grants its presence lease, brings back the cases
-- the professional holds from "holder disconnected", and, when it replaces another stream,
-- takes back the offers made to that stream and places them again (to this one, when it is
-- still the best fit). Clearing it, by the stream that holds it, ends the lease and does what
-- `holder_gone` says.
local pro, team, prof, needs, presence = ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local op, token = ARGV[12], ARGV[13]
local pk = pro_key(pro)
redis.call('HSET', pk, 'team', team, 'prof', prof, 'needs', needs, 'langs', ARGV[14], 'es_call', ARGV[15])
redis.call('SADD', P .. 'teams', team)
if presence ~= '' then redis.call('HSET', pk, 'presence', presence) end
for i, ch in ipairs(CHANNELS) do
  if ARGV[8 + i] ~= '' then redis.call('HSET', pk, 'cap:' .. ch, ARGV[8 + i]) end
end
local replaced, gone = false, false
local before = redis.call('HGET', pk, 'conn')
-- A stream whose lease lapsed sets its connection again only if no newer stream took it.
if op == 'rejoin' then
  op = (before and before ~= '') and '' or 'set'
end
if op == 'set' then
  replaced = before and before ~= '' and before ~= token
  redis.call('HSET', pk, 'conn', token)
  grant_lease(pro, ARGV[16])
elseif op == 'clear' and redis.call('HGET', pk, 'conn') == token then
  redis.call('HDEL', pk, 'conn')
  redis.call('ZREM', P .. 'leases', pro)
  gone = true
end
refresh(pro)
if gone then
  holder_gone(pro)
elseif op == 'set' then
  relist_waiting(team, needs)
  for _, id in ipairs(redis.call('SMEMBERS', pk .. ':cases')) do
    local c = redis.call('HMGET', case_key(id), 'status', 'holder')
    if c[1] == 'in_progress' and c[2] == pro then
      holder_back(id)
    elseif replaced and c[1] == 'offered' and c[2] == pro then
      requeue_offered(id, pro, 'released', nil)
    end
  end
end
local h = redis.call('HMGET', pk, 'presence', 'conn')
if h[1] == 'available' and h[2] and h[2] ~= '' then
  pull_all(pro)
else
  for _, id in ipairs(redis.call('SMEMBERS', pk .. ':cases')) do
    requeue_offered(id, pro, 'released', nil)
  end
end
event('p', pro)
return redis.call('HMGET', pk, 'presence', 'cap:phone', 'cap:chat', 'cap:e_service', 'load:phone', 'load:chat', 'load:e_service', 'conn')
