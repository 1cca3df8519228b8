-- Submit one contact: idempotent retry, join of the citizen's open case about the same need,
-- or a new case offered at once to a free professional who fits, else queued. One atomic step.
-- ARGV: P, now, ttl, contact_id, case_id, idem_key, idem_ttl, citizen, urgency_rank,
--       classification, needs_csv, access_hash (the new case access token's hash), then the
--       case's field/value pairs.
local cid, id, idem, idem_ttl = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local citizen, urank, class, needs_csv = ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local access_hash = ARGV[12]

local idem_key = P .. 'idem:' .. idem
local prior = redis.call('GET', idem_key)
if prior then
  local prior_case = redis.call('HGET', P .. 'contact:' .. prior, 'case') or ''
  -- The retry gets a token of its own (the first was never stored in clear).
  if prior_case ~= '' and redis.call('EXISTS', case_key(prior_case)) == 1 then
    add_access(prior_case, access_hash)
  end
  return {'dup', prior, prior_case}
end

local needs = csv(needs_csv)
if citizen ~= '' then
  local open = redis.call('GET', P .. 'open:' .. citizen .. ':' .. needs[1])
  if open then
    local h = redis.call('HMGET', case_key(open), 'status', 'urgency_rank')
    local is_open = h[1] == 'queued' or h[1] == 'offered' or h[1] == 'in_progress'
    -- A more urgent contact never hides inside a less urgent case: it opens its own.
    if is_open and tonumber(urank) >= tonumber(h[2]) then
      redis.call('SADD', case_key(open) .. ':contacts', cid)
      redis.call('HINCRBY', case_key(open), 'active_contacts', 1)
      add_access(open, access_hash)
      redis.call('HSET', P .. 'contact:' .. cid, 'case', open, 'classification', class, 'joined', '1', 'created', NOW)
      redis.call('SET', idem_key, cid, 'EX', idem_ttl)
      stat('k', 'contact', 'team', redis.call('HGET', case_key(open), 'team') or '', 'need', needs[1], 'joined', '1')
      event('c', open, 'joined')
      return {'joined', cid, open}
    end
  end
end

local key = case_key(id)
redis.call('HSET', key, unpack(ARGV, 13))
add_access(id, access_hash)
redis.call('SADD', key .. ':contacts', cid)
redis.call('HSET', P .. 'contact:' .. cid, 'case', id, 'classification', class, 'joined', '0', 'created', NOW)
redis.call('SET', idem_key, cid, 'EX', idem_ttl)
-- Provisional until a person looks at it: in the first-look view by arrival and by due time.
local look = redis.call('HMGET', key, 'created', 'first_look_due')
redis.call('ZADD', P .. 'firstlook', look[1], id)
redis.call('ZADD', P .. 'firstlook_due', look[2], id)
local recontact = '0'
if citizen ~= '' then
  for _, need in ipairs(needs) do redis.call('SET', P .. 'open:' .. citizen .. ':' .. need, id) end
  -- The citizen's other open cases (other needs) are linked both ways.
  local cit = P .. 'cit:' .. citizen
  local others = redis.call('SMEMBERS', cit)
  if #others > 0 then
    redis.call('HSET', key, 'linked', table.concat(others, ','))
    for _, o in ipairs(others) do
      local l = redis.call('HGET', case_key(o), 'linked') or ''
      redis.call('HSET', case_key(o), 'linked', l == '' and id or (l .. ',' .. id))
    end
  end
  redis.call('SADD', cit, id)
  if redis.call('EXISTS', P .. 'last:' .. citizen .. ':' .. needs[1]) == 1 then
    recontact = '1'
    redis.call('HSET', key, 'recontact', '1')
    add_reason(id, 're-contact: a case about the same need was completed within the last 7 days')
  end
end
stat('k', 'contact', 'team', redis.call('HGET', key, 'team'), 'need', needs[1], 'joined', '0',
  'recontact', recontact)
local pro = place(id)
if pro then return {'new', cid, id, -1, 0} end
local h = redis.call('HMGET', key, 'team', 'queue', 'sub_queue', 'channel')
return {'new', cid, id, redis.call('ZRANK', sub_queue(h[1], h[2], h[3]), id),
  redis.call('SCARD', P .. 'avail:' .. h[1] .. ':' .. h[4])}
