-- Return every offer that expired by now to its queue (or straight to another professional), and
-- open cases whose language wait ran out to every professional who fits.
-- Any instance may run it; a case accepted in the meantime is left alone.
-- ARGV: P, now, ttl, limit. Returns {offers returned, cases opened after a language or continuity wait, cases moved by overflow}.
local ids = redis.call('ZRANGEBYSCORE', P .. 'offers', '-inf', NOW, 'LIMIT', 0, tonumber(ARGV[4]))
local n, relaxed = 0, 0
for _, id in ipairs(ids) do
  local done = requeue_offered(id, '', 'expired', NOW)
  if done == 0 and redis.call('HGET', case_key(id), 'status') ~= 'offered' then
    redis.call('ZREM', P .. 'offers', id) -- stale entry: the case moved on
  end
  n = n + done
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'waits', '-inf', NOW, 'LIMIT', 0, tonumber(ARGV[4]))) do
  relaxed = relaxed + relax_waits(id)
end
local moved = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'overflow', '-inf', NOW, 'LIMIT', 0, tonumber(ARGV[4]))) do
  moved = moved + overflow_step(id)
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'chatwait', '-inf', NOW, 'LIMIT', 0, tonumber(ARGV[4]))) do
  relaxed = relaxed + offer_callback(id)
end
return {n, relaxed, moved}
