"""Lua scripts the store runs; each opens with the KEYS and ARGV it takes.

Numbers that go back into Redis are always the ARGV strings, never Lua numbers: Lua would
write a millisecond time such as 1764086400000 as "1.7640864e+12".
"""

# The stream step: applies one event to its stream, all or nothing, in the stream's hash slot.
# Reads the stream hash once and writes it once (every redis.call costs Redis CPU on the hot
# path: bench/README.md). Everything it writes is computed, and cjson-encoded, before its first
# write (the dedupe claim): input cjson refuses ends the step with nothing written, so a retry
# is applied rather than told it is a duplicate (DESIGN.md, all or nothing). K and A are the
# script's KEYS and ARGV:
# K[1] stream hash   K[2] timeline zset (event id by createdAt)
# K[3] events hash (event id -> record JSON)   K[4] claim key of this event id (expires)
# K[5] sessions hash (session id -> session JSON)
# A[1] event id   A[2] event name   A[3] createdAt ms   A[4] received ms   A[5] record JSON
# A[6] claim TTL s   A[7] timeline max entries   A[8] state the event sets: "active", "idle"
# or ""   A[9] session id or ""   A[10] session JSON or ""   A[11] sessions max
# A[12] global events max   A[13] stream id   A[14] request id   A[15] remote address
# A[16] delivery log max entries (A[14..16]: the global step's delivery log entry)
# A[17..] field, value pairs of stream attributes (JSON-encoded values)
# Returns {duplicate 0|1, stream version, state, last_event_at}: what the index step needs;
# or {2, why} when the input cannot be stored (nothing was written).
_STREAM_STEP = """
-- The session as it will be stored (merged with the stored one, newest event first) and the
-- session to evict when a new one overflows the bound; or nil and why cjson refused it.
local function session_writes(K, A, created)
  local ok, incoming = pcall(cjson.decode, A[10])
  if not ok or type(incoming) ~= 'table' then
    return nil, "is no JSON object Redis's cjson reads"
  end
  local stored = redis.call('HGET', K[5], A[9])
  local merged = incoming
  if stored then
    merged = cjson.decode(stored)
    local newer = created >= (tonumber(merged['updated_at']) or 0)
    for k, v in pairs(incoming) do
      if newer or merged[k] == nil then merged[k] = v end
    end
  end
  if created >= (tonumber(merged['updated_at']) or 0) then merged['updated_at'] = created end
  local encoded
  ok, encoded = pcall(cjson.encode, merged)
  if not ok then return nil, "holds a value Redis's cjson cannot write back" end
  local evict = nil
  if not stored and redis.call('HLEN', K[5]) >= tonumber(A[11]) then
    local all = redis.call('HGETALL', K[5])
    local n, oldest_at = #all, nil
    all[n + 1] = A[9]  -- the new session comes last (as HSET would add it): it may be oldest
    for i = 1, n + 1, 2 do
      local s = merged
      if i <= n then s = cjson.decode(all[i + 1]) end
      local at = tonumber(s['created_at']) or tonumber(s['updated_at']) or 0
      if not oldest_at or at < oldest_at then evict, oldest_at = all[i], at end
    end
  end
  return {encoded, evict}
end

local function apply_stream(K, A)
  local eid, created = A[1], tonumber(A[3])
  local session = nil
  if A[9] ~= '' then
    local why
    session, why = session_writes(K, A, created)
    if not session then return {2, 'payload.session: ' .. why} end
  end
  local h = redis.call('HMGET', K[1], 'state', 'last_event_at', 'last_event_id', 'state_at',
    'fields_at', 'last_received_at', 'last_started_at', 'last_idle_at', 'first_received_at',
    'version')
  local version, state, last_at = tonumber(h[10]) or 0, h[1] or 'idle', h[2] or '0'
  -- SET NX answers false when the claim exists. An event older than its claim's TTL is still
  -- known while it is in the timeline.
  if not redis.call('SET', K[4], '1', 'NX', 'EX', A[6])
    or redis.call('HEXISTS', K[3], eid) == 1 then
    return {1, version, state, last_at}
  end

  redis.call('ZADD', K[2], A[3], eid)
  redis.call('HSET', K[3], eid, A[5])
  local excess = redis.call('ZCARD', K[2]) - tonumber(A[7])
  if excess > 0 then
    local oldest = redis.call('ZRANGE', K[2], 0, excess - 1)
    redis.call('ZREMRANGEBYRANK', K[2], 0, excess - 1)
    redis.call('HDEL', K[3], unpack(oldest))
  end

  local set = {}  -- field, value pairs: one HSET at the end
  local function put(field, value) set[#set + 1] = field; set[#set + 1] = value end
  local previous_at = tonumber(h[2])
  -- Ties on createdAt are broken by event id so the outcome does not depend on arrival order.
  if not previous_at or created > previous_at or (created == previous_at and eid > h[3]) then
    put('last_event', A[2]); put('last_event_at', A[3]); put('last_event_id', eid)
    last_at = A[3]
  end
  local new_state = A[8]
  if new_state ~= '' then
    local state_at = tonumber(h[4])
    -- For equal createdAt, idle wins: a stream is live only if no idle follows the start.
    if not state_at or created > state_at or (created == state_at and new_state == 'idle') then
      put('state', new_state); put('state_at', A[3])
      state = new_state
    end
    local mark, seen = 'last_idle_at', tonumber(h[8])
    if new_state == 'active' then mark, seen = 'last_started_at', tonumber(h[7]) end
    if not seen or created > seen then put(mark, A[3]) end
  end
  local fields_at = tonumber(h[5])
  if #A > 16 and (not fields_at or created >= fields_at) then
    put('fields_at', A[3])
    for i = 17, #A do set[#set + 1] = A[i] end
  end
  if not h[9] then put('first_received_at', A[4]) end
  if not tonumber(h[6]) or tonumber(A[4]) > tonumber(h[6]) then
    put('last_received_at', A[4])
  end
  -- %d, not tostring: a version is an integer count, never written in exponent form.
  version = version + 1
  put('version', string.format('%d', version))
  redis.call('HSET', K[1], unpack(set))

  if session then
    if session[2] ~= A[9] then redis.call('HSET', K[5], A[9], session[1]) end
    if session[2] and session[2] ~= A[9] then redis.call('HDEL', K[5], session[2]) end
  end
  return {0, version, state, last_at}
end
"""

