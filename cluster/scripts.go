package cluster

import "github.com/redis/go-redis/v9"

// The scripts run atomically in Redis, on Redis's clock (TIME), so that nodes
// whose clocks differ still agree on what has expired.

// nowMS is the Lua prelude giving Redis's time in milliseconds.
const nowMS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// acquireScript takes a slot: KEYS[1] is a sorted set of tokens scored by
// their lease's end. ARGV: limit (0 = none), lease in ms, token. It drops the
// expired leases, refuses when limit are live, else adds the token. Returns
// 1 taken, 0 full.
var acquireScript = redis.NewScript(nowMS + `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local limit = tonumber(ARGV[1])
if limit > 0 and redis.call('ZCARD', KEYS[1]) >= limit then
	return 0
end
local lease = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + lease, ARGV[3])
if redis.call('PTTL', KEYS[1]) < lease then
	redis.call('PEXPIRE', KEYS[1], lease)
end
return 1
`)

// renewScript extends the leases of the tokens ARGV[2..] in KEYS[1] by
// ARGV[1] ms, adding those that are gone (a lease that ran out while Redis
// was unreachable, or a Redis that lost its data): a live session keeps its
// slot. Returns the number of live slots.
var renewScript = redis.NewScript(nowMS + `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local lease = tonumber(ARGV[1])
for i = 2, #ARGV do
	redis.call('ZADD', KEYS[1], now + lease, ARGV[i])
end
if redis.call('PTTL', KEYS[1]) < lease then
	redis.call('PEXPIRE', KEYS[1], lease)
end
return redis.call('ZCARD', KEYS[1])
`)

// countScript counts the live slots of KEYS[1].
var countScript = redis.NewScript(nowMS + `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
`)

// failureScript counts one failure in KEYS[1], starting a window of ARGV[1]
// ms with the first. Returns the count.
var failureScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then
	redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
`)

// addBanScript records a ban: KEYS[1] the sorted set of banned prefixes
// scored by their end (ms, "+inf" for none), KEYS[2] the hash of their JSON.
// ARGV: prefix, score, JSON, channel, message, merge. With merge = "1" a ban
// already there that ends later is kept. A recorded ban is published on the
// channel. Returns 1 recorded, 0 kept.
var addBanScript = redis.NewScript(`
if ARGV[6] == '1' then
	local old = redis.call('ZSCORE', KEYS[1], ARGV[1])
	if old and tonumber(old) >= tonumber(ARGV[2]) then
		return 0
	end
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
`)

// removeBanScript lifts the ban of ARGV[1] and publishes ARGV[3] on channel
// ARGV[2] if there was one. Returns 1 lifted, 0 none.
var removeBanScript = redis.NewScript(`
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then
	redis.call('HDEL', KEYS[2], ARGV[1])
	return 0
end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`)

// liveScript serves the bans and the sessions directory alike: KEYS[1] is a
// sorted set of members scored by when they end, KEYS[2] the hash of their
// JSON. It drops the members that have ended and returns the JSON of the
// others.
var liveScript = redis.NewScript(nowMS + `
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
for _, m in ipairs(gone) do
	redis.call('HDEL', KEYS[2], m)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
local out = {}
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
	local v = redis.call('HGET', KEYS[2], m)
	if v then
		out[#out + 1] = v
	end
end
return out
`)

// publishSessionsScript stores one instance's sessions: KEYS[1] the hash of
// every instance's JSON, KEYS[2] the sorted set of instances scored by the
// entry's end. ARGV: instance, JSON, ttl in ms.
var publishSessionsScript = redis.NewScript(nowMS + `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[1])
return 1
`)
