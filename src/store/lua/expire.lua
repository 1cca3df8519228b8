-- Return every offer that expired by now to its queue (or straight to another professional),
-- open cases whose language wait ran out to every professional who fits, and place call-backs
-- whose next attempt is due.
-- Any instance may run it; a case accepted in the meantime is left alone.
-- ARGV: P, now, ttl, budget: how many due entries this call takes, all kinds together, so that
-- one call holds Redis briefly however many cases are due (the caller calls again while there
-- are more). Returns {offers returned, cases opened after a language or continuity wait, cases
-- moved by overflow, 1 when the budget ran out before the due entries did}.
local budget = tonumber(ARGV[4])
local function due(key)
  if budget <= 0 then return {} end
  local ids = redis.call('ZRANGEBYSCORE', key, '-inf', NOW, 'LIMIT', 0, budget)
  budget = budget - #ids
  return ids
end
local n, relaxed, moved = 0, 0, 0
for _, id in ipairs(due(P .. 'offers')) do
  local done = requeue_offered(id, '', 'expired', NOW)
  if done == 0 and redis.call('HGET', case_key(id), 'status') ~= 'offered' then
    redis.call('ZREM', P .. 'offers', id) -- stale entry: the case moved on
  end
  n = n + done
end
for _, id in ipairs(due(P .. 'waits')) do
  relaxed = relaxed + relax_waits(id)
end
for _, id in ipairs(due(P .. 'overflow')) do
  moved = moved + overflow_step(id)
end
for _, id in ipairs(due(P .. 'chatwait')) do
  relaxed = relaxed + offer_callback(id)
end
for _, id in ipairs(due(P .. 'retry')) do
  relaxed = relaxed + retry_call(id)
end
return {n, relaxed, moved, budget <= 0 and 1 or 0}
