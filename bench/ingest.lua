-- wrk script: POST a crowd report from a new client address each time (X-Forwarded-For, so
-- the server must run with trusted_proxies covering 127.0.0.1). Plain arithmetic instead of
-- bit operators, so it runs on LuaJIT (Debian's wrk) as well as Lua 5.3+.
local n = 0
local pause = 0
-- An optional first argument (wrk ... -- OFFSET) starts the addresses elsewhere, so several
-- wrk processes send distinct clients; an optional second one (ms) makes each connection
-- wait that long before each request, which caps the rate (connections * 1000 / ms per
-- second) instead of sending as fast as the server answers.
init = function(args)
  n = tonumber(args[1]) or 0
  pause = tonumber(args[2]) or 0
end
delay = function()
  return pause
end
local problems = {"login", "playback", "playlists", "connection"}
local platforms = {"ios", "android", "desktop", "web"}
request = function()
  n = n + 1
  local ip = string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256)
  local body = string.format('{"problem":"%s","platform":"%s","country":"GB"}', problems[(n % 4) + 1], platforms[(n % 4) + 1])
  return wrk.format("POST", wrk.path, {["Content-Type"] = "application/json", ["X-Forwarded-For"] = ip}, body)
end
