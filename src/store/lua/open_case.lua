-- Read only: the team and holder of the citizen's newest open case, for continuity (one round
-- trip instead of reading the set and then the case). Case ids are time-ordered (UUIDv7).
-- ARGV: P, now, ttl, citizen
local ids = redis.call('SMEMBERS', P .. 'cit:' .. ARGV[4])
if #ids == 0 then return {} end
table.sort(ids)
return redis.call('HMGET', case_key(ids[#ids]), 'team', 'holder')
