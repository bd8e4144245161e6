-- Reserve one token from a distributed token bucket (GCRA-style reservation).
-- KEYS[1]  bucket hash: tokens, ts (seconds, Redis TIME), rate (tokens/s), burst
-- ARGV[1]  default rate     ARGV[2] default burst
-- ARGV[3]  max wait (s): if the caller would wait longer, nothing is reserved
-- Returns  {reserved (1|0), wait seconds as string}
-- Tokens may go negative: each waiting caller holds a reservation in arrival order, so
-- callers are served FIFO across processes and nobody polls.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local h = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'rate', 'burst')
local rate = tonumber(h[3]) or tonumber(ARGV[1])
local burst = tonumber(h[4]) or tonumber(ARGV[2])
local tokens = tonumber(h[1])
local ts = tonumber(h[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local after = tokens - 1
local wait = 0
if after < 0 then
  wait = -after / rate
end
if wait > tonumber(ARGV[3]) then
  return {0, tostring(wait)}
end
redis.call('HSET', KEYS[1], 'tokens', tostring(after), 'ts', tostring(now),
           'rate', tostring(rate), 'burst', tostring(burst))
-- A full bucket carries no information, so let idle keys vanish.
redis.call('EXPIRE', KEYS[1], math.ceil((burst - after) / rate) + 60)
return {1, tostring(wait)}
