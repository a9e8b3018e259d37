-- wrk script: replays pre-signed raw HTTP requests, each at most once per thread.
--
--   wrk -t T -c C -d D -s bench/wrk_replay.lua http://127.0.0.1:PORT -- <file> <T>
--
-- <file> holds complete HTTP/1.1 requests separated by NUL bytes (bench/deliveries.py writes
-- it; JSON bodies never contain NUL). Thread k of T sends requests k, k+T, k+2T, ...; a thread
-- that runs out starts over and counts a wrap (re-sent deliveries are duplicates, so the
-- harness treats any wrap as an invalid run). done() prints one line: BENCH_JSON {...}.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local path, nthreads = args[1], tonumber(args[2] or "1")
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  reqs = {}
  local i, pos = 0, 1
  while true do
    local s = string.find(data, "\0", pos, true)
    if not s then break end
    if i % nthreads == tid then reqs[#reqs + 1] = string.sub(data, pos, s - 1) end
    i = i + 1
    pos = s + 1
  end
  sent, wraps, available = 0, 0, #reqs
end

function request()
  sent = sent + 1
  if sent > #reqs then
    sent = 1
    wraps = wraps + 1
  end
  return reqs[sent]
end

function done(summary, latency, requests)
  local wrapped, available = 0, 0
  for _, thread in ipairs(threads) do
    wrapped = wrapped + (thread:get("wraps") or 0)
    available = available + (thread:get("available") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,' ..
    '"read_errors":%d,"write_errors":%d,"status_errors":%d,"timeouts":%d,"wraps":%d,' ..
    '"available":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, wrapped, available, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
