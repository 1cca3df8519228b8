-- Shared helpers, prepended to every Luotsi script.
-- ARGV[1] is the county key prefix `lu:{county}:`; every key is built from it, so all keys of a
-- county share one hash slot. ARGV[2] is now (ms), ARGV[3] the offer time-out (ms).
--
-- Matching happens inside the script that changes state: a case entering a queue is offered at
-- once to the least-loaded free professional who fits (push), and a professional whose capacity
-- frees takes the best queued case that fits them (pull). Offers are announced on the event
-- channel as `o|<pro>|<case>|...`; the instance holding that professional's stream delivers it.
local P = ARGV[1]
local NOW = ARGV[2]
local OFFER_TTL = tonumber(ARGV[3])
local SCAN = 16 -- how far past the head to look for a case or professional that fits
local PAGE = 4  -- read that far in pages: the head almost always fits

-- Calls `visit(member, score)` over the first SCAN members of a sorted set, a page at a time,
-- until it returns true.
local function scan_zset(key, visit)
  for start = 0, SCAN - 1, PAGE do
    local page = redis.call('ZRANGE', key, start, start + PAGE - 1, 'WITHSCORES')
    for i = 1, #page, 2 do
      if visit(page[i], tonumber(page[i + 1])) then return end
    end
    if #page < 2 * PAGE then return end
  end
end
local CHANNELS = {'phone', 'chat', 'e_service'}

local function case_key(id) return P .. 'case:' .. id end

-- A case is two hashes: `case:<id>` holds what routing reads, every value short so that Redis
-- keeps it compact (a listpack); `case:<id>:words` the long values, listed here.
local function words_key(id) return P .. 'case:' .. id .. ':words' end
local WORDS = {text = true, callback_number = true, classification = true, reasons = true,
  linked = true, access_hashes = true}

-- One of the case's long values. A case written before the words had their own hash keeps
-- them in the case hash; they are read from there until written again.
local function word(id, name)
  return redis.call('HGET', words_key(id), name) or redis.call('HGET', case_key(id), name)
end

-- The whole case (both hashes) as a table by field name, or nil when there is none. `legacy`
-- is set when the case hash still holds long values (written before they had their own).
local function whole_case(id)
  local flat = redis.call('HGETALL', case_key(id))
  if #flat == 0 then return nil end
  local c = {}
  for i = 1, #flat, 2 do
    c[flat[i]] = flat[i + 1]
    if WORDS[flat[i]] then c.legacy = true end
  end
  local words = redis.call('HGETALL', words_key(id))
  for i = 1, #words, 2 do c[words[i]] = words[i + 1] end
  return c
end

