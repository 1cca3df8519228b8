-- The professional finishes the case with an outcome; their capacity is freed.
-- ARGV: P, now, case_id, pro, outcome, retention_secs
local now, id, pro, outcome, retention = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local key = case_key(id)
local h = redis.call('HMGET', key, 'status', 'pro', 'channel', 'team')
if h[1] == 'completed' and h[2] == pro then return {'ok'} end
if not h[1] then return {'missing'} end
if h[1] ~= 'in_progress' or h[2] ~= pro then return {'not_yours', h[1]} end
redis.call('HSET', key, 'status', 'completed', 'outcome', outcome)
release_load(pro, id, h[3])
close_case(id, now, retention)
event('c', id, 'completed')
event('w', h[4])
return {'ok'}
