-- Submit one contact: idempotent retry, join of the citizen's open case about the same need,
-- or a new case in its queue. One atomic step.
-- ARGV: P, now, contact_id, case_id, idem_key, idem_ttl, citizen, urgency_rank, classification,
--       team, queue, score, deadline, needs_csv, channel, then the case's field/value pairs.
local now, cid, id, idem, ttl = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local citizen, urank, class = ARGV[7], ARGV[8], ARGV[9]
local team, queue, score, deadline, needs_csv, channel = ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[14], ARGV[15]

local idem_key = P .. 'idem:' .. idem
local prior = redis.call('GET', idem_key)
if prior then
  return {'dup', prior, redis.call('HGET', P .. 'contact:' .. prior, 'case') or ''}
end

local primary = string.match(needs_csv, '[^,]+')
if citizen ~= '' then
  local open = redis.call('GET', P .. 'open:' .. citizen .. ':' .. primary)
  if open then
    local h = redis.call('HMGET', case_key(open), 'status', 'urank')
    local is_open = h[1] == 'queued' or h[1] == 'offered' or h[1] == 'in_progress'
    -- A more urgent contact never hides inside a less urgent case: it opens its own.
    if is_open and tonumber(urank) >= tonumber(h[2]) then
      redis.call('SADD', case_key(open) .. ':contacts', cid)
      redis.call('HINCRBY', case_key(open), 'active', 1)
      redis.call('HSET', P .. 'contact:' .. cid, 'case', open, 'class', class, 'joined', '1', 'created', now)
      redis.call('SET', idem_key, cid, 'EX', ttl)
      event('c', open, 'joined')
      return {'joined', cid, open}
    end
  end
end

local key = case_key(id)
redis.call('HSET', key, unpack(ARGV, 16))
redis.call('SADD', key .. ':contacts', cid)
enqueue(id, team, queue, score, deadline, now)
redis.call('HSET', P .. 'contact:' .. cid, 'case', id, 'class', class, 'joined', '0', 'created', now)
redis.call('SET', idem_key, cid, 'EX', ttl)
if citizen ~= '' then
  for need in string.gmatch(needs_csv, '[^,]+') do
    redis.call('SET', P .. 'open:' .. citizen .. ':' .. need, id)
  end
end
event('c', id, 'queued')
event('w', team)
local q = queue_keys(team, queue)
return {'new', cid, id, redis.call('ZRANK', q, id), redis.call('SCARD', P .. 'avail:' .. team .. ':' .. channel)}
