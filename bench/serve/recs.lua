-- recs.lua (wrk): GET /v1/users/{random Beauty user}/recommendations?k=10
math.randomseed(42)
request = function()
  return wrk.format("GET", "/v1/users/" .. math.random(1, 22363) .. "/recommendations?k=10")
end
