-- A professional records a call-back attempt on the phone case they hold.
-- ARGV: P, now, ttl, case_id, pro, outcome ('answered' | 'no_answer' | 'busy' | 'wrong_number'),
--       attempts allowed, spacing after each failed attempt in ms (csv), access entry (last).
-- Answered: recorded, the case stays with them. No answer or busy with attempts left: their
-- slot is freed and the case waits, keeping its deadline and priority, listed for supervisors
-- but offered to nobody until the spacing has passed (`retry`, placed again by the reaper).
-- Wrong number, or the last attempt failed: the case is `unreachable` — out of every queue,
-- listed for supervisors (`unreachable`), never dropped — and one entry on the outbound stream
-- `notify` asks the county's SMS gateway to tell the citizen to contact again; a re-contact
-- joins the case and queues it again.
-- Returns {'answered'|'retry'|'unreachable', failed attempts so far, next attempt at ('' if
-- none)}, {'not_yours', status}, {'not_phone', channel} or {'missing'}.
local id, pro, outcome, allowed, spacing = ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7]), csv(ARGV[8])
local key = case_key(id)
local c = routing_of(id)
if not c.status then return {'missing'} end
if c.status ~= 'in_progress' or c.holder ~= pro then return {'not_yours', c.status} end
if c.channel ~= 'phone' then return {'not_phone', c.channel} end
log_access(id, 'call_attempt', c.citizen or '')
stat('k', 'attempt', 'team', c.team, 'outcome', outcome, 'ch', c.channel)
local failed = tonumber(redis.call('HGET', key, 'call_attempts') or '0')
if outcome == 'answered' then
  redis.call('HSET', key, 'call_answered', NOW)
  add_reason(id, 'call-back answered (' .. pro .. ')')
  event('c', id, 'call_attempt')
  return {'answered', tostring(failed), ''}
end
failed = failed + 1
redis.call('HSET', key, 'call_attempts', failed, 'last_attempt', NOW, 'holder', '')
local p = release_load(pro, id, c.channel)
if outcome == 'wrong_number' or failed >= allowed then
  local why = outcome == 'wrong_number' and 'wrong_number' or 'attempts_exhausted'
  redis.call('HSET', key, 'status', 'unreachable', 'unreachable_since', NOW, 'unreachable_why', why)
  redis.call('ZADD', P .. 'unreachable', NOW, id)
  add_reason(id, 'call-back: unreachable after ' .. failed .. ' attempt(s) (' .. why .. ')')
  -- For the county's SMS gateway: which case, why; the number to send to. Kept two days.
  timed_xadd(P .. 'notify', 2, 'at', NOW, 'case', id, 'team', c.team, 'reason', why,
    'attempts', failed, 'number', word(id, 'callback_number') or '', 'language', c.language or '')
  stat('k', 'unreachable', 'team', c.team, 'reason', why, 'ch', c.channel)
  event('c', id, 'unreachable')
  pull(pro, p)
  return {'unreachable', tostring(failed), ''}
end
local at = tonumber(NOW) + (tonumber(spacing[failed]) or tonumber(spacing[#spacing]) or 0)
redis.call('HSET', key, 'status', 'queued', 'retry_at', ms(at))
redis.call('ZADD', P .. 'retry', at, id)
-- Listed for supervisors (and counted on the board) while it waits; in no sub-queue yet.
local qa, qp = index_keys(c.team, c.queue)
redis.call('ZADD', qa, c.created, id)
redis.call('ZADD', qp, c.score, id)
add_reason(id, 'call-back: attempt ' .. failed .. ' ' .. outcome .. '; next attempt from ' .. ms(at))
event('c', id, 'queued')
pull(pro, p)
return {'retry', tostring(failed), ms(at)}
