-- events.lua (wrk): POST /v1/events, batches of BATCH (default 100) random Beauty (user, item) events
local batch = tonumber(os.getenv("BATCH") or "100")
math.randomseed(7)
request = function()
  local parts = {}
  for k = 1, batch do
    parts[k] = string.format('{"user":"%d","item":"%d"}', math.random(1, 22363), math.random(1, 12101))
  end
  return wrk.format("POST", "/v1/events", {["Content-Type"] = "application/json"}, "[" .. table.concat(parts, ",") .. "]")
end
