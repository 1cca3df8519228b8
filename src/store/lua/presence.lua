-- Set a professional's presence, capacities and connection in one step. A professional who is
-- no longer available and connected gets their pending offers taken back.
-- ARGV: P, pro, team, profession, presence ('' keeps), cap_phone, cap_chat, cap_e_service
--       ('' keeps), conn_op ('' | 'set' | 'clear'), conn_token
local pro, team, prof, presence = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local op, token = ARGV[9], ARGV[10]
local pk = pro_key(pro)
redis.call('HSET', pk, 'team', team, 'prof', prof)
if presence ~= '' then redis.call('HSET', pk, 'presence', presence) end
for i, ch in ipairs(CHANNELS) do
  if ARGV[5 + i] ~= '' then redis.call('HSET', pk, 'cap:' .. ch, ARGV[5 + i]) end
end
if op == 'set' then
  redis.call('HSET', pk, 'conn', token)
elseif op == 'clear' and redis.call('HGET', pk, 'conn') == token then
  redis.call('HDEL', pk, 'conn')
end
local h = redis.call('HMGET', pk, 'presence', 'conn')
local reachable = h[1] == 'available' and h[2] and h[2] ~= ''
if not reachable then
  for _, id in ipairs(redis.call('SMEMBERS', pk .. ':cases')) do
    requeue_offered(id, pro, 'released', nil)
  end
end
refresh_availability(pro)
if reachable then event('w', team) end
return redis.call('HMGET', pk, 'presence', 'cap:phone', 'cap:chat', 'cap:e_service', 'load:phone', 'load:chat', 'load:e_service', 'conn')
