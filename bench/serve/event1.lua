-- event1.lua (wrk): POST /v1/events with ONE random event per request (durable single-event ingestion).
-- USERS / ITEMS (env) bound the random external ids (default 3000 / 1500: the embedded synthetic data).
local users = tonumber(os.getenv("USERS") or "3000")
local items = tonumber(os.getenv("ITEMS") or "1500")
local prefix = os.getenv("ITEM_PREFIX") or "i"  -- the synthetic data names items i1, i2, ...
local counter = 0
setup = function(thread) thread:set("id", counter); counter = counter + 1 end
init = function() math.randomseed(1000 + id) end
request = function()
  local body = string.format('[{"user":"u%d","item":"%s%d"}]', math.random(1, users), prefix,
                             math.random(1, items))
  return wrk.format("POST", "/v1/events", {["Content-Type"] = "application/json"}, body)
end