# The global steps, idempotent but for the delivery log: appending an event to the global
# timeline (trimming the oldest past the bound), noting when a delivery was last accepted
# (duplicates count: they arrived and verified), moving a stream's index entries, and the
# delivery's entry in the delivery log (one per delivery answered, so a retry adds one). Index
# entries move only forward in the stream's version, so two steps racing each other (cluster)
# cannot leave an older state.
_GLOBAL_STEPS = """
local function append_event(zkey, hkey, eid, created, record, max)
  if redis.call('ZADD', zkey, 'NX', created, eid) == 1 then
    redis.call('HSET', hkey, eid, record)
    local excess = redis.call('ZCARD', zkey) - tonumber(max)
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
-- Field letters as in ingest/delivery_log.py: o outcome, e event id, n event name, s stream
-- id, q request id, a remote address. XADD '*': Redis's clock orders the log; `~` trims in
-- whole nodes, far cheaper than an exact bound.
local function log_delivery(key, max, duplicate, eid, event, sid, request_id, remote)
  local entry = {'o', duplicate and 'duplicate' or 'accepted', 'e', eid, 'n', event}
  if sid ~= '' then entry[#entry + 1] = 's'; entry[#entry + 1] = sid end
  if request_id ~= '' then entry[#entry + 1] = 'q'; entry[#entry + 1] = request_id end
  if remote ~= '' then entry[#entry + 1] = 'a'; entry[#entry + 1] = remote end
  redis.call('XADD', key, 'MAXLEN', '~', max, '*', unpack(entry))
end
local function index_stream(streams, active, idle, versions, sid, version, state, last_at)
  local indexed = tonumber(redis.call('HGET', versions, sid))
  if indexed and tonumber(version) < indexed then return 0 end
  redis.call('HSET', versions, sid, version)
  redis.call('ZADD', streams, last_at, sid)
  if state == 'active' then
    redis.call('ZADD', active, last_at, sid)
    redis.call('ZREM', idle, sid)
  else
    redis.call('ZADD', idle, last_at, sid)
    redis.call('ZREM', active, sid)
  end
  return 1
end
"""

