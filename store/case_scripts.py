"""The Lua scripts behind `store.cases`: open-or-join, update, list. One script per change, so
a case, its indexes, the customer's open-cases hash and both streams (`cases` for ingest,
`case-events` for webhooks) change together or not at all.

Case and index keys share the prefix `tp:{cases}:` (ARGV), built inside the scripts for a
case found by id (the join and the listing walk): every such key is in the `{cases}` slot.
"""

from __future__ import annotations

# The listing indexes of a case, as `(order, key suffix)` per dimension; scores per order:
# `new` = -created_ms (newest first), `urgent` = priority_rank × 1e13 + due_ms.
COMMON = """
local DIMS = {'status', 'queue', 'touchpoint', 'priority'}
local NUMERIC = {version = 1, score = 1, severity = 1, answers = 1, priority_score = 1,
                 value = 1, priority_rank = 1, created_ms = 1, due_ms = 1}
local function scores(c)
  return {new = string.format('%.0f', -tonumber(c.created_ms)),
          urgent = string.format('%.0f', tonumber(c.priority_rank) * 1e13 + tonumber(c.due_ms))}
end
local function index(prefix, id, c, op, only)
  for order, s in pairs(scores(c)) do
    local base = prefix .. 'ix:' .. order .. ':'
    if not only then
      if op == 'ZADD' then redis.call('ZADD', base .. 'all', s, id) end
      if op == 'ZREM' then redis.call('ZREM', base .. 'all', id) end
    end
    for _, dim in ipairs(DIMS) do
      if (not only) or only == dim then
        local key = base .. dim .. ':' .. c[dim]
        if op == 'ZADD' then redis.call('ZADD', key, s, id) else redis.call('ZREM', key, id) end
      end
    end
  end
end
local function read_case(key)
  local flat = redis.call('HGETALL', key)
  local c = {}
  for i = 1, #flat, 2 do c[flat[i]] = flat[i + 1] end
  return c
end
local function typed(c)
  local out = {}
  for k, v in pairs(c) do
    if NUMERIC[k] then out[k] = tonumber(v) else out[k] = v end
  end
  return out
end
local function announce(case_stream, event_stream, maxlen, entry, c)
  local t = typed(c)
  entry.case = t
  entry.queue = c.queue
  redis.call('XADD', event_stream, 'MAXLEN', '~', maxlen, '*', 'd', cjson.encode(entry))
  t.record_id = entry.event_id
  t.kind = entry.kind
  t.at = entry.at
  redis.call('XADD', case_stream, 'MAXLEN', '~', maxlen, '*', 'd', cjson.encode(t))
end
"""

# KEYS: open-cases hash, new case hash, cases stream, case-events stream.
# ARGV: touchpoint, new id, case JSON (strings), event entry (`case.opened`; made
#       `case.joined` for a join), prefix, maxlen, now ISO. Returns {kind, case id}: a second
#       bad answer for the same customer and touchpoint joins the open case (answers + 1,
#       its latest score, the more urgent priority).
OPEN_OR_JOIN = (
    COMMON
    + """
local prefix, maxlen, now = ARGV[5], ARGV[6], ARGV[7]
local answer = cjson.decode(ARGV[3])
local entry = cjson.decode(ARGV[4])
local existing = redis.call('HGET', KEYS[1], ARGV[1])
local id
if existing and redis.call('EXISTS', prefix .. 'case:' .. existing) == 1 then
  id = existing
  local key = prefix .. 'case:' .. id
  entry.kind = 'case.joined'
  local c = read_case(key)
  redis.call('HSET', key, 'score', answer.score, 'survey', answer.survey,
             'comment', answer.comment, 'response_id', answer.response_id,
             'updated_at', now, 'last_answer_at', now)
  redis.call('HINCRBY', key, 'answers', 1)
  if tonumber(answer.priority_score) > tonumber(c.priority_score) then
    index(prefix, id, c, 'ZREM')  -- the urgent scores and the priority sets change
    for _, f in ipairs({'priority', 'priority_score', 'priority_rank', 'severity', 'value'}) do
      c[f] = answer[f]
      redis.call('HSET', key, f, answer[f])
    end
    index(prefix, id, c, 'ZADD')
  end
  redis.call('HINCRBY', key, 'version', 1)
  announce(KEYS[3], KEYS[4], maxlen, entry, read_case(key))
else
  id = ARGV[2]
  answer.case_id, answer.version, answer.answers, answer.updated_at = id, '1', '1', now
  local flat = {}
  for f, v in pairs(answer) do
    flat[#flat + 1] = f
    flat[#flat + 1] = v
  end
  redis.call('HSET', KEYS[2], unpack(flat))
  redis.call('HSET', KEYS[1], ARGV[1], id)
  index(prefix, id, answer, 'ZADD')
  announce(KEYS[3], KEYS[4], maxlen, entry, answer)
end
return {entry.kind, id}
"""
)

