-- wrk load for the personalisation API: a random customer id per request.
-- env: TP_IDS (file, one customer id per line), TP_MODE (get | post), TP_K (default 10),
--   TP_KEY (optional: an API key, sent as `Authorization: Bearer …`)
--   GET  /v1/customers/<id>/recommendations?k=<k>
--   POST /v1/personalize with three slots (4 products, 3 offers, 3 products)
-- Ends with one machine-readable line: TPJSON {...}
local ids = {}
local mode = os.getenv("TP_MODE") or "get"
local k = os.getenv("TP_K") or "10"
local key = os.getenv("TP_KEY")
local auth = {}
if key and key ~= "" then auth["Authorization"] = "Bearer " .. key end

for line in io.lines(os.getenv("TP_IDS")) do
  ids[#ids + 1] = line
end

init = function(args)
  math.randomseed(os.time() + #ids)
end

request = function()
  local id = ids[math.random(#ids)]
  if mode == "post" then
    local body = '{"customer_id":"' .. id .. '","channel":"web","slots":['
      .. '{"name":"hero","kind":"product","k":4},'
      .. '{"name":"deals","kind":"offer","k":3},'
      .. '{"name":"more","kind":"product","k":3}]}'
    local headers = {["Content-Type"] = "application/json"}
    for name, value in pairs(auth) do headers[name] = value end
    return wrk.format("POST", "/v1/personalize", headers, body)
  end
  return wrk.format("GET", "/v1/customers/" .. id .. "/recommendations?k=" .. k, auth)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'TPJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f,' ..
    '"socket_errors":%d,"non_2xx":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, e.connect + e.read + e.write + e.timeout, e.status))
end
