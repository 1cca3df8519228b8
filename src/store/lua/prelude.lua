-- Shared helpers, prepended to every Luotsi script. ARGV[1] is always the county key prefix
-- `lu:{county}:`; every key is built from it, so all keys of a county share one hash slot.
-- Timestamps arrive as strings from Rust and are stored as given: no arithmetic on them here
-- beyond comparisons, so that no number is ever rendered in exponent form.
local P = ARGV[1]

local function case_key(id) return P .. 'case:' .. id end
local function pro_key(pro) return P .. 'pro:' .. pro end

local function queue_keys(team, queue)
  local base = team .. ':' .. queue
  return P .. 'q:' .. base, P .. 'qd:' .. base, P .. 'qa:' .. base
end

-- A queue is three sorted sets over the same members: by priority, by deadline, by arrival.
local function enqueue(id, team, queue, score, deadline, created)
  local q, qd, qa = queue_keys(team, queue)
  redis.call('ZADD', q, score, id)
  redis.call('ZADD', qd, deadline, id)
  redis.call('ZADD', qa, created, id)
end

local function dequeue(id, team, queue)
  local q, qd, qa = queue_keys(team, queue)
  redis.call('ZREM', q, id)
  redis.call('ZREM', qd, id)
  redis.call('ZREM', qa, id)
end

local function event(...)
  redis.call('PUBLISH', P .. 'events', table.concat({...}, '|'))
end

local CHANNELS = {'phone', 'chat', 'e_service'}

-- Keeps the professional's membership of the `avail` sets true to their hash: available,
-- connected (an open Offers stream) and with capacity on the channel.
local function refresh_availability(pro)
  local h = redis.call('HMGET', pro_key(pro), 'presence', 'conn', 'team', 'cap:phone', 'cap:chat', 'cap:e_service')
  if not h[3] then return end
  local on = h[1] == 'available' and h[2] and h[2] ~= ''
  for i, ch in ipairs(CHANNELS) do
    local key = P .. 'avail:' .. h[3] .. ':' .. ch
    if on and tonumber(h[3 + i] or '0') > 0 then
      redis.call('SADD', key, pro)
    else
      redis.call('SREM', key, pro)
    end
  end
end

local function release_load(pro, id, channel)
  redis.call('SREM', pro_key(pro) .. ':cases', id)
  local left = redis.call('HINCRBY', pro_key(pro), 'load:' .. channel, -1)
  if left < 0 then redis.call('HSET', pro_key(pro), 'load:' .. channel, 0) end
end

-- Puts an offered case back in its queue at its own priority (the head, if it was the head).
-- `holder` '' accepts any holder; `due` non-nil only requeues when the offer expired by then.
local function requeue_offered(id, holder, reason, due)
  local key = case_key(id)
  local h = redis.call('HMGET', key, 'status', 'pro', 'offer_exp', 'team', 'queue', 'score', 'deadline', 'created', 'channel')
  if h[1] ~= 'offered' then return 0 end
  if holder ~= '' and h[2] ~= holder then return 0 end
  if due and tonumber(h[3]) > tonumber(due) then return 0 end
  redis.call('HSET', key, 'status', 'queued', 'pro', '', 'offer_exp', '')
  if reason == 'declined' then
    redis.call('HSET', key, 'declined', (redis.call('HGET', key, 'declined') or ',') .. h[2] .. ',')
  end
  redis.call('HINCRBY', key, 'requeues', 1)
  enqueue(id, h[4], h[5], h[6], h[7], h[8])
  redis.call('ZREM', P .. 'offers', id)
  release_load(h[2], id, h[9])
  event('c', id, 'queued')
  event('w', h[4])
  return 1
end

-- What closing a case (completed or cancelled) clears: the free text and number, the citizen's
-- open-case links that point here, and from now on everything about it expires.
local function close_case(id, now, retention)
  local key = case_key(id)
  local h = redis.call('HMGET', key, 'citizen', 'needs')
  redis.call('HSET', key, 'closed', now)
  redis.call('HDEL', key, 'text', 'callback')
  if h[1] and h[1] ~= '' then
    for need in string.gmatch(h[2] or '', '[^,]+') do
      local link = P .. 'open:' .. h[1] .. ':' .. need
      if redis.call('GET', link) == id then redis.call('DEL', link) end
    end
  end
  for _, cid in ipairs(redis.call('SMEMBERS', key .. ':contacts')) do
    redis.call('EXPIRE', P .. 'contact:' .. cid, retention)
  end
  redis.call('EXPIRE', key, retention)
  redis.call('EXPIRE', key .. ':contacts', retention)
end
