-- Reserve one token from a distributed token bucket (reservation / GCRA style).
-- KEYS[1]  bucket hash: tokens, ts, rate, inc_until, bf_tokens, bf_ts
-- ARGV[1]  default rate (tokens/s; a rate stored from x-amzn-RateLimit-Limit wins)
-- ARGV[2]  burst          ARGV[3] max wait (s): a longer wait reserves nothing
-- ARGV[4]  priority: "incremental" | "backfill"
-- ARGV[5]  backfill share (0..1] while incremental callers are active
-- ARGV[6]  "" (use Redis TIME) or a fixed time, for tests of the arithmetic only
-- ARGV[7]  run_id of the first Redis server the caller's process used ("": unknown)
-- ARGV[8]  "" (use INFO server) or "<run_id> <uptime s>", for tests of the arithmetic only
-- Returns  {reserved 1|0, wait seconds, tokens left, reason "ok"|"wait"|"share", run_id of
--           this server when the bucket was missing and ARGV[7] known, else ""}
--
-- Tokens may go negative: each waiting caller holds a reservation in arrival order, so
-- callers are served FIFO across processes and nobody polls. While incremental callers
-- are active (inc_until), backfill reservations also need a token from a small side bucket
-- refilled at share x rate, so backfills get at most that share of the seller's quota.
local function server()
  local info = ARGV[8]
  if info == '' then
    local ok, text = pcall(redis.call, 'INFO', 'server')
    if not ok then
      return '', nil
    end
    info = (string.match(text, 'run_id:(%x+)') or '') .. ' ' ..
           (string.match(text, 'uptime_in_seconds:(%d+)') or '')
  end
  local run_id, up = string.match(info, '^(%S*) (%S*)$')
  return run_id or '', tonumber(up)
end

local now
if ARGV[6] ~= '' then
  now = tonumber(ARGV[6])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local h = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'rate', 'inc_until', 'bf_tokens', 'bf_ts')
local rate = tonumber(h[3]) or tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tokens = tonumber(h[1])
local ts = tonumber(h[2])
local run_id = ''
local borrowed = 0
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
  -- Not the server the caller's process started with: a restarted Redis lost every bucket,
  -- and Amazon's may be empty right now. A bucket created less than burst/rate after it
  -- started gets only what could have refilled, but at least one call now, whose
  -- x-amzn-RateLimit-Limit teaches us the real rate. That call may spend the token Amazon's
  -- bucket holds beyond ours (usable burst = burst - 1), and so may a call reserved on the
  -- lost server and sent after the restart: the bucket owes one token, repaid before the
  -- next call, so repeated restarts cannot add up. (On the first server, it expired full.)
  if ARGV[7] ~= '' then
    local up
    run_id, up = server()
    if run_id ~= ARGV[7] and up ~= nil and up * rate < burst then
      tokens = math.max(1, up * rate)
      borrowed = 1
    end
  end
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)

local inc_until = tonumber(h[4]) or 0
local gated = ARGV[4] == 'backfill' and now < inc_until
local bf_tokens = 1
if gated then
  local share_rate = rate * tonumber(ARGV[5])
  local bf_ts = tonumber(h[6]) or now
  bf_tokens = math.min(1, (tonumber(h[5]) or 1) + math.max(0, now - bf_ts) * share_rate)
  if bf_tokens < 1 then
    return {0, tostring((1 - bf_tokens) / share_rate), tostring(tokens), 'share', run_id}
  end
end

local after = tokens - 1
local wait = 0
if after < 0 then
  wait = -after / rate
end
if wait > tonumber(ARGV[3]) then
  return {0, tostring(wait), tostring(tokens), 'wait', run_id}
end
after = after - borrowed
if ARGV[4] ~= 'backfill' then
  -- an incremental sync calls again soon after this call: stay "active" for two intervals
  inc_until = math.max(inc_until, now + wait + 2 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(after), 'ts', tostring(now),
           'rate', tostring(rate), 'inc_until', tostring(inc_until))
if gated then
  redis.call('HSET', KEYS[1], 'bf_tokens', tostring(bf_tokens - 1), 'bf_ts', tostring(now))
end
-- A full bucket with no active incremental caller carries no information: let it expire.
local idle = math.max((burst - after) / rate, inc_until - now)
redis.call('EXPIRE', KEYS[1], math.ceil(idle) + 60)
return {1, tostring(wait), tostring(after), 'ok', run_id}
