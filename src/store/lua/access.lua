-- Logs reads of cases before their data is answered (GetCase, WatchCase, a supervisor's list).
-- ARGV: P, now, ttl, case ids (… '' for a use without a case), then the access entry.
for i = 4, #ARGV - 1 do log_access(ARGV[i]) end
return #ARGV - 4
