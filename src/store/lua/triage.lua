-- A professional's first look at a case: the provisional classification confirmed, or corrected
-- and the case re-routed at once, in one step with the record of it (the `triage` stream and a
-- routing reason). A correction takes the urgency path of `supervise.lua`: the case leaves its
-- queue, takes the new deadline and place and is placed again (an emergency by the alert rule);
-- an offer to someone without a profession of the new need is taken back and placed again.
-- ARGV: P, now, ttl, case_id, by, reason_code, direction, needs_changed, changed,
--       expected_urgency, expected_needs, expected_team (what the decision was made on),
--       needs, professions, team, urgency, rank, score, deadline, rule, queue, sub, law,
--       statutory_deadline, statutory_rule, statutory_law, reason lines ('\n'-separated)
-- Returns {'ok'}, {'missing'}, {'refused', status}, {'confirmed', at} or {'changed'}.
local id, by, why, direction, needs_changed, changed =
  ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9] == '1'
local key = case_key(id)
local h = redis.call('HMGET', key, 'status', 'team', 'queue', 'sub_queue', 'channel', 'urgency',
  'needs', 'created', 'first_look_due', 'triage_confirmed', 'holder')
if not h[1] then return {'missing'} end
local status = h[1]
if status ~= 'queued' and status ~= 'offered' and status ~= 'in_progress' then
  return {'refused', status}
end
if h[10] and h[10] ~= '' then return {'confirmed', h[10]} end
-- Decided on what the caller read: a supervisor's change in between makes the caller look again.
if h[6] ~= ARGV[10] or h[7] ~= ARGV[11] or h[2] ~= ARGV[12] then return {'changed'} end

local needs, professions, team = ARGV[13], ARGV[14], ARGV[15]
local urgency, rank, score, deadline, rule, queue, sub =
  ARGV[16], ARGV[17], ARGV[18], ARGV[19], ARGV[20], ARGV[21], ARGV[22]

redis.call('ZREM', P .. 'firstlook', id)
redis.call('ZREM', P .. 'firstlook_due', id)
redis.call('HSET', key, 'triage_confirmed', NOW, 'triage_confirmed_by', by)
local late = (tonumber(h[9]) and tonumber(h[9]) < tonumber(NOW)) and '1' or '0'
timed_xadd(P .. 'triage', 400, 'at', NOW, 'case', id, 'team', changed and team or h[2], 'channel', h[5],
  'needs_from', h[7], 'needs_to', changed and needs or h[7],
  'urgency_from', h[6], 'urgency_to', changed and urgency or h[6],
  'direction', direction, 'needs_changed', needs_changed, 'reason', why, 'by', by,
  'wait', ms(tonumber(NOW) - tonumber(h[8])), 'late', late)

log_access(id, changed and 'triage_correct' or 'triage_confirm')
if not changed then
  add_reason(id, 'triage confirmed by ' .. by)
  event('c', id, 'triage')
  return {'ok'}
end

add_reason(id, 'triage corrected by ' .. by .. ': urgency ' .. h[6] .. ' -> ' .. urgency ..
  ', needs ' .. h[7] .. ' -> ' .. needs .. ' (' .. why .. ')')
for line in string.gmatch(ARGV[27], '[^\n]+') do add_reason(id, line) end
if status == 'queued' then dequeue(id, h[2], h[3], h[4]) end
redis.call('HSET', key, 'needs', needs, 'professions', professions, 'urgency', urgency,
  'urgency_rank', rank, 'score', score, 'deadline', deadline, 'deadline_rule', rule,
  'deadline_law', ARGV[23], 'statutory_deadline', ARGV[24], 'statutory_rule', ARGV[25],
  'statutory_law', ARGV[26])
if status ~= 'in_progress' then
  -- Moved on purpose: the cross-team emergency marker starts afresh, as after a move.
  redis.call('HSET', key, 'team', team, 'queue', queue, 'sub_queue', sub, 'escalated', '', 'wide', '')
end
event('c', id, 'urgency')
if status == 'queued' then
  place(id)
elseif status == 'offered' then
  local prof = redis.call('HGET', pro_key(h[11]), 'prof') or ''
  if not string.find(professions, ',' .. prof .. ',', 1, true) or team ~= h[2] then
    requeue_offered(id, '', 'retriage', nil)
  end
end
return {'ok'}
