-- Take an offer back: declined by the professional, or released when it could not be delivered.
-- ARGV: P, now, ttl, case_id, holder ('' = whoever holds it), reason
return requeue_offered(ARGV[4], ARGV[5], ARGV[6], nil)
