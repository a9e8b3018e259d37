"""Lua scripts the store runs; each opens with the KEYS and ARGV it takes.

Numbers that go back into Redis are always the ARGV strings, never Lua numbers: Lua would
write a millisecond time such as 1764086400000 as "1.7640864e+12".
"""

# Applies one event to its stream, all or nothing, in the stream's hash slot.
# KEYS[1] stream hash   KEYS[2] timeline zset (event id by createdAt)
# KEYS[3] events hash (event id -> record JSON)   KEYS[4] claim key of this event id (expires)
# KEYS[5] sessions hash (session id -> session JSON)
# ARGV[1] event id   ARGV[2] event name   ARGV[3] createdAt ms   ARGV[4] received ms
# ARGV[5] record JSON   ARGV[6] claim TTL s   ARGV[7] timeline max entries
# ARGV[8] state the event sets: "active", "idle" or ""
# ARGV[9] session id or ""   ARGV[10] session JSON or ""   ARGV[11] sessions max
# ARGV[12..] field, value pairs of stream attributes (JSON-encoded values)
# Returns {duplicate 0|1, stream version, state, last_event_at}: what the index step needs on a
# cluster, where it cannot read the stream hash itself.
APPLY_STREAM_EVENT = """
local function current(duplicate, version)
  local h = redis.call('HMGET', KEYS[1], 'state', 'last_event_at')
  return {duplicate, version, h[1] or 'idle', h[2] or '0'}
end
local eid, created = ARGV[1], tonumber(ARGV[3])
if redis.call('EXISTS', KEYS[4]) == 1 or redis.call('HEXISTS', KEYS[3], eid) == 1 then
  return current(1, tonumber(redis.call('HGET', KEYS[1], 'version') or '0'))
end
redis.call('SET', KEYS[4], '1', 'EX', ARGV[6])

redis.call('ZADD', KEYS[2], ARGV[3], eid)
redis.call('HSET', KEYS[3], eid, ARGV[5])
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[7])
if excess > 0 then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, excess - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1)
  redis.call('HDEL', KEYS[3], unpack(oldest))
end

local cur = redis.call('HMGET', KEYS[1], 'last_event_at', 'last_event_id', 'state_at',
  'fields_at', 'last_received_at')
local last_at, state_at, fields_at = tonumber(cur[1]), tonumber(cur[3]), tonumber(cur[4])
-- Ties on createdAt are broken by event id so the outcome does not depend on arrival order.
if not last_at or created > last_at or (created == last_at and eid > cur[2]) then
  redis.call('HSET', KEYS[1], 'last_event', ARGV[2], 'last_event_at', ARGV[3],
    'last_event_id', eid)
end
local state = ARGV[8]
if state ~= '' then
  -- For equal createdAt, idle wins: a stream is live only if no idle follows the start.
  if not state_at or created > state_at or (created == state_at and state == 'idle') then
    redis.call('HSET', KEYS[1], 'state', state, 'state_at', ARGV[3])
  end
  local mark = state == 'active' and 'last_started_at' or 'last_idle_at'
  local seen = tonumber(redis.call('HGET', KEYS[1], mark))
  if not seen or created > seen then redis.call('HSET', KEYS[1], mark, ARGV[3]) end
end
if #ARGV > 11 and (not fields_at or created >= fields_at) then
  local pairs_ = {}
  for i = 12, #ARGV do pairs_[#pairs_ + 1] = ARGV[i] end
  redis.call('HSET', KEYS[1], 'fields_at', ARGV[3], unpack(pairs_))
end
redis.call('HSETNX', KEYS[1], 'first_received_at', ARGV[4])
if not tonumber(cur[5]) or tonumber(ARGV[4]) > tonumber(cur[5]) then
  redis.call('HSET', KEYS[1], 'last_received_at', ARGV[4])
end

if ARGV[9] ~= '' then
  local incoming = cjson.decode(ARGV[10])
  local stored = redis.call('HGET', KEYS[5], ARGV[9])
  local merged = incoming
  if stored then
    merged = cjson.decode(stored)
    local newer = created >= (tonumber(merged['updated_at']) or 0)
    for k, v in pairs(incoming) do
      if newer or merged[k] == nil then merged[k] = v end
    end
  end
  if created >= (tonumber(merged['updated_at']) or 0) then merged['updated_at'] = created end
  redis.call('HSET', KEYS[5], ARGV[9], cjson.encode(merged))
  if redis.call('HLEN', KEYS[5]) > tonumber(ARGV[11]) then
    local all = redis.call('HGETALL', KEYS[5])
    local oldest, oldest_at = nil, nil
    for i = 1, #all, 2 do
      local s = cjson.decode(all[i + 1])
      local at = tonumber(s['created_at']) or tonumber(s['updated_at']) or 0
      if not oldest_at or at < oldest_at then oldest, oldest_at = all[i], at end
    end
    redis.call('HDEL', KEYS[5], oldest)
  end
end
return current(0, redis.call('HINCRBY', KEYS[1], 'version', 1))
"""

