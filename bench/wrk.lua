-- wrk script for bench/run.sh: the request comes from the environment, the
-- summary is printed as one machine-readable line.
--   BENCH_METHOD (GET), BENCH_BODY (JSON), BENCH_TOKEN (bearer token),
--   BENCH_ACCEPT_ENCODING (sent as Accept-Encoding; none by default)
local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
local token = os.getenv("BENCH_TOKEN")
local accept_encoding = os.getenv("BENCH_ACCEPT_ENCODING")

wrk.method = method
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
if accept_encoding and accept_encoding ~= "" then
  wrk.headers["Accept-Encoding"] = accept_encoding
end
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  -- RESULT requests rps p50_ms p99_ms max_ms non2xx socket_errors
  io.write(string.format("RESULT %d %.1f %.2f %.2f %.2f %d %d\n",
    summary.requests,
    summary.requests / seconds,
    latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    latency.max / 1000,
    e.status,
    e.connect + e.read + e.write + e.timeout))
end
