-- A seller's distributed token buckets (reservation / GCRA style): one hash per seller and
-- region, one field per operation (a bucket), so each seller costs Redis one key.
-- KEYS[1]  the hash (rl:{<seller>:<region>}); its TTL is the longest any bucket needs
-- ARGV[1]  "reserve", "drain" or "rate"       ARGV[2]  the operation (the bucket's field)
-- A field holds "<tokens> <ts> <inc> [<bf_tokens> <bf_off>]": tokens left at ts (Redis TIME,
-- s), incremental callers active until ts + inc, the backfill side bucket's tokens at
-- ts + bf_off. A rate learned from x-amzn-RateLimit-Limit is the field "<operation>:rate".
--
-- reserve: ARGV[3] default rate (tokens/s)  ARGV[4] burst  ARGV[5] max wait (s): a longer
--   wait reserves nothing  ARGV[6] priority "incremental" | "backfill"  ARGV[7] backfill share
--   (0..1] while incremental callers are active  ARGV[8] "" (Redis TIME) or a fixed time, for
--   tests of the arithmetic only  ARGV[9] run_id of the first Redis server the caller's
--   process used ("": unknown)  ARGV[10] "" (INFO server) or "<run_id> <uptime s>", for tests
--   ARGV[11] "1" if Amazon's bucket holds a token beyond ``burst`` (the caller keeps one in
--   reserve), "0" if not (an operation whose burst is 1)
--   Returns {reserved 1|0, wait seconds, tokens left, reason "ok"|"wait"|"share", run_id of
--   this server when the bucket was missing and ARGV[9] known, else ""}
-- drain (a 429 despite the bucket: Amazon's is empty now, so ours holds no token either):
--   ARGV[3] default rate  ARGV[4] burst (the hash must live until the bucket has refilled to
--   it; "": keep it 1 h)  Returns the tokens left (0, or negative when callers hold
--   reservations, which stay: forgetting them would schedule the next callers on top of
--   them, and the 429s would feed themselves)
--
-- rate (x-amzn-RateLimit-Limit, learned): ARGV[3] the rate. A hash that expired meanwhile
--   gets an hour to live, not none (a seller removed right then would keep it for ever).
--
-- Tokens may go negative: each waiting caller holds a reservation in arrival order, so
-- callers are served FIFO across processes and nobody polls. While incremental callers
-- are active, backfill reservations also need a token from a small side bucket refilled at
-- share x rate, so backfills get at most that share of the seller's quota.
local field = ARGV[2]
if ARGV[1] == 'rate' then
  redis.call('HSET', KEYS[1], field .. ':rate', ARGV[3])
  if redis.call('TTL', KEYS[1]) < 0 then
    redis.call('EXPIRE', KEYS[1], 3600)
  end
  return 1
end
local h = redis.call('HMGET', KEYS[1], field, field .. ':rate')

local function decode(value)
  if not value then
    return nil
  end
  local t, ts, inc, bf, bf_off = string.match(value, '^(%S+) (%S+) (%S+) ?(%S*) ?(%S*)$')
  ts = tonumber(ts)
  if tonumber(t) == nil or ts == nil then
    return nil
  end
  local s = {tokens = tonumber(t), ts = ts, inc_until = ts + (tonumber(inc) or 0)}
  if tonumber(bf) ~= nil then
    s.bf_tokens, s.bf_ts = tonumber(bf), ts + (tonumber(bf_off) or 0)
  end
  return s
end

local function store(s, live_for)
  -- ts exactly (TIME has microseconds: a rounded-down ts would refill tokens nobody had);
  -- the rest to what it decides (tokens to 1e-10 of a token, the backfill share's to 1e-6)
  local value = string.format('%.10g %.17g %.3f', s.tokens, s.ts, math.max(0, s.inc_until - s.ts))
  if s.bf_tokens ~= nil then
    value = value .. string.format(' %.6g %.3f', s.bf_tokens, s.bf_ts - s.ts)
  end
  redis.call('HSET', KEYS[1], field, value)
  -- the hash lives as long as its longest-lived bucket needs (a full, idle one: 60 s more)
  local want = math.ceil(live_for) + 60
  if redis.call('TTL', KEYS[1]) < want then
    redis.call('EXPIRE', KEYS[1], want)
  end
end

local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

local rate = tonumber(h[2]) or tonumber(ARGV[3])
local state = decode(h[1])

if ARGV[1] == 'drain' then
  local now = clock()
  local left = 0
  if state ~= nil then  -- what refilled since is dropped (at an unknown rate, nothing did)
    left = math.min(0, state.tokens + math.max(0, now - state.ts) * (rate or 0))
  end
  state = state or {inc_until = now}
  local inc_until, bf, bf_ts = state.inc_until, state.bf_tokens, state.bf_ts
  -- an emptied bucket that expired would come back full: keep it until it has refilled
  local refill = 3600
  if rate ~= nil and rate > 0 and ARGV[4] ~= '' then
    refill = (tonumber(ARGV[4]) - left) / rate
  end
  store({tokens = left, ts = now, inc_until = inc_until, bf_tokens = bf, bf_ts = bf_ts}, refill)
  return tostring(left)
end

local function server()
  local info = ARGV[10]
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
if ARGV[8] ~= '' then
  now = tonumber(ARGV[8])
else
  now = clock()
end
local burst = tonumber(ARGV[4])
local run_id = ''
local borrowed = 0
local tokens, ts, inc_until = burst, now, 0
if state ~= nil then
  tokens, ts, inc_until = state.tokens, state.ts, state.inc_until
else
  -- Not the server the caller's process started with: a restarted Redis lost every bucket,
  -- and Amazon's may be empty right now. A bucket created less than burst/rate after it
  -- started gets only what could have refilled, but at least one call now, whose
  -- x-amzn-RateLimit-Limit teaches us the real rate. That call may spend the token Amazon's
  -- bucket holds beyond ours (usable burst = burst - 1), and so may a call reserved on the
  -- lost server and sent after the restart: the bucket owes one token, repaid before the
  -- next call, so repeated restarts cannot add up. (On the first server, it expired full.)
  -- Without that spare token (Amazon's burst is 1), the free call could be one over Amazon's
  -- quota: the bucket gets only what could have refilled, and the caller may wait for it.
  if ARGV[9] ~= '' then
    local up
    run_id, up = server()
    if run_id ~= ARGV[9] and up ~= nil and up * rate < burst then
      if ARGV[11] == '0' then
        tokens = up * rate
      else
        tokens = math.max(1, up * rate)
        borrowed = 1
      end
    end
  end
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)

local gated = ARGV[6] == 'backfill' and now < inc_until
local bf_tokens, bf_ts = nil, nil
if gated then
  local share_rate = rate * tonumber(ARGV[7])
  bf_ts = (state and state.bf_ts) or now
  bf_tokens = math.min(1, ((state and state.bf_tokens) or 1) + math.max(0, now - bf_ts) * share_rate)
  if bf_tokens < 1 then
    return {0, tostring((1 - bf_tokens) / share_rate), tostring(tokens), 'share', run_id}
  end
  bf_tokens, bf_ts = bf_tokens - 1, now
elseif state ~= nil then
  bf_tokens, bf_ts = state.bf_tokens, state.bf_ts
end

local after = tokens - 1
local wait = 0
if after < 0 then
  wait = -after / rate
end
if wait > tonumber(ARGV[5]) then
  return {0, tostring(wait), tostring(tokens), 'wait', run_id}
end
after = after - borrowed
if ARGV[6] ~= 'backfill' then
  -- an incremental sync calls again soon after this call: stay "active" for two intervals
  inc_until = math.max(inc_until, now + wait + 2 / rate)
end
-- A full bucket with no active incremental caller carries no information: the hash may
-- expire once every bucket in it is so.
store({tokens = after, ts = now, inc_until = inc_until, bf_tokens = bf_tokens, bf_ts = bf_ts},
      math.max((burst - after) / rate, inc_until - now))
return {1, tostring(wait), tostring(after), 'ok', run_id}
