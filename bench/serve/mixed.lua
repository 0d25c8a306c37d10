-- mixed.lua (wrk): the soak mix: 90% recommendations for random users (a tenth of them users that do not exist
-- yet), 10% event batches of 10 that create new users, so the store grows while memory must not.
math.randomseed(11)
local n = 0
request = function()
  n = n + 1
  if n % 10 == 0 then
    local parts = {}
    for k = 1, 10 do
      parts[k] = string.format('{"user":"soak-%d","item":"%d"}', math.random(1, 1000000), math.random(1, 12101))
    end
    return wrk.format("POST", "/v1/events", {["Content-Type"] = "application/json"}, "[" .. table.concat(parts, ",") .. "]")
  end
  local u = (n % 10 == 5) and ("soak-" .. math.random(1, 1000000)) or tostring(math.random(1, 22363))
  return wrk.format("GET", "/v1/users/" .. u .. "/recommendations?k=10")
end
