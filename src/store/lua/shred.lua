-- Destroys one data key at the end of its retention (crypto-shredding, `seal.rs`): the wrapped
-- key leaves `keys`, so whatever it sealed can no longer be opened. A day's words key is kept
-- while an open case is still sealed with it.
-- KEYS[1]: the `keys` hash. ARGV: P, now, ttl, key id. Returns 1 when destroyed.
local P, id = ARGV[1], ARGV[4]
if string.sub(id, 1, 1) == 'w' and redis.call('SCARD', P .. 'sealed:' .. id) > 0 then
  return 0
end
return redis.call('HDEL', KEYS[1], id)
