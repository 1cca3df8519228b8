-- Submit one contact: idempotent retry, join of the citizen's open case about the same need,
-- or a new case offered at once to a free professional who fits, else queued. One atomic step,
-- the case's fields taken from the arguments, never read back.
-- ARGV: P, now, ttl, contact_id, case_id, idem_key, idem_ttl, citizen, urgency_rank,
--       classification, needs_csv, access_hash (the new case access token's hash),
--       continuity: the citizen's newest open case the plan assumed, `<team>,<holder>` or ''
--       for none, or '-' when the plan did not consult it; then the case's field/value pairs.
-- Returns {'new', contact, case, place (-1 offered), available}, {'joined', contact, case},
-- {'dup', contact, case}, or {'replan', team, holder} when the citizen's newest open case is
-- not the one the plan assumed (nothing is written then).
local cid, id, idem, idem_ttl = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local citizen, urank, class, needs_csv = ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local access_hash, assumed = ARGV[12], ARGV[13]

-- The idempotency key is taken by the command that checks it; a replan gives it back.
local idem_key = P .. 'idem:' .. idem
if not redis.call('SET', idem_key, cid, 'NX', 'EX', idem_ttl) then
  local prior = redis.call('GET', idem_key)
  local prior_case = redis.call('HGET', P .. 'contact:' .. prior, 'case') or ''
  -- The retry gets a token of its own (the first was never stored in clear).
  if prior_case ~= '' and redis.call('EXISTS', case_key(prior_case)) == 1 then
    add_access(prior_case, access_hash)
  end
  return {'dup', prior, prior_case}
end

local needs = csv(needs_csv)
-- The citizen's open cases (fields `<case>`) and the newest open case per need (`need:<need>`).
local citizen_key = P .. 'citizen:' .. citizen
local others, links = {}, {}
if citizen ~= '' then
  local h = redis.call('HGETALL', citizen_key)
  for i = 1, #h, 2 do
    local need = string.match(h[i], '^need:(.+)$')
    if need then links[need] = h[i + 1] else others[#others + 1] = h[i] end
  end
  if #others > 0 then
    local open = links[needs[1]]
    if open then
      local h = redis.call('HMGET', case_key(open), 'status', 'urgency_rank', 'team')
      local is_open = h[1] == 'queued' or h[1] == 'offered' or h[1] == 'in_progress' or h[1] == 'unreachable'
      -- A more urgent contact never hides inside a less urgent case: it opens its own.
      if is_open and tonumber(urank) >= tonumber(h[2]) then
        redis.call('SADD', case_key(open) .. ':contacts', cid)
        redis.call('HINCRBY', case_key(open), 'active_contacts', 1)
        redis.call('HINCRBY', case_key(open), 'joins', 1)
        add_access(open, access_hash)
        -- A joined contact keeps its own classification; the first contact's is the case's.
        redis.call('HSET', P .. 'contact:' .. cid, 'case', open, 'classification', class, 'joined', '1', 'created', NOW)
        local ch, seal = '', ''
        for i = 14, #ARGV, 2 do
          if ARGV[i] == 'channel' then ch = ARGV[i + 1] elseif ARGV[i] == 'seal' then seal = ARGV[i + 1] end
        end
        -- The joined contact's classification is sealed with today's data key: the case keeps
        -- that key alive too (`seal` lists the case's keys).
        local seals = redis.call('HGET', case_key(open), 'seal') or ''
        if seal ~= '' and not string.find(',' .. seals .. ',', ',' .. seal .. ',', 1, true) then
          redis.call('HSET', case_key(open), 'seal', seals == '' and seal or (seals .. ',' .. seal))
          redis.call('SADD', P .. 'sealed:' .. seal, open)
        end
        stat('k', 'contact', 'team', h[3] or '', 'need', needs[1], 'joined', '1', 'ch', ch)
        event('c', open, 'joined')
        -- The citizen nobody reached calls again: their case is queued again, attempts afresh.
        if h[1] == 'unreachable' then reachable_again(open, 'the citizen contacted again') end
        return {'joined', cid, open}
      end
    end
  end
  -- Continuity: the plan assumed the citizen's newest open case (case ids are time-ordered,
  -- UUIDv7); when that is not what is stored, nothing is written and the caller plans again.
  if assumed ~= '-' then
    local actual, team, holder = '', '', ''
    if #others > 0 then
      table.sort(others)
      local h = redis.call('HMGET', case_key(others[#others]), 'team', 'holder')
      if h[1] then
        team, holder = h[1], h[2] or ''
        actual = team .. ',' .. holder
      end
    end
    if actual ~= assumed then
      redis.call('DEL', idem_key)
      return {'replan', team, holder}
    end
  end
end

local key = case_key(id)
local f = {}
-- Routing fields to the case hash, long values to its words (`WORDS`); empty values are not
-- stored (a missing field reads as empty).
local fields, words = {}, {}
local function set(name, value)
  f[name] = value
  if value == '' then return end
  local to = WORDS[name] and words or fields
  to[#to + 1] = name
  to[#to + 1] = value
end
for i = 14, #ARGV, 2 do set(ARGV[i], ARGV[i + 1]) end
set('contact', cid)
set('access_hashes', access_hash)
local recontact = '0'
if citizen ~= '' then
  -- The citizen's other open cases (other needs) are linked both ways.
  if #others > 0 then
    set('linked', table.concat(others, ','))
    for _, o in ipairs(others) do
      local l = word(o, 'linked') or ''
      redis.call('HSET', words_key(o), 'linked', l == '' and id or (l .. ',' .. id))
    end
  end
  if redis.call('EXISTS', P .. 'last:' .. citizen .. ':' .. needs[1]) == 1 then
    recontact = '1'
    set('recontact', '1')
    local r = f.reasons or ''
    set('reasons', (r ~= '' and (r .. '\n') or '') ..
      're-contact: a case about the same need was completed within the last 7 days')
  end
end
redis.call('HSET', key, unpack(fields))
redis.call('HSET', words_key(id), unpack(words))
-- The data key its words are sealed with lives while the case is open (`keys.rs`, `sealed`).
if f.seal and f.seal ~= '' then redis.call('SADD', P .. 'sealed:' .. f.seal, id) end
redis.call('HSET', P .. 'contact:' .. cid, 'case', id, 'joined', '0', 'created', NOW)
-- Provisional until a person looks at it: in the first-look view by arrival and by due time.
redis.call('ZADD', P .. 'firstlook', f.created, id)
redis.call('ZADD', P .. 'firstlook_due', f.first_look_due, id)
if citizen ~= '' then
  local opened = {id, '1'}
  for _, need in ipairs(needs) do
    opened[#opened + 1] = 'need:' .. need
    opened[#opened + 1] = id
  end
  redis.call('HSET', citizen_key, unpack(opened))
end
stat('k', 'contact', 'team', f.team, 'need', needs[1], 'joined', '0', 'recontact', recontact, 'ch', f.channel)
-- A call-back time the citizen chose: listed for supervisors, offered to nobody before its
-- window opens (`retry`, placed then by the reaper); its place is among the cases ahead of it.
if f.retry_at and f.retry_at ~= '' and tonumber(f.retry_at) > tonumber(NOW) then
  local qa, qp = index_keys(f.team, f.queue)
  redis.call('ZADD', qa, f.created, id)
  redis.call('ZADD', qp, f.score, id)
  redis.call('ZADD', P .. 'retry', f.retry_at, id)
  event('c', id, 'queued')
  local ahead = redis.call('ZCOUNT', sub_queue(f.team, f.queue, f.sub_queue), '-inf', '(' .. f.score)
  return {'new', cid, id, ahead, redis.call('SCARD', P .. 'avail:' .. f.team .. ':' .. f.channel)}
end
-- Nobody available on the channel: nobody free to offer it to, no need to look.
local avail = nil
if f.queue ~= 'alert' then avail = redis.call('SCARD', P .. 'avail:' .. f.team .. ':' .. f.channel) end
local pro = place(id, f, avail)
if pro then return {'new', cid, id, -1, 0} end
if not avail then avail = redis.call('SCARD', P .. 'avail:' .. f.team .. ':' .. f.channel) end
return {'new', cid, id, redis.call('ZRANK', sub_queue(f.team, f.queue, f.sub_queue), id), avail}
