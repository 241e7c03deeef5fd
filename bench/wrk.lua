-- wrk script of bench/loadgen.ts: replays the raw HTTP requests of the file BENCH_REQUESTS in order, cycling
-- (records "<byte length>\n<request bytes>", rendered by the load generator before the window), and prints one
-- RESULT line that loadgen.ts parses.
local requests, count, cursor = {}, 0, 0

function init(args)
  local file = assert(io.open(os.getenv("BENCH_REQUESTS"), "rb"))
  local data = file:read("*a")
  file:close()
  local pos = 1
  while pos <= #data do
    local newline = data:find("\n", pos, true)
    local length = tonumber(data:sub(pos, newline - 1))
    count = count + 1
    requests[count] = data:sub(newline + 1, newline + length)
    pos = newline + 1 + length
  end
end

function request()
  cursor = cursor + 1
  if cursor > count then cursor = 1 end
  return requests[cursor]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d non2xx=%d sock_errors=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