-- The case's contact ids: the first is a field of the case; contacts joined later are in
-- `case:<id>:contacts` (`joins` counts them).
local function contacts_of(id, c)
  local ids = {}
  if c.contact then ids[1] = c.contact end
  if c.joins or not c.contact then
    for _, cid in ipairs(redis.call('SMEMBERS', case_key(id) .. ':contacts')) do
      if cid ~= c.contact then ids[#ids + 1] = cid end
    end
  end
  return ids
end

-- A case table as a script answers it: field, value, field, value…
local function flat(c)
  local out = {}
  for k, v in pairs(c) do
    if type(v) == 'string' then
      out[#out + 1] = k
      out[#out + 1] = v
    end
  end
  return out
end
local function pro_key(pro) return P .. 'pro:' .. pro end
local function ms(x) return string.format('%.0f', x) end

-- Sharded pub/sub: on a cluster the message stays on the shard that owns the county's slot.
local function event(...)
  redis.call('SPUBLISH', P .. 'events', table.concat({...}, '|'))
end

local function csv(s)
  local t = {}
  for v in string.gmatch(s or '', '[^,]+') do t[#t + 1] = v end
  return t
end

-- The case fields routing reads, in one HMGET: a table by name (absent fields are nil). Scripts
-- that have just written a case pass the values they wrote instead of reading them back.
local ROUTING = {'status', 'team', 'queue', 'sub_queue', 'score', 'deadline', 'created',
  'language_wait_until', 'own_professional_until', 'channel', 'callback_offered', 'overflow_at',
  'professions', 'declined', 'language', 'own_professional', 'needs', 'urgency', 'escalated',
  'holder', 'citizen', 'wide', 'retry_at'}
local function routing_of(id)
  local h = redis.call('HMGET', case_key(id), unpack(ROUTING))
  local c = {}
  for i, name in ipairs(ROUTING) do
    if h[i] then c[name] = h[i] end
  end
  return c
end

-- Priority sub-queue of a case: per team, channel (or alert) and primary need.
local function sub_queue(team, queue, sub) return P .. 'q:' .. team .. ':' .. queue .. ':' .. sub end

-- Queue-level indexes (all needs) by deadline, by arrival and by priority, for supervisors.
-- (By deadline is read from `qp`: within an urgency class its score is the deadline.)
local function index_keys(team, queue)
  local base = team .. ':' .. queue
  return P .. 'qa:' .. base, P .. 'qp:' .. base
end

-- The next end of a wait (language, continuity) still ahead, or nil.
local function next_wait(...)
  local nxt
  for _, t in ipairs({...}) do
    local v = tonumber(t)
    if v and v > tonumber(NOW) and (not nxt or v < nxt) then nxt = v end
  end
  return nxt
end

-- Puts case `id` in its queue, the one way a case enters one: its sub-queue and indexes;
-- emergencies also in `alerts`, which every professional's pull reads first, whatever their
-- team; and the timers the reaper keeps for a waiting case — the end of its language or
-- continuity wait (`waits`), its next overflow step (`overflow`), a chat's answer limit
-- (`chatwait`). `dequeue` takes all of it away again.
-- The team's sub-queues that may hold waiting cases (`waiting:<team>`, members
-- `<queue>:<need>`): a pull reads only those. `enqueue` adds; the pull that finds one empty
-- takes it out.
local function waiting_key(team) return P .. 'waiting:' .. team end

-- Lists again the sub-queues of `needs` in the team that hold cases: cases queued by a version
-- before `waiting:<team>` existed are pulled too. Run when a professional connects.
local function relist_waiting(team, needs)
  for _, ch in ipairs(CHANNELS) do
    for _, need in ipairs(csv(needs)) do
      if redis.call('ZCARD', sub_queue(team, ch, need)) > 0 then
        redis.call('SADD', waiting_key(team), ch .. ':' .. need)
      end
    end
  end
end

-- Overflow widens: a case whose overflow step came is listed in the queues of its own team and
-- of every team in its `wide` list, and any of them may take it (`team` stays the first team).
local function listed_teams(team, wide)
  local teams = {team}
  for _, t in ipairs(csv(wide)) do
    if t ~= team then teams[#teams + 1] = t end
  end
  return teams
end

local function enqueue(id, c)
  c = c or routing_of(id)
  local queue, score = c.queue, c.score
  for _, team in ipairs(listed_teams(c.team, queue ~= 'alert' and c.wide)) do
    local qa, qp = index_keys(team, queue)
    redis.call('ZADD', sub_queue(team, queue, c.sub_queue), score, id)
    redis.call('ZADD', qa, c.created, id)
    redis.call('ZADD', qp, score, id)
    if queue ~= 'alert' then redis.call('SADD', waiting_key(team), queue .. ':' .. c.sub_queue) end
  end
  if queue == 'alert' then
    redis.call('ZADD', P .. 'alerts', score, id)
  else
    local nxt = next_wait(c.language_wait_until, c.own_professional_until)
    if nxt then redis.call('ZADD', P .. 'waits', nxt, id) end
    local step = csv(c.overflow_at)[1]
    if step then redis.call('ZADD', P .. 'overflow', step, id) end
    if c.channel == 'chat' and not c.callback_offered then redis.call('ZADD', P .. 'chatwait', c.deadline, id) end
  end
  event('c', id, 'queued')
end

-- Takes the case out of its queue. With its routing fields `c` only the timers it can be in
-- are touched; without them, all.
local function dequeue(id, team, queue, sub, c)
  local wide
  if queue ~= 'alert' then
    if not c or c.language_wait_until or c.own_professional_until then redis.call('ZREM', P .. 'waits', id) end
    if not c or (c.overflow_at and c.overflow_at ~= '') then redis.call('ZREM', P .. 'overflow', id) end
    if not c or c.channel == 'chat' then redis.call('ZREM', P .. 'chatwait', id) end
    if not c or (c.retry_at and c.retry_at ~= '') then redis.call('ZREM', P .. 'retry', id) end
    if c then wide = c.wide else wide = redis.call('HGET', case_key(id), 'wide') end
  end
  for _, t in ipairs(listed_teams(team, wide)) do
    local qa, qp = index_keys(t, queue)
    redis.call('ZREM', sub_queue(t, queue, sub), id)
    redis.call('ZREM', qa, id)
    redis.call('ZREM', qp, id)
  end
  if queue == 'alert' then redis.call('ZREM', P .. 'alerts', id) end
end

-- Room for one more case on channel `ch`: a free slot, unless policy keeps e-service work from
-- someone who is on a call (`es_call` '0' and a call in progress).
local function has_room(ch, cap, load, es_call, phone_load)
  if tonumber(load or '0') >= tonumber(cap or '0') then return false end
  return not (ch == 'e_service' and es_call == '0' and tonumber(phone_load or '0') > 0)
end

-- Keeps the professional's set memberships true to their hash:
--   on:<team>:<prof>            available and connected (takes emergencies whatever the load)
--   avail:<team>:<ch>           ... and has capacity on the channel (for estimates, supervisors)
--   free:<team>:<ch>:<prof>     ... and has a free slot on it, scored by load (least loaded first)
local function refresh(pro)
  local pk = pro_key(pro)
  local h = redis.call('HMGET', pk, 'presence', 'conn', 'team', 'prof',
    'cap:phone', 'cap:chat', 'cap:e_service', 'load:phone', 'load:chat', 'load:e_service', 'es_call')
  if not h[3] then return end
  local team, prof = h[3], h[4]
  local on = h[1] == 'available' and h[2] ~= false and h[2] ~= ''
  if on then redis.call('SADD', P .. 'on:' .. team .. ':' .. prof, pro)
  else redis.call('SREM', P .. 'on:' .. team .. ':' .. prof, pro) end
  for i, ch in ipairs(CHANNELS) do
    local cap, load = tonumber(h[4 + i] or '0'), tonumber(h[7 + i] or '0')
    local avail = P .. 'avail:' .. team .. ':' .. ch
    local free = P .. 'free:' .. team .. ':' .. ch .. ':' .. prof
    if on and cap > 0 then redis.call('SADD', avail, pro) else redis.call('SREM', avail, pro) end
    if on and has_room(ch, cap, load, h[11], h[8]) then redis.call('ZADD', free, load, pro) else redis.call('ZREM', free, pro) end
  end
end

-- The professional's fields routing reads, in one HMGET, as a table by name.
local PRO = {'presence', 'conn', 'team', 'prof', 'needs', 'langs', 'es_call',
  'cap:phone', 'cap:chat', 'cap:e_service', 'load:phone', 'load:chat', 'load:e_service'}
local function pro_of(pro)
  local h = redis.call('HMGET', pro_key(pro), unpack(PRO))
  local p = {}
  for i, name in ipairs(PRO) do
    if h[i] then p[name] = h[i] end
  end
  return p
end

-- After a change of load on channel `ch`: the one `free` membership it can change (and
-- e-service's, which a call in progress may close). `p` holds the professional's fields with
-- the new load.
local function refresh_load(pro, p, ch)
  if not p.team then return end
  local on = p.presence == 'available' and p.conn ~= nil and p.conn ~= ''
  local function one(c)
    local free = P .. 'free:' .. p.team .. ':' .. c .. ':' .. p.prof
    local load = p['load:' .. c] or '0'
    if on and has_room(c, p['cap:' .. c], load, p.es_call, p['load:phone']) then
      redis.call('ZADD', free, load, pro)
    else
      redis.call('ZREM', free, pro)
    end
  end
  one(ch)
  if ch == 'phone' and p.es_call == '0' then one('e_service') end
end

local function declined_by(declined, pro)
  return declined and string.find(declined, ',' .. pro .. ',', 1, true)
end

-- Language rights: until `language_wait_until` only a professional who speaks the case's language may
-- take it; after that anyone may, and the case is marked as needing an interpreter.
local function language_ok(langs, lang, lang_until)
  if not lang or lang == '' then return true end
  if langs and string.find(langs, ',' .. lang .. ',', 1, true) then return true end
  return (tonumber(lang_until) or 0) <= tonumber(NOW)
end

-- Continuity: until `own_professional_until` only the citizen's own professional may take the case.
local function continuity_ok(pro, own_pro, own_until)
  if not own_pro or own_pro == '' or own_pro == pro then return true end
  return (tonumber(own_until) or 0) <= tonumber(NOW)
end

-- The waits a normal case keeps, for professional `pro` who speaks `langs`.
local function waits_allow(pro, langs, lang, lang_until, own_pro, own_until)
  return language_ok(langs, lang, lang_until) and continuity_ok(pro, own_pro, own_until)
end

-- Reserve case `id` (already out of any queue) for `pro`, and announce the offer.
-- `c` holds the case's routing fields when the caller has them; `p` the professional's.
local function reserve(id, pro, c, p)
  local key = case_key(id)
  c = c or routing_of(id)
  p = p or pro_of(pro)
  local pro_team = p.team
  if c.queue == 'alert' and pro_team and pro_team ~= c.team and c.escalated ~= pro_team then
    redis.call('HSET', key, 'escalated', pro_team)
    redis.call('HSET', words_key(id), 'reasons',
      (word(id, 'reasons') or '') .. '\nemergency offered to team ' .. pro_team .. ': no one of team ' .. c.team .. ' free')
  end
  local expires = ms(tonumber(NOW) + OFFER_TTL)
  local langs = p.langs or ''
  local interpreter = (c.language and c.language ~= '' and not string.find(langs, ',' .. c.language .. ',', 1, true)) and '1' or '0'
  redis.call('HSET', key, 'status', 'offered', 'holder', pro, 'offer_expires', expires, 'interpreter_needed', interpreter)
  redis.call('ZADD', P .. 'offers', expires, id)
  redis.call('SADD', pro_key(pro) .. ':cases', id)
  p['load:' .. c.channel] = tostring(redis.call('HINCRBY', pro_key(pro), 'load:' .. c.channel, 1))
  refresh_load(pro, p, c.channel)
  event('c', id, 'offered')
  -- Addressed to the professional's Offers stream of now: a stream it replaced never sends it.
  event('o', pro, id, expires, c.channel, c.needs, c.urgency, c.language or '', c.deadline, c.team, interpreter, '', p.conn or '')
end

-- Push: the least-loaded free professional who fits case `id`, or nil.
-- `c` holds the case's routing fields. `avail` (the professionals available on its channel in
-- its team, when the caller counted them) 0 says nobody is free without looking.
local function find_professional(c, avail)
  local best, best_load, best_p
  if c.queue == 'alert' then
    -- An emergency goes to anyone connected with the profession, busy or not: its own team
    -- first, then any team of the county. It never waits while a clinician is connected.
    local teams = {c.team}
    for _, t in ipairs(redis.call('SMEMBERS', P .. 'teams')) do
      if t ~= c.team then teams[#teams + 1] = t end
    end
    for _, team in ipairs(teams) do
      for _, prof in ipairs(csv(c.professions)) do
        for _, pro in ipairs(redis.call('SMEMBERS', P .. 'on:' .. team .. ':' .. prof)) do
          if not declined_by(c.declined, pro) then return pro end
        end
      end
    end
    return nil
  end
  if avail == 0 and not c.wide then return nil end
  -- The least loaded of the case's own team, else of the teams overflow widened it to.
  for _, team in ipairs(listed_teams(c.team, c.wide)) do
    for _, prof in ipairs(csv(c.professions)) do
      scan_zset(P .. 'free:' .. team .. ':' .. c.channel .. ':' .. prof, function(pro, load)
        if best_load and load >= best_load then return true end
        if declined_by(c.declined, pro) then return false end
        local p = pro_of(pro)
        if waits_allow(pro, p.langs, c.language, c.language_wait_until, c.own_professional, c.own_professional_until) then
          best, best_load, best_p = pro, load, p
          return true
        end
      end)
    end
    if best then break end
  end
  return best, best_p
end

-- Offer case `id` to a free professional now, or put it in its queue. Returns the professional.
-- `c` holds its routing fields when the caller has them.
local function place(id, c, avail)
  c = c or routing_of(id)
  local pro, p = find_professional(c, avail)
  if pro then
    reserve(id, pro, c, p)
    return pro
  end
  enqueue(id, c)
  return nil
end

-- A queued case whose language or continuity wait ran out: offer it to anyone who now fits,
-- or keep it waiting for the next wait's end.
local function relax_waits(id)
  redis.call('ZREM', P .. 'waits', id)
  local c = routing_of(id)
  if c.status ~= 'queued' then return 0 end
  local pro, p = find_professional(c)
  if not pro then
    local nxt = next_wait(c.language_wait_until, c.own_professional_until)
    if nxt then redis.call('ZADD', P .. 'waits', nxt, id) end
    return 0
  end
  dequeue(id, c.team, c.queue, c.sub_queue, c)
  reserve(id, pro, c, p)
  return 1
end

-- Pull: the best queued case for `pro` (emergencies anywhere in the county first, then the most urgent,
-- earliest deadline among the channels where they have a free slot), reserved for them.
-- `p` holds the professional's fields when the caller has them.
local function pull(pro, p)
  p = p or pro_of(pro)
  if p.presence ~= 'available' or not p.conn or p.conn == '' then return nil end
  local team, prof = p.team, ',' .. p.prof .. ','
  local best, best_score, best_c
  -- Reads a sub-queue's head; says whether it held anything.
  local function consider(key, emergency)
    local seen = false
    scan_zset(key, function(id, s)
      seen = true
      if best_score and s >= best_score then return true end
      local c = routing_of(id)
      local fits = emergency or waits_allow(pro, p.langs, c.language, c.language_wait_until, c.own_professional, c.own_professional_until)
      if string.find(c.professions or '', prof, 1, true) and not declined_by(c.declined, pro) and fits then
        best, best_score, best_c = id, s, c
        return true
      end
    end)
    return seen
  end
  consider(P .. 'alerts', true)
  if not best then
    local waiting = {}
    for _, sq in ipairs(redis.call('SMEMBERS', waiting_key(team))) do waiting[sq] = true end
    for _, ch in ipairs(CHANNELS) do
      if has_room(ch, p['cap:' .. ch], p['load:' .. ch], p.es_call, p['load:phone']) then
        for _, need in ipairs(csv(p.needs)) do
          local sq = ch .. ':' .. need
          if waiting[sq] and not consider(sub_queue(team, ch, need), false) then
            redis.call('SREM', waiting_key(team), sq)
          end
        end
      end
    end
  end
  if not best then return nil end
  dequeue(best, best_c.team, best_c.queue, best_c.sub_queue, best_c)
  reserve(best, pro, best_c, p)
  return best
end

-- Fill every free slot the professional has.
local function pull_all(pro)
  local n = 0
  while n < 200 and pull(pro) do n = n + 1 end
  return n
end

-- Frees the professional's slot; returns their fields with the new load, for the pull after.
local function release_load(pro, id, channel)
  redis.call('SREM', pro_key(pro) .. ':cases', id)
  local left = redis.call('HINCRBY', pro_key(pro), 'load:' .. channel, -1)
  if left < 0 then
    redis.call('HSET', pro_key(pro), 'load:' .. channel, 0)
    left = 0
  end
  local p = pro_of(pro)
  p['load:' .. channel] = tostring(left)
  refresh_load(pro, p, channel)
  return p
end

-- Takes an offered case back from its holder and places it again (at its own priority, so at
-- the head if it was the head). `holder` '' accepts any holder; `due` non-nil only acts when
-- the offer has expired by then. The holder, whose slot is now free, pulls again.
local function requeue_offered(id, holder, reason, due)
  local key = case_key(id)
  local h = redis.call('HMGET', key, 'status', 'holder', 'offer_expires', 'channel')
  if h[1] ~= 'offered' then return 0 end
  if holder ~= '' and h[2] ~= holder then return 0 end
  if due and tonumber(h[3]) > tonumber(due) then return 0 end
  redis.call('HSET', key, 'status', 'queued', 'holder', '', 'offer_expires', '')
  if reason == 'declined' then
    redis.call('HSET', key, 'declined', (redis.call('HGET', key, 'declined') or ',') .. h[2] .. ',')
  end
  redis.call('HINCRBY', key, 'requeues', 1)
  redis.call('ZREM', P .. 'offers', id)
  release_load(h[2], id, h[4])
  place(id)
  pull(h[2])
  return 1
end

-- Presence leases. The instance holding a professional's Offers stream keeps their lease in
-- `leases` (scored by its end) while the stream's token is their `conn`; a professional whose
-- lease lapsed is offline for routing, whatever their presence says. Leases run on Redis's
-- clock, not NOW: it is one clock for every instance, and never virtual (a lease measures
-- whether an instance is alive, not the county's time).
local function lease_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function grant_lease(pro, lease_ms)
  redis.call('ZADD', P .. 'leases', ms(lease_now() + tonumber(lease_ms)), pro)
end

-- The case's holder is reachable again, or the case left them: no longer "holder disconnected".
local function holder_back(id)
  if redis.call('HDEL', case_key(id), 'holder_disconnected') == 1 then
    event('c', id, 'holder_back')
  end
  redis.call('ZREM', P .. 'disconnected', id)
end

-- The professional's desktop went away (their Offers stream closed, or its lease lapsed):
-- their offers go back to the queue at their own place and on to a colleague who fits; the
-- cases they hold stay theirs — they may be on the phone — and are marked "holder
-- disconnected" for supervisors, who may take them back (release). Call it once `conn` is
-- gone. Returns how many offers were placed again.
local function holder_gone(pro)
  local n = 0
  for _, id in ipairs(redis.call('SMEMBERS', pro_key(pro) .. ':cases')) do
    local h = redis.call('HMGET', case_key(id), 'status', 'holder', 'holder_disconnected')
    if h[1] == 'offered' and h[2] == pro then
      n = n + requeue_offered(id, pro, 'released', nil)
    elseif h[1] == 'in_progress' and h[2] == pro and not h[3] then
      redis.call('HSET', case_key(id), 'holder_disconnected', NOW)
      redis.call('ZADD', P .. 'disconnected', NOW, id)
      event('c', id, 'holder_disconnected')
    end
  end
  return n
end

-- A professional whose lease lapsed (their instance died, or lost Redis for longer than the
-- lease) goes offline for routing, as if their stream had closed.
local function lapse(pro)
  redis.call('ZREM', P .. 'leases', pro)
  redis.call('HDEL', pro_key(pro), 'conn')
  refresh(pro)
  local n = holder_gone(pro)
  event('p', pro)
  return n
end

-- What closing a case (completed or cancelled) clears: the free text and number, the citizen's
-- open-case links that point here, and from now on everything about it expires.
-- `case` is the whole case as read (`whole_case`), `contacts` its contact ids; `set` the
-- field/value pairs the closing script writes with it (status, outcome). The table is changed
-- to what is stored afterwards.
local function close_case(id, retention, case, contacts, set)
  local words = words_key(id)
  local key = case_key(id)
  set[#set + 1] = 'closed'
  set[#set + 1] = NOW
  redis.call('HSET', key, unpack(set))
  for i = 1, #set, 2 do case[set[i]] = set[i + 1] end
  redis.call('HDEL', words, 'text', 'callback_number')
  if case.legacy then redis.call('HDEL', key, 'text', 'callback_number') end
  case.text, case.callback_number, case.legacy = nil, nil, nil
  -- Its words gone, the case no longer holds its data key alive.
  for _, seal in ipairs(csv(case.seal or '')) do redis.call('SREM', P .. 'sealed:' .. seal, id) end
  -- A closed case needs no first look any more (it stays unconfirmed in its record).
  if not case.triage_confirmed then
    redis.call('ZREM', P .. 'firstlook', id)
    redis.call('ZREM', P .. 'firstlook_due', id)
  end
  local citizen = case.citizen
  if citizen and citizen ~= '' then
    -- No longer among the citizen's open cases, nor the newest of its needs.
    local ck = P .. 'citizen:' .. citizen
    local needs = {}
    for _, need in ipairs(csv(case.needs)) do needs[#needs + 1] = 'need:' .. need end
    local gone = {id}
    if #needs > 0 then
      local links = redis.call('HMGET', ck, unpack(needs))
      for i, f in ipairs(needs) do
        if links[i] == id then gone[#gone + 1] = f end
      end
    end
    redis.call('HDEL', ck, unpack(gone))
  end
  for _, cid in ipairs(contacts) do
    redis.call('EXPIRE', P .. 'contact:' .. cid, retention)
  end
  redis.call('EXPIRE', key, retention)
  redis.call('EXPIRE', words, retention)
  if case.joins or not case.contact then redis.call('EXPIRE', key .. ':contacts', retention) end
  if case.holder_disconnected then
    case.holder_disconnected = nil
    holder_back(id)
  end
end

-- Appends a line to the case's routing reasons (what GetCase and supervisors see).
local function add_reason(id, line)
  local key = words_key(id)
  local r = word(id, 'reasons') or ''
  if r ~= '' then r = r .. '\n' end
  redis.call('HSET', key, 'reasons', r .. line)
end

-- The county's statistics stream (GetStats): one entry per contact, first response and
-- completion, with codes and times only. Entries older than 31 days are trimmed.
-- Entry ids are Luotsi's time (NOW), never before the newest entry's, so GetStats can read a
-- window by id even when instances' clocks differ by a little.
-- The newest entry is read only when NOW is behind it (another instance's clock ahead): XADD
-- refuses an id before the newest, and then the entry takes the newest's time.
local function timed_xadd(key, keep_days, ...)
  local minid = ms(tonumber(NOW) - keep_days * 86400000)
  local added = redis.pcall('XADD', key, 'MINID', '~', minid, ms(NOW) .. '-*', ...)
  if type(added) == 'table' and added.err then
    local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
    local newest = last[1] and string.match(last[1][1], '^(%d+)') or NOW
    redis.call('XADD', key, 'MINID', '~', minid, newest .. '-*', ...)
  end
end

local function stat(...)
  timed_xadd(P .. 'stats', 31, ...)
end

-- Overflow: a queued case whose step is due is listed for the next team of its list too (the
-- teams before it still see and may take it), the step recorded; continuity ends. (Only queued
-- cases are in `overflow`: `enqueue` schedules the next step and `dequeue` forgets it, so an
-- offer or hand-over pauses overflow.)
local function overflow_step(id)
  redis.call('ZREM', P .. 'overflow', id)
  local key = case_key(id)
  local c = routing_of(id)
  local teams, ats = csv(redis.call('HGET', key, 'overflow_teams')), csv(c.overflow_at)
  if c.status ~= 'queued' or #teams == 0 then return 0 end
  local to = table.remove(teams, 1)
  table.remove(ats, 1)
  dequeue(id, c.team, c.queue, c.sub_queue, c)
  local wide = csv(c.wide)
  wide[#wide + 1] = to
  redis.call('HSET', key, 'wide', table.concat(wide, ','), 'overflow_teams', table.concat(teams, ','),
    'overflow_at', table.concat(ats, ','), 'own_professional_until', '0')
  add_reason(id, 'overflow: nobody took it within ' ..
    math.floor((tonumber(NOW) - tonumber(c.created)) / 60000) .. ' min: team ' .. to ..
    ' may take it too (team ' .. c.team .. ' still may)')
  event('c', id, 'moved')
  place(id)
  return 1
end

-- A call-back whose next attempt is due (`RecordCallAttempt`: no answer or busy, attempts
-- left): until now it was listed for supervisors but in no sub-queue; now it is placed again,
-- at its own priority.
local function retry_call(id)
  redis.call('ZREM', P .. 'retry', id)
  local c = routing_of(id)
  if c.status ~= 'queued' or not c.retry_at or c.retry_at == '' then return 0 end
  dequeue(id, c.team, c.queue, c.sub_queue, c)
  redis.call('HSET', case_key(id), 'retry_at', '')
  c.retry_at = nil
  add_reason(id, 'call-back: next attempt due')
  place(id, c)
  return 1
end

-- An unreachable case back in the queue (the citizen contacted again, or a supervisor sent it
-- back): attempts start afresh.
local function reachable_again(id, why)
  redis.call('ZREM', P .. 'unreachable', id)
  redis.call('HSET', case_key(id), 'status', 'queued', 'call_attempts', 0, 'unreachable_since', '',
    'unreachable_why', '', 'holder', '')
  add_reason(id, 'call-back: queued again (' .. why .. ')')
  place(id)
end

-- A chat nobody took within its answer limit: offer the citizen a call-back (once).
local function offer_callback(id)
  redis.call('ZREM', P .. 'chatwait', id)
  local h = redis.call('HMGET', case_key(id), 'status', 'channel', 'callback_offered')
  if h[1] ~= 'queued' or h[2] ~= 'chat' or h[3] then return 0 end
  redis.call('HSET', case_key(id), 'callback_offered', NOW)
  add_reason(id, 'chat not taken within its answer limit: call-back offered to the citizen')
  event('c', id, 'callback_offered')
  return 1
end

-- The access log (Act 703/2023). A script that uses a citizen's data on a caller's behalf gets
-- the entry as its LAST argument (JSON: by, role, org, action, purpose, source, min_id) and
-- logs it in the same step as the change. Kept by time, never trimmed by count.
-- `citizen` is the case's citizen pseudonym when the caller has read it. Entries older than
-- `min_id` (real time less the retention, from the instance) are trimmed.
local function log_access(case_id, action, citizen)
  local e = cjson.decode(ARGV[#ARGV])
  if not citizen then
    citizen = ''
    if case_id ~= '' then citizen = redis.call('HGET', case_key(case_id), 'citizen') or '' end
  end
  redis.call('XADD', P .. 'access', 'MINID', '~', e.min_id, '*',
    'at', NOW, 'by', e.by, 'role', e.role, 'org', e.org, 'action', action or e.action,
    'case', case_id, 'citizen', citizen, 'purpose', e.purpose, 'source', e.source)
end

-- Does the case accept this access-token hash (one per contact, see submit.lua)?
local function has_access(case_id, hash)
  if hash == '' then return false end
  local hs = word(case_id, 'access_hashes') or ''
  for h in string.gmatch(hs, '[^,]+') do
    if h == hash then return true end
  end
  return false
end

local function add_access(case_id, hash)
  local hs = word(case_id, 'access_hashes') or ''
  redis.call('HSET', words_key(case_id), 'access_hashes', hs == '' and hash or (hs .. ',' .. hash))
end
