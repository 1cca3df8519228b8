-- The professional takes the case offered to them. Accepting again is harmless.
-- Returns {'ok', what, late, case fields (field, value, …), contact ids}: what is 'taken',
-- 'again' or 'consulted'; late '1' when this was the case's first response and after its
-- deadline; the case as it is afterwards, so that the caller need not read it back.
-- ARGV: P, now, ttl, case_id, pro, day (YYYY-MM-DD, Helsinki)
local id, pro = ARGV[4], ARGV[5]
local key = case_key(id)
local case = whole_case(id)
if not case then return {'missing'} end
local function answer(what, late)
  return {'ok', what, late, flat(case), contacts_of(id, case)}
end
if case.status == 'in_progress' and case.holder == pro then
  log_access(id, 'accept_again', case.citizen or '')
  return answer('again', '0')
end
-- A colleague answering a consultation: recorded; the case stays with its holder.
local consult = case['consult:' .. pro]
if case.status == 'in_progress' and consult then
  if consult == 'requested' then
    redis.call('HSET', key, 'consult:' .. pro, 'accepted')
    add_reason(id, 'consultation accepted by ' .. pro)
    event('c', id, 'consulted')
    case = whole_case(id)
  end
  log_access(id, 'consult_accept', case.citizen or '')
  return answer('consulted', '0')
end
if case.status ~= 'offered' or case.holder ~= pro then return {'not_yours', case.status} end
if tonumber(case.offer_expires) < tonumber(NOW) then
  requeue_offered(id, pro, 'expired', NOW)
  return {'expired'}
end
-- Whether a first response now misses the case's handling deadline: only after the deadline's
-- instant (a date limit lasts to the last millisecond of its day); an emergency's deadline is
-- "now", so it is counted as taken, never as late. The same rule as `deadline::missed`.
local function deadline_missed(deadline, urgency)
  return urgency ~= 'emergency' and tonumber(NOW) > tonumber(deadline)
end

-- The first response only (a hand-over's acceptance is not one) counts towards today's service
-- level per team (ARGV[6] is the Helsinki date), the statistics and the deadline-miss metric.
local late = '0'
local set = {'status', 'in_progress', 'accepted', NOW}
if not case.first then
  set[#set + 1] = 'first'
  set[#set + 1] = NOW
end
redis.call('HSET', key, unpack(set))
for i = 1, #set, 2 do case[set[i]] = set[i + 1] end
redis.call('ZREM', P .. 'offers', id)
if set[5] then
  local day = P .. 'day:' .. ARGV[6] .. ':' .. case.team
  late = deadline_missed(case.deadline, case.urgency) and '1' or '0'
  -- The day's counts expire after two days, from the day's first.
  if redis.call('HINCRBY', day, 'taken', 1) == 1 then redis.call('EXPIRE', day, 172800) end
  if late == '1' then redis.call('HINCRBY', day, 'late', 1) end
  -- Continuity, when the case had an own professional: kept, or why not (GetStats).
  local own = {}
  if case.own_professional and case.own_professional ~= '' then
    local why = 'wait_ended'
    if case.own_professional == pro then
      why = 'kept'
    elseif case.own_professional_until == '0' then
      why = 'overflow'
    end
    local until_ms = tonumber(case.own_professional_until) or tonumber(case.created)
    own = {'own', why, 'own_wait', ms(math.max(0, until_ms - tonumber(case.created)))}
  end
  -- Language fulfilment: the citizen's language, and whether the taker speaks it (else an
  -- interpreter is needed).
  stat('k', 'first', 'team', case.team, 'wait', ms(tonumber(NOW) - tonumber(case.created)), 'late', late,
    'lang', case.language or '', 'interp', case.interpreter_needed or '0', 'ch', case.channel,
    'dlaw', case.deadline_law or '', unpack(own))
end
event('c', id, 'in_progress')
log_access(id, 'accept', case.citizen or '')
return answer('taken', late)
