-- Shared by the wrk scripts of bench/: counts answers by status, keeps a few bodies of failed
-- ones, and prints one line "BENCH_RESULT {...}" (JSON) at the end, which the Python side parses.
-- A script loads it with dofile() and may count extra outcomes in the global table `extra`.

-- Globals, not locals: done() reads them back from each thread with thread:get().
statuses = {}  -- status code -> count
samples = {}   -- a few bodies of non-2xx answers, for the report
extra = {}     -- name -> count, whatever else a script wants reported
local threads = {}

function setup(thread)
  thread:set("thread_no", #threads + 1)
  table.insert(threads, thread)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if (status < 200 or status > 299) and #samples < 3 then
    table.insert(samples, string.sub(body or "", 1, 300))
  end
end

local function json_string(s)
  s = string.gsub(s, '[%c"\\]', function(c)
    if c == '"' then return '\\"' elseif c == "\\" then return "\\\\" end
    return string.format("\\u%04x", string.byte(c))
  end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local merged, bodies, extras = {}, {}, {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses") or {}) do
      merged[code] = (merged[code] or 0) + n
    end
    for name, n in pairs(t:get("extra") or {}) do
      extras[name] = (extras[name] or 0) + n
    end
    for _, s in ipairs(t:get("samples") or {}) do
      if #bodies < 3 then table.insert(bodies, s) end
    end
  end
  local parts = {}
  for code, n in pairs(merged) do
    table.insert(parts, string.format('"%d":%d', code, n))
  end
  local extra_parts = {}
  for name, n in pairs(extras) do
    table.insert(extra_parts, string.format('%s:%d', json_string(name), n))
  end
  local quoted = {}
  for _, s in ipairs(bodies) do table.insert(quoted, json_string(s)) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"duration_us":%d,"requests":%d,"bytes":%d,"statuses":{%s},"extra":{%s},'
      .. '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"non_2xx":%d,'
      .. '"latency_us":{"p50":%d,"p90":%d,"p95":%d,"p99":%d,"max":%d,"mean":%.1f},"error_samples":[%s]}\n',
    summary.duration, summary.requests, summary.bytes, table.concat(parts, ","),
    table.concat(extra_parts, ","),
    e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean, table.concat(quoted, ",")
  ))
end
