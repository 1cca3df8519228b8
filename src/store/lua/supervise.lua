-- A duty supervisor's action on one case, recorded on the case (a routing reason) and in the
-- county's audit stream, in the same step as the change itself.
-- ARGV: P, now, ttl, op, case_id, supervisor, reason, then by op:
--   move:    team ('' keeps), channel ('' keeps)
--   urgency: urgency, rank, score, deadline, rule, queue, sub, law, then the statutory
--            deadline counted again: statutory_deadline, statutory_rule, statutory_law ('' clears)
--   release: (nothing); an offer goes to a colleague, and so does an in-progress case whose
--            holder is disconnected (their Offers stream closed or presence lease lapsed)
-- Returns {'ok', what} or {'refused', status}.
local op, id, by, why = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local key = case_key(id)
local h = redis.call('HMGET', key, 'status', 'team', 'queue', 'sub_queue', 'channel', 'urgency', 'holder')
if not h[1] then return {'missing'} end
local status = h[1]
local what

local function audit(detail)
  -- Kept by time (400 days), never trimmed by count.
  timed_xadd(P .. 'audit', 400,
    'at', NOW, 'by', by, 'action', op, 'case', id, 'detail', detail, 'reason', why)
  add_reason(id, op .. ' by supervisor ' .. by .. ': ' .. detail .. ' (' .. why .. ')')
end

if op == 'move' and status == 'unreachable' then
  -- A supervisor sends an unreachable call-back back to the queue (to its team, or another).
  local team = ARGV[8] ~= '' and ARGV[8] or h[2]
  what = 'unreachable -> queued, team ' .. team
  redis.call('HSET', key, 'team', team, 'wide', '')
  audit(what)
  reachable_again(id, 'sent back by supervisor ' .. by)
  return {'ok', what}
elseif op == 'move' then
  if status ~= 'queued' then return {'refused', status} end
  local team = ARGV[8] ~= '' and ARGV[8] or h[2]
  local channel = ARGV[9] ~= '' and ARGV[9] or h[5]
  local queue = h[3] == 'alert' and 'alert' or channel
  what = 'team ' .. h[2] .. ' queue ' .. h[3] .. ' -> team ' .. team .. ' queue ' .. queue
  dequeue(id, h[2], h[3], h[4])
  -- A case moved on purpose starts afresh for the cross-team emergency rule's marker; its
  -- language and continuity waits still hold.
  redis.call('HSET', key, 'team', team, 'queue', queue, 'channel', channel, 'escalated', '', 'wide', '')
  audit(what)
  event('c', id, 'moved')
  place(id)
elseif op == 'urgency' then
  if status ~= 'queued' and status ~= 'offered' and status ~= 'in_progress' then
    return {'refused', status}
  end
  local urgency, rank, score, deadline, rule, queue, sub =
    ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[14]
  what = 'urgency ' .. h[6] .. ' -> ' .. urgency
  if status == 'queued' then dequeue(id, h[2], h[3], h[4]) end
  redis.call('HSET', key, 'urgency', urgency, 'urgency_rank', rank, 'score', score, 'deadline', deadline,
    'deadline_rule', rule, 'deadline_law', ARGV[15], 'statutory_deadline', ARGV[16],
    'statutory_rule', ARGV[17], 'statutory_law', ARGV[18])
  if status == 'queued' then redis.call('HSET', key, 'queue', queue, 'sub_queue', sub) end
  audit(what)
  event('c', id, 'urgency')
  if status == 'queued' then place(id) end
elseif op == 'release' and status == 'in_progress' and redis.call('HGET', key, 'holder_disconnected') then
  -- The holder's desktop went away and the supervisor judges they are not on it: the case
  -- goes back to its queue at its own place and on to a colleague (the holder, once back,
  -- may be offered it again).
  what = 'case taken back from disconnected holder ' .. h[7]
  audit(what)
  holder_back(id)
  redis.call('HSET', key, 'status', 'queued', 'holder', '')
  redis.call('HINCRBY', key, 'requeues', 1)
  release_load(h[7], id, h[5])
  place(id)
elseif op == 'release' then
  if status ~= 'offered' then return {'refused', status} end
  what = 'offer taken back from ' .. h[7]
  audit(what)
  -- As a decline: the case goes to a colleague, not back to the one who did not answer.
  requeue_offered(id, '', 'declined', nil)
else
  return redis.error_reply('unknown op ' .. op)
end
log_access(id, op)
return {'ok', what}
