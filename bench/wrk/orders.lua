-- wrk script for bench/orders_http.py: POST /api/v1/orders with a fresh 2-line order per request.
--
-- Usage: wrk -s bench/wrk/orders.lua http://127.0.0.1:PORT -- TOKEN SKU_PREFIX SKU_COUNT CHANNEL
--
-- SKUs are SKU_PREFIX .. zero-padded index (1..SKU_COUNT); each SKU's price follows price_cents()
-- below, the same rule the Python seeder uses, so every unit_price matches the catalogue. Amounts
-- are kept in integer cents so that lines + shipping + tax - discount = total holds exactly.
-- done() prints one line starting with "BENCH_RESULT " followed by a JSON object.

local token, prefix, count, channel
-- Globals, not locals: done() reads them back from each thread with thread:get().
statuses = {}  -- status code -> count
samples = {}   -- a few bodies of non-2xx answers, for the report
local threads = {}

local function price_cents(i)
  return 500 + (i * 37) % 5000
end

local function money(cents)
  return string.format("%d.%02d", math.floor(cents / 100), cents % 100)
end

local function sku(i)
  return string.format("%s%04d", prefix, i)
end

function setup(thread)
  thread:set("thread_no", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  token, prefix, count, channel = args[1], args[2], tonumber(args[3]), args[4]
  if not (token and prefix and count and channel) then
    io.stderr:write("orders.lua needs: -- TOKEN SKU_PREFIX SKU_COUNT CHANNEL\n")
    os.exit(2)
  end
  math.randomseed(os.time() * 1000 + (thread_no or 0) * 7919)
  wrk.method = "POST"
  wrk.path = "/api/v1/orders"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
  local a = math.random(1, count)
  local b = math.random(1, count - 1)
  if b >= a then b = b + 1 end  -- two different SKUs
  local qa, qb = math.random(1, 3), math.random(1, 2)
  local lines = qa * price_cents(a) + qb * price_cents(b)
  local shipping = 495
  local tax = math.floor(lines * 8 / 100)
  local discount = (lines > 5000) and 500 or 0
  local total = lines + shipping + tax - discount
  local n = math.random(1, 1000000)
  local body = string.format(
    '{"channel":"%s","customer":{"email":"shopper%d@example.com","name":"Shopper %d"},'
      .. '"shipping_address":{"name":"Shopper %d","line1":"%d Atlantic Ave","city":"Brooklyn",'
      .. '"region":"NY","postal_code":"11201","country":"US"},'
      .. '"lines":[{"sku":"%s","quantity":%d,"unit_price":"%s"},{"sku":"%s","quantity":%d,"unit_price":"%s"}],'
      .. '"currency":"USD","shipping_total":"%s","tax_total":"%s","discount_total":"%s","total":"%s",'
      .. '"payment":{"status":"paid","amount":"%s","method":"card"}}',
    channel, n, n, n, n % 900 + 1,
    sku(a), qa, money(price_cents(a)), sku(b), qb, money(price_cents(b)),
    money(shipping), money(tax), money(discount), money(total), money(total)
  )
  return wrk.format(nil, nil, nil, body)
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
  local merged, bodies = {}, {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses") or {}) do
      merged[code] = (merged[code] or 0) + n
    end
    for _, s in ipairs(t:get("samples") or {}) do
      if #bodies < 3 then table.insert(bodies, s) end
    end
  end
  local parts = {}
  for code, n in pairs(merged) do
    table.insert(parts, string.format('"%d":%d', code, n))
  end
  local quoted = {}
  for _, s in ipairs(bodies) do table.insert(quoted, json_string(s)) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"duration_us":%d,"requests":%d,"bytes":%d,"statuses":{%s},'
      .. '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"non_2xx":%d,'
      .. '"latency_us":{"p50":%d,"p90":%d,"p95":%d,"p99":%d,"max":%d,"mean":%.1f},"error_samples":[%s]}\n',
    summary.duration, summary.requests, summary.bytes, table.concat(parts, ","),
    e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean, table.concat(quoted, ",")
  ))
end