# Single Redis: the stream step and the global steps in one script, one EVALSHA per event.
# The global steps also run for a duplicate: it heals an index that an older two-step apply
# (or a crash of one) left behind, on Livepeer's retry.
# KEYS[1..5] and ARGV: the stream step's (above).
# KEYS[6] streams zset (by last_event_at)  KEYS[7] active zset  KEYS[8] idle zset
# KEYS[9] versions hash (stream id -> version indexed)  KEYS[10] events zset
# KEYS[11] events hash  KEYS[12] delivery-times hash  KEYS[13] delivery log stream
# Returns the stream step's answer.
APPLY_AND_INDEX_STREAM_EVENT = (
    _STREAM_STEP
    + _GLOBAL_STEPS
    + """
local answer = apply_stream(KEYS, ARGV)
if answer[1] == 2 then return answer end
append_event(KEYS[10], KEYS[11], ARGV[1], ARGV[3], ARGV[5], ARGV[12])
note_accepted(KEYS[12], ARGV[4])
index_stream(KEYS[6], KEYS[7], KEYS[8], KEYS[9], ARGV[13], string.format('%d', answer[2]),
  answer[3], answer[4])
log_delivery(KEYS[13], ARGV[16], answer[1] == 1, ARGV[1], ARGV[2], ARGV[13], ARGV[14], ARGV[15])
return answer
"""
)

# Redis Cluster, round trip 1 of 2 (the stream's slot): the stream step alone.
APPLY_STREAM_EVENT = _STREAM_STEP + "\nreturn apply_stream(KEYS, ARGV)\n"

# Redis Cluster, round trip 2 of 2 (the global slot), with what the stream step answered;
# also run for duplicates (it heals a crash between the two round trips on Livepeer's retry).
# KEYS[1] streams zset  KEYS[2] active zset  KEYS[3] idle zset  KEYS[4] versions hash
# KEYS[5] events zset  KEYS[6] events hash  KEYS[7] delivery-times hash
# KEYS[8] delivery log stream
# ARGV[1] event id  ARGV[2] createdAt ms  ARGV[3] record JSON  ARGV[4] events max
# ARGV[5] received ms  ARGV[6] stream id  ARGV[7] version  ARGV[8] state  ARGV[9] last_event_at
# ARGV[10] 1 if the stream step found a duplicate  ARGV[11] event name  ARGV[12] request id
# ARGV[13] remote address  ARGV[14] delivery log max entries
INDEX_STREAM_EVENT = (
    _GLOBAL_STEPS
    + """
append_event(KEYS[5], KEYS[6], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
note_accepted(KEYS[7], ARGV[5])
local indexed = index_stream(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[6], ARGV[7], ARGV[8],
  ARGV[9])
log_delivery(KEYS[8], ARGV[14], ARGV[10] == '1', ARGV[1], ARGV[11], ARGV[6], ARGV[12], ARGV[13])
return indexed
"""
)

# Applies an event that belongs to no stream (asset.*, task.*): dedupe claim plus the global
# timeline, in the global slot.
# KEYS[1] events zset  KEYS[2] events hash  KEYS[3] claim key of this event id
# KEYS[4] delivery-times hash  KEYS[5] delivery log stream
# KEYS[6] outcome marker of the named asset (or absent)
# ARGV[1] event id  ARGV[2] createdAt ms  ARGV[3] record JSON  ARGV[4] events max
# ARGV[5] received ms  ARGV[6] claim TTL s  ARGV[7] event name  ARGV[8] marker TTL s
# ARGV[9] request id  ARGV[10] remote address  ARGV[11] delivery log max entries
# Returns 1 when the event was already applied, else 0.
APPLY_GLOBAL_EVENT = (
    _GLOBAL_STEPS
    + """
note_accepted(KEYS[4], ARGV[5])
local duplicate = not redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[6])
  or redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1
log_delivery(KEYS[5], ARGV[11], duplicate, ARGV[1], ARGV[7], '', ARGV[9], ARGV[10])
if duplicate then return 1 end
append_event(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
if KEYS[6] then redis.call('SET', KEYS[6], ARGV[7], 'EX', ARGV[8]) end
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
