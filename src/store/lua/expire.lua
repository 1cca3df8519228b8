-- Return every offer that expired by `now` to its queue. Any instance may run it; a case whose
-- offer was accepted in the meantime is left alone.
-- ARGV: P, now, limit
local ids = redis.call('ZRANGEBYSCORE', P .. 'offers', '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local n = 0
for _, id in ipairs(ids) do
  local done = requeue_offered(id, '', 'expired', ARGV[2])
  if done == 0 and redis.call('HGET', case_key(id), 'status') ~= 'offered' then
    -- stale entry (case accepted or closed): drop it
    redis.call('ZREM', P .. 'offers', id)
  end
  n = n + done
end
return n
