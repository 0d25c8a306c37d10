-- events.lua (wrk): POST /v1/events, batches of BATCH (default 100) random (user, item) events (Beauty's ids by default)
local batch = tonumber(os.getenv("BATCH") or "100")
local users = tonumber(os.getenv("USERS") or "22363")
local items = tonumber(os.getenv("ITEMS") or "12101")
local prefix = os.getenv("ITEM_PREFIX") or ""  -- "i" for the synthetic data (items i1, i2, ...)
math.randomseed(7)
request = function()
  local parts = {}
  for k = 1, batch do
    parts[k] = string.format('{"user":"%d","item":"%s%d"}', math.random(1, users), prefix, math.random(1, items))
  end
  return wrk.format("POST", "/v1/events", {["Content-Type"] = "application/json"}, "[" .. table.concat(parts, ",") .. "]")
end
