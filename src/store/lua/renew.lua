-- The instance holding these professionals' Offers streams renews their presence leases.
-- ARGV: P, now, ttl, lease (ms), then pairs of professional and connection token.
-- Returns, per pair: 'ok' (renewed), 'replaced' (a newer stream holds the connection: end this
-- one) or 'lapsed' (the lease ran out and the professional went offline: connect again).
local out = {}
for i = 5, #ARGV, 2 do
  local pro, token = ARGV[i], ARGV[i + 1]
  local conn = redis.call('HGET', pro_key(pro), 'conn')
  if conn == token then
    grant_lease(pro, ARGV[4])
    out[#out + 1] = 'ok'
  elseif conn and conn ~= '' then
    out[#out + 1] = 'replaced'
  else
    out[#out + 1] = 'lapsed'
  end
end
return out
