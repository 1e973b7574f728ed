-- wrk script for bench/scans_http.py: picking scans, each connection walking its own pick lists.
--
-- Usage: wrk -t N -c N -s bench/wrk/scans.lua http://127.0.0.1:PORT -- TOKEN DIR
--
-- DIR holds one file per connection, scans-<n>.txt, one scan per line: "<pick list id><TAB><JSON
-- body>", in the order a picker scans (the bin, the item, the quantity, task after task). With as
-- many threads as connections, each thread's one connection sends its own file's scans in order.
-- A thread whose file runs out asks for GET /healthz instead and counts it as "exhausted": the
-- Python side then calls the run invalid (it prepared too few pick lists).
-- done() (report.lua) prints one line starting with "BENCH_RESULT " followed by a JSON object.

dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")

local scans, next_scan = {}, 1

function init(args)
  local token, dir = args[1], args[2]
  if not (token and dir) then
    io.stderr:write("scans.lua needs: -- TOKEN DIR\n")
    os.exit(2)
  end
  for line in io.lines(string.format("%s/scans-%d.txt", dir, thread_no)) do
    local list, body = line:match("^(%d+)\t(.*)$")
    table.insert(scans, {"/api/v1/pick-lists/" .. list .. "/scans", body})
  end
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
  local scan = scans[next_scan]
  if scan == nil then
    extra.exhausted = (extra.exhausted or 0) + 1
    return wrk.format("GET", "/healthz")
  end
  next_scan = next_scan + 1
  return wrk.format("POST", scan[1], nil, scan[2])
end
