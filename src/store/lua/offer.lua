-- Reserve the best-fitting queued case for one professional: emergencies of their team first
-- (whatever their load), then the most urgent, earliest-deadline case among the channels where
-- they have free capacity. One atomic step: a case leaves its queue exactly when it is offered.
-- ARGV: P, pro, expires_at, scan_limit
local pro, expires, scan = ARGV[2], ARGV[3], tonumber(ARGV[4])
local pk = pro_key(pro)
local h = redis.call('HMGET', pk, 'presence', 'conn', 'team', 'prof',
  'cap:phone', 'cap:chat', 'cap:e_service', 'load:phone', 'load:chat', 'load:e_service')
if h[1] ~= 'available' or not h[2] or h[2] == '' then return false end
local team, prof, me = h[3], ',' .. h[4] .. ',', ',' .. pro .. ','

local function first_fit(queue)
  local ids = redis.call('ZRANGE', P .. 'q:' .. team .. ':' .. queue, 0, scan - 1, 'WITHSCORES')
  for i = 1, #ids, 2 do
    local c = redis.call('HMGET', case_key(ids[i]), 'profs', 'declined')
    if c[1] and string.find(c[1], prof, 1, true) and not (c[2] and string.find(c[2], me, 1, true)) then
      return ids[i], tonumber(ids[i + 1])
    end
  end
end

local best, best_score = first_fit('alert')
local best_queue = 'alert'
if not best then
  for i, ch in ipairs(CHANNELS) do
    if tonumber(h[7 + i] or '0') < tonumber(h[4 + i] or '0') then
      local id, s = first_fit(ch)
      if id and (not best_score or s < best_score) then
        best, best_score, best_queue = id, s, ch
      end
    end
  end
end
if not best then return false end

local key = case_key(best)
local c = redis.call('HMGET', key, 'channel', 'needs', 'urgency', 'lang', 'deadline', 'team')
dequeue(best, team, best_queue)
redis.call('HSET', key, 'status', 'offered', 'pro', pro, 'offer_exp', expires)
redis.call('ZADD', P .. 'offers', expires, best)
redis.call('SADD', pk .. ':cases', best)
redis.call('HINCRBY', pk, 'load:' .. c[1], 1)
event('c', best, 'offered')
return {best, c[1], c[2], c[3], c[4], c[5], c[6]}
