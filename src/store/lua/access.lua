-- Logs reads of cases before their data is answered (GetCase, WatchCase, a supervisor's list).
-- Standalone (no prelude): a read pays one small script, not the routing helpers.
-- ARGV: P, now, ttl, case ids (… '' for a use without a case), then the access entry (JSON, as
-- for `log_access` in the prelude, whose entry format this follows).
local P, NOW = ARGV[1], ARGV[2]
local e = cjson.decode(ARGV[#ARGV])
local minid = e.min_id
for i = 4, #ARGV - 1 do
  local id = ARGV[i]
  local citizen = ''
  if id ~= '' then citizen = redis.call('HGET', P .. 'case:' .. id, 'citizen') or '' end
  redis.call('XADD', P .. 'access', 'MINID', '~', minid, '*',
    'at', NOW, 'by', e.by, 'role', e.role, 'org', e.org, 'action', e.action,
    'case', id, 'citizen', citizen, 'purpose', e.purpose, 'source', e.source)
end
return #ARGV - 4
