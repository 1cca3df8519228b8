-- Takes offline, for routing, every professional whose presence lease lapsed (see `lapse` in
-- the prelude). Any instance may run it; leases end by Redis's clock.
-- ARGV: P, now, ttl, limit. Returns {professionals taken offline, offers placed again}.
local pros = redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', ms(lease_now()), 'LIMIT', 0, tonumber(ARGV[4]))
local placed = 0
for _, pro in ipairs(pros) do
  placed = placed + lapse(pro)
end
return {#pros, placed}
