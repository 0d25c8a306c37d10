-- online_recs.lua (wrk): GET /v1/users/u{random synthetic user}/recommendations?k=10 (USERS, default 3000)
local users = tonumber(os.getenv("USERS") or "3000")
math.randomseed(42)
request = function()
  return wrk.format("GET", "/v1/users/u" .. math.random(1, users) .. "/recommendations?k=10")
end
