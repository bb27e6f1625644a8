-- wrk script: POST a raw JPEG, unique per request so pixstash's dedup never short-cuts.
-- Usage: wrk -s upload.lua URL -- /path/to/file.jpg run-nonce
-- Each body is SOI + a COM segment ("\xFF\xFE", 2-byte big-endian length, counter text)
-- + the rest of the file after its SOI: still a valid JPEG, with a new content hash.

local threads = {}
local next_tid = 1

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

local rest, nonce
local counter = 0
local headers = { ["Content-Type"] = "image/jpeg" }
ok, bad = 0, 0

function init(args)
  local f = assert(io.open(args[1], "rb"))
  local data = f:read("*a")
  f:close()
  assert(data:sub(1, 2) == "\255\216", "not a JPEG (no SOI)")
  rest = data:sub(3)
  nonce = args[2] or "run"
  wrk.method = "POST"
end

function request()
  counter = counter + 1
  local text = string.format("pixstash-bench %s %d %d", nonce, tid, counter)
  local length = #text + 2
  local com = "\255\254" .. string.char(math.floor(length / 256), length % 256) .. text
  return wrk.format("POST", wrk.path, headers, "\255\216" .. com .. rest)
end

function response(status, resp_headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    bad = bad + 1
    if bad <= 3 then
      io.stderr:write(string.format("upload answered %d: %s\n", status, body:sub(1, 300)))
    end
  end
end

function done(summary, latency, requests)
  local n_bad = 0
  for _, thread in ipairs(threads) do
    n_bad = n_bad + thread:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
      .. '"max_us": %d, "non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, n_bad, e.connect + e.read + e.write + e.timeout))
end