# KEYS: case hash, open-cases hash, cases stream, case-events stream, notes list.
# ARGV: expected version, changes JSON, note JSON or '', entry JSON, prefix, maxlen, id.
# Returns {'ok', version} | {'missing'} | {'stale', version}.
UPDATE = (
    COMMON
    + """
local prefix, maxlen, id = ARGV[5], ARGV[6], ARGV[7]
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
local c = read_case(KEYS[1])
if c.version ~= ARGV[1] then return {'stale', c.version} end
local changes = cjson.decode(ARGV[2])
if changes.status and changes.status ~= c.status then
  index(prefix, id, c, 'ZREM', 'status')
  if changes.status == 'resolved' or changes.status == 'closed_no_action' then
    if redis.call('HGET', KEYS[2], c.touchpoint) == id then
      redis.call('HDEL', KEYS[2], c.touchpoint)
    end
  end
end
for f, v in pairs(changes) do
  redis.call('HSET', KEYS[1], f, v)
  c[f] = v
end
if changes.status then index(prefix, id, c, 'ZADD', 'status') end
if ARGV[3] ~= '' then redis.call('RPUSH', KEYS[5], ARGV[3]) end
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
announce(KEYS[3], KEYS[4], maxlen, cjson.decode(ARGV[4]), read_case(KEYS[1]))
return {'ok', tostring(version)}
"""
)

# On Redis Cluster, the customer's copy of the open cases (`store.cases`) after a close.
# KEYS: the copy; ARGV: touchpoint, case id. Deletes the entry only if it names this case.
FORGET_OPEN = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
"""

# ARGV: prefix, order, cursor score ('' = from the start), cursor id, limit, budget, then
# filter pairs (dimension, value). Walks the smallest index among the filters' (or `all`)
# in ascending (score, id) order from just after the cursor's case (found by ZRANK; by its
# score when it has left that index), keeps cases matching every filter, stops at `limit`
# cases or `budget` entries scanned. In the urgent order a priority's cases lie between the
# first and the last score of that priority's index: the walk reads that range alone.
# Returns {next score, next id, done, case flat...}.
LIST = """
local prefix, order = ARGV[1], ARGV[2]
local after_score, after_id = ARGV[3], ARGV[4]
local limit, budget = tonumber(ARGV[5]), tonumber(ARGV[6])
local low, high = '', ''
local filters, walk, smallest = {}, prefix .. 'ix:' .. order .. ':all', nil
for i = 7, #ARGV, 2 do
  filters[#filters + 1] = {ARGV[i], ARGV[i + 1]}
  local key = prefix .. 'ix:' .. order .. ':' .. ARGV[i] .. ':' .. ARGV[i + 1]
  local n = redis.call('ZCARD', key)
  if smallest == nil or n < smallest then smallest, walk = n, key end
  if order == 'urgent' and ARGV[i] == 'priority' then
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
    if #first == 0 then return {'', '', '1'} end
    low, high = first[2], last[2]
  end
end
local start, skip_ties = 0, false
if after_score ~= '' then
  local rank = redis.call('ZRANK', walk, after_id)
  local score = rank and redis.call('ZSCORE', walk, after_id)
  if rank and tonumber(score) == tonumber(after_score) then
    start = rank + 1
  else
    start = redis.call('ZCOUNT', walk, '-inf', '(' .. after_score)
    skip_ties = true
  end
end
if low ~= '' then
  start = math.max(start, redis.call('ZCOUNT', walk, '-inf', '(' .. low))
end
local out = {'', '', '1'}
local found, scanned = 0, 0
local last_score, last_id = after_score, after_id
while found < limit and scanned < budget do
  local batch = redis.call('ZRANGE', walk, start, start + 199, 'WITHSCORES')
  if #batch == 0 then return out end
  start = start + #batch / 2
  for i = 1, #batch, 2 do
    local id, score = batch[i], batch[i + 1]
    if high ~= '' and tonumber(score) > tonumber(high) then return out end
    if not (skip_ties and tonumber(score) == tonumber(after_score) and id <= after_id) then
      scanned = scanned + 1
      last_score, last_id = score, id
      local key = prefix .. 'case:' .. id
      local ok = true
      for _, f in ipairs(filters) do
        if redis.call('HGET', key, f[1]) ~= f[2] then ok = false break end
      end
      if ok then
        out[#out + 1] = redis.call('HGETALL', key)
        found = found + 1
      end
      if found >= limit or scanned >= budget then break end
    end
  end
end
out[1], out[2], out[3] = last_score, last_id, '0'
return out
"""
