-- wrk script for bench/orders_http.py: POST /api/v1/orders with a fresh 2-line order per request.
--
-- Usage: wrk -s bench/wrk/orders.lua http://127.0.0.1:PORT -- TOKEN SKU_PREFIX SKU_COUNT CHANNEL
--
-- SKUs are SKU_PREFIX .. zero-padded index (1..SKU_COUNT); each SKU's price follows price_cents()
-- below, the same rule the Python seeder uses, so every unit_price matches the catalogue. Amounts
-- are kept in integer cents so that lines + shipping + tax - discount = total holds exactly.
-- done() prints one line starting with "BENCH_RESULT " followed by a JSON object.

-- response() and done() (the BENCH_RESULT line) come from report.lua, beside this file.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")

local token, prefix, count, channel

local function price_cents(i)
  return 500 + (i * 37) % 5000
end

local function money(cents)
  return string.format("%d.%02d", math.floor(cents / 100), cents % 100)
end

local function sku(i)
  return string.format("%s%04d", prefix, i)
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
