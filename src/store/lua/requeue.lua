-- Take an offer back: declined by the professional, or released by a supervisor.
-- ARGV: P, case_id, holder ('' = whoever holds it), reason
return requeue_offered(ARGV[2], ARGV[3], ARGV[4], nil)
