-- Connections with no lease — recorded by a version of Luotsi before presence leases, whose
-- instance may be long gone — get one now, so that they lapse unless an instance renews them.
-- ARGV: P, now, ttl, lease (ms), then the county's professional ids. Returns how many.
local n = 0
for i = 5, #ARGV do
  local pro = ARGV[i]
  local conn = redis.call('HGET', pro_key(pro), 'conn')
  if conn and conn ~= '' and not redis.call('ZSCORE', P .. 'leases', pro) then
    grant_lease(pro, ARGV[4])
    n = n + 1
  end
end
return n
