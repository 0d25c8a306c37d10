-- popular.lua (wrk): GET /v1/popular?k=10, for read latency while writers load the store.
request = function() return wrk.format("GET", "/v1/popular?k=10") end
