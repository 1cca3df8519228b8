-- The professional takes the case offered to them. Accepting again is harmless.
-- Returns {'ok', what, late}: what is 'taken', 'again' or 'consulted'; late '1' when this was
-- the case's first response and after its deadline.
-- ARGV: P, now, ttl, case_id, pro, day (YYYY-MM-DD, Helsinki)
local id, pro = ARGV[4], ARGV[5]
local key = case_key(id)
local h = redis.call('HMGET', key, 'status', 'holder', 'offer_expires')
if h[1] == 'in_progress' and h[2] == pro then
  log_access(id, 'accept_again')
  return {'ok', 'again', '0'}
end
if not h[1] then return {'missing'} end
-- A colleague answering a consultation: recorded; the case stays with its holder.
local consult = redis.call('HGET', key, 'consult:' .. pro)
if h[1] == 'in_progress' and consult then
  if consult == 'requested' then
    redis.call('HSET', key, 'consult:' .. pro, 'accepted')
    add_reason(id, 'consultation accepted by ' .. pro)
    event('c', id, 'consulted')
  end
  log_access(id, 'consult_accept')
  return {'ok', 'consulted', '0'}
end
if h[1] ~= 'offered' or h[2] ~= pro then return {'not_yours', h[1]} end
if tonumber(h[3]) < tonumber(NOW) then
  requeue_offered(id, pro, 'expired', NOW)
  return {'expired'}
end
redis.call('HSET', key, 'status', 'in_progress', 'accepted', NOW)
redis.call('ZREM', P .. 'offers', id)
-- Whether a first response now misses the case's handling deadline: only after the deadline's
-- instant (a date limit lasts to the last millisecond of its day); an emergency's deadline is
-- "now", so it is counted as taken, never as late. The same rule as `deadline::missed`.
local function deadline_missed(deadline, urgency)
  return urgency ~= 'emergency' and tonumber(NOW) > tonumber(deadline)
end

-- The first response only (a hand-over's acceptance is not one) counts towards today's service
-- level per team (ARGV[6] is the Helsinki date), the statistics and the deadline-miss metric.
local late = '0'
if redis.call('HSETNX', key, 'first', NOW) == 1 then
  local d = redis.call('HMGET', key, 'team', 'deadline', 'urgency', 'created')
  local day = P .. 'day:' .. ARGV[6] .. ':' .. d[1]
  late = deadline_missed(d[2], d[3]) and '1' or '0'
  redis.call('HINCRBY', day, 'taken', 1)
  if late == '1' then redis.call('HINCRBY', day, 'late', 1) end
  redis.call('EXPIRE', day, 172800)
  stat('k', 'first', 'team', d[1], 'wait', ms(tonumber(NOW) - tonumber(d[4])), 'late', late)
end
event('c', id, 'in_progress')
log_access(id, 'accept')
return {'ok', 'taken', late}
