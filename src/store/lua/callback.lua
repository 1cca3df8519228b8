-- The citizen takes the call-back offered for their unanswered chat: the case becomes a phone
-- call-back in the same team, with the same priority (it keeps its place), and is placed again.
-- ARGV: P, now, ttl, case_id, number (sealed), the data key it is sealed with
local id, number, seal = ARGV[4], ARGV[5], ARGV[6]
local key = case_key(id)
local h = redis.call('HMGET', key, 'status', 'team', 'queue', 'sub_queue', 'channel')
if not h[1] then return {'missing'} end
if h[1] ~= 'queued' or h[5] ~= 'chat' then return {'refused', h[1]} end
dequeue(id, h[2], h[3], h[4])
local queue = h[3] == 'alert' and 'alert' or 'phone'
redis.call('HSET', key, 'channel', 'phone', 'queue', queue)
redis.call('HSET', words_key(id), 'callback_number', number)
if redis.call('HSETNX', key, 'seal', seal) == 1 then redis.call('SADD', P .. 'sealed:' .. seal, id) end
add_reason(id, 'chat changed to a call-back at the citizen\'s request; same place in the queue')
event('c', id, 'callback')
place(id)
return {'ok'}