# Appends an event to the global timeline, idempotently, trimming the oldest past the bound,
# and notes when a delivery was last accepted (duplicates count: they arrived and verified).
# Shared by the two global scripts below; uses ARGV[1..4] and the keys passed to it.
_GLOBAL_HELPERS = """
local function append_event(zkey, hkey)
  if redis.call('ZADD', zkey, 'NX', ARGV[2], ARGV[1]) == 1 then
    redis.call('HSET', hkey, ARGV[1], ARGV[3])
    local excess = redis.call('ZCARD', zkey) - tonumber(ARGV[4])
    if excess > 0 then
      local oldest = redis.call('ZRANGE', zkey, 0, excess - 1)
      redis.call('ZREMRANGEBYRANK', zkey, 0, excess - 1)
      redis.call('HDEL', hkey, unpack(oldest))
    end
  end
end
local function note_accepted(times_key, received)
  local last = tonumber(redis.call('HGET', times_key, 'accepted'))
  if not last or tonumber(received) > last then
    redis.call('HSET', times_key, 'accepted', received)
  end
end
"""

# Updates the global indexes after a stream event; idempotent, so it also runs for duplicates
# and heals a crash between the two steps on Livepeer's retry. Stream index entries move only
# forward in the stream's version, so two steps racing each other cannot leave an older state.
# KEYS[1] streams zset (by last_event_at)  KEYS[2] active zset  KEYS[3] idle zset
# KEYS[4] versions hash (stream id -> version indexed)  KEYS[5] events zset  KEYS[6] events hash
# KEYS[7] delivery-times hash
# KEYS[8] (single Redis only) the stream hash: read the state from it instead of ARGV[6..8]
# ARGV[1] event id  ARGV[2] createdAt ms  ARGV[3] record JSON  ARGV[4] events max
# ARGV[5] received ms  ARGV[6] stream id  ARGV[7] version  ARGV[8] state  ARGV[9] last_event_at
INDEX_STREAM_EVENT = (
    _GLOBAL_HELPERS
    + """
append_event(KEYS[5], KEYS[6])
note_accepted(KEYS[7], ARGV[5])
local sid, version, state, last_at = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
if KEYS[8] then
  local h = redis.call('HMGET', KEYS[8], 'version', 'state', 'last_event_at')
  if not h[1] then return 0 end
  version, state, last_at = h[1], h[2] or 'idle', h[3]
end
local indexed = tonumber(redis.call('HGET', KEYS[4], sid))
if indexed and tonumber(version) < indexed then return 0 end
redis.call('HSET', KEYS[4], sid, version)
redis.call('ZADD', KEYS[1], last_at, sid)
if state == 'active' then
  redis.call('ZADD', KEYS[2], last_at, sid)
  redis.call('ZREM', KEYS[3], sid)
else
  redis.call('ZADD', KEYS[3], last_at, sid)
  redis.call('ZREM', KEYS[2], sid)
end
return 1
"""
)

# Applies an event that belongs to no stream (asset.*, task.*): dedupe claim plus the global
# timeline, in the global slot.
# KEYS[1] events zset  KEYS[2] events hash  KEYS[3] claim key of this event id
# KEYS[4] delivery-times hash  KEYS[5] asset-failed marker of the named asset (or absent)
# ARGV[1] event id  ARGV[2] createdAt ms  ARGV[3] record JSON  ARGV[4] events max
# ARGV[5] received ms  ARGV[6] claim TTL s  ARGV[7] event name  ARGV[8] marker TTL s
# Returns 1 when the event was already applied, else 0.
APPLY_GLOBAL_EVENT = (
    _GLOBAL_HELPERS
    + """
note_accepted(KEYS[4], ARGV[5])
if redis.call('EXISTS', KEYS[3]) == 1 or redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  return 1
end
redis.call('SET', KEYS[3], '1', 'EX', ARGV[6])
append_event(KEYS[1], KEYS[2])
if KEYS[5] then redis.call('SET', KEYS[5], ARGV[7], 'EX', ARGV[8]) end
return 0
"""
)

# Retention, step 1 of 2 (the stream's slot): deletes a stream's keys unless an event newer
# than the cutoff arrived since the caller listed it as stale. Dedupe claims are left to expire.
# KEYS[1] stream hash  KEYS[2] timeline zset  KEYS[3] events hash  KEYS[4] sessions hash
# ARGV[1] cutoff ms (a stream whose last_event_at is at or before it is stale)
# Returns 0 when the stream is gone (deleted now, or already), else its last_event_at.
FORGET_STREAM = """
local last = redis.call('HGET', KEYS[1], 'last_event_at')
if last and tonumber(last) > tonumber(ARGV[1]) then return last end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return 0
"""

# Retention, step 2 of 2 (the global slot): removes forgotten streams from the indexes, except
# one that a newer event re-indexed meanwhile (its score is then past the cutoff). The versions
# entry goes too: a forgotten stream that comes back starts again at version 1. A stream found
# fresh in step 1 whose index entry lags (an index step lost to a crash) is moved up, so the
# sweep does not meet it again and again.
# KEYS[1] streams zset  KEYS[2] active zset  KEYS[3] idle zset  KEYS[4] versions hash
# ARGV[1] cutoff ms  ARGV[2..] pairs: stream id, its last_event_at from step 1 ("0": gone)
# Returns how many streams were removed from the indexes.
FORGET_STREAM_INDEX = """
local cutoff, removed = tonumber(ARGV[1]), 0
for i = 2, #ARGV, 2 do
  local sid, last = ARGV[i], ARGV[i + 1]
  local score = tonumber(redis.call('ZSCORE', KEYS[1], sid))
  if last == '0' then
    if not score or score <= cutoff then
      redis.call('ZREM', KEYS[1], sid)
      redis.call('ZREM', KEYS[2], sid)
      redis.call('ZREM', KEYS[3], sid)
      redis.call('HDEL', KEYS[4], sid)
      removed = removed + 1
    end
  elseif score and score < tonumber(last) then
    redis.call('ZADD', KEYS[1], last, sid)
  end
end
return removed
"""
