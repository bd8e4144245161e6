-- A 429 despite the bucket: Amazon's bucket is empty now, so ours holds no token either.
-- KEYS[1]  bucket hash (see bucket.lua): tokens, ts, rate
-- ARGV[1]  burst (the key must live until the bucket has refilled to it); "": keep it 1 h
-- Returns  the tokens left (0, or negative when callers hold reservations)
--
-- Reservations already handed out stay (negative tokens are callers waiting their turn:
-- forgetting them would schedule the next callers on top of them, and the 429s would feed
-- themselves); what refilled since the last reservation is dropped, at Redis TIME.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local h = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'rate')
local tokens, ts, rate = tonumber(h[1]), tonumber(h[2]), tonumber(h[3])
local left = 0
if tokens ~= nil and ts ~= nil and rate ~= nil then
  left = math.min(0, tokens + math.max(0, now - ts) * rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(left), 'ts', tostring(now))
-- an emptied bucket that expired would come back full: keep it until it has refilled
local refill = 3600
if rate ~= nil and rate > 0 and ARGV[1] ~= '' then
  refill = (tonumber(ARGV[1]) - left) / rate
end
redis.call('EXPIRE', KEYS[1], math.max(redis.call('TTL', KEYS[1]), math.ceil(refill) + 60))
return tostring(left)
