-- The professional finishes the case with an outcome; their freed slot pulls the next case.
-- ARGV: P, now, ttl, case_id, pro, outcome, retention_secs
-- Returns {'ok', case fields (field, value, …), contact ids}: the case as closed, so that the
-- caller need not read it back.
local id, pro, outcome, retention = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local case = whole_case(id)
if not case then return {'missing'} end
local contacts = contacts_of(id, case)
if case.status == 'completed' and case.holder == pro then return {'ok', flat(case), contacts} end
if case.status ~= 'in_progress' or case.holder ~= pro then return {'not_yours', case.status} end
-- A new case about the same need within 7 days is a re-contact.
if case.citizen and case.citizen ~= '' then
  for _, need in ipairs(csv(case.needs)) do
    redis.call('SET', P .. 'last:' .. case.citizen .. ':' .. need, NOW, 'EX', 604800)
  end
end
-- The handling time since the last acceptance, for the staffing forecast.
stat('k', 'done', 'team', case.team, 'outcome', outcome, 'contacts', #contacts, 'ch', case.channel,
  'handled', ms(math.max(0, tonumber(NOW) - tonumber(case.accepted or NOW))),
  'slaw', case.statutory_law or '',
  -- (A supervisor's urgency change clears the statutory deadline to '' where none applies.)
  'slate', (tonumber(case.statutory_deadline or '') and tonumber(NOW) > tonumber(case.statutory_deadline)) and '1' or '0')
close_case(id, retention, case, contacts, {'status', 'completed', 'outcome', outcome})
event('c', id, 'completed')
pull(pro, release_load(pro, id, case.channel))
log_access(id, 'complete', case.citizen or '')
return {'ok', flat(case), contacts}
