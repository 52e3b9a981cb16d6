-- The mixed workload of bench/load.sh, for wrk (Debian's wrk 4, LuaJIT).
--
-- Each request is one GraphQL operation, picked by weight:
--   read    case(id) by a member of the case's team (lead or partner agency)
--   list    cases(first: 20) by a lead agency, or the referral queue by its intake
--   submit  submitReferral by the hospital to a social service
--   triage  triageReferral ACCEPT of a referral this thread submitted
--   place   recordPlacement of a case's subjects in a facility (CONFLICT when full)
--   end     endPlacement of a placement this thread recorded
-- A write counts as acknowledged only when its answer carries the new row's id;
-- each one is appended to this thread's ack file, which load.sh checks against the
-- database after the run. Nothing here decides whether the hub was right: the
-- checks in load.sh do.
--
-- The data (tokens, case ids, persons, facilities) comes from the Lua file named
-- by RETE_LOAD_DATA, written by load.sh from the seeded database.

local data = dofile(os.getenv("RETE_LOAD_DATA"))
local tag = os.getenv("RETE_LOAD_TAG") or "1"

local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

-- Per thread (each wrk thread has its own Lua state).
counts = {}
local ack
local queued = {}      -- referrals submitted here, not yet triaged: {id, agency}
local placed = {}      -- placements recorded here, not yet ended
local seq = 0
local t0 = tonumber(os.getenv("RETE_LOAD_T0") or "") or os.time()

local function bump(key)
  counts[key] = (counts[key] or 0) + 1
end

function init(args)
  math.randomseed(os.time() * 1000 + tid * 7919 + tonumber(tag) * 104729)
  local path = data.ack_dir .. "/ack-" .. tag .. "-" .. tid .. ".tsv"
  ack = io.open(path, "w")
  ack:setvbuf("line")
end

local function pick(list)
  return list[math.random(#list)]
end

local function gql(token, query, variables)
  local body = '{"query":"' .. query .. '","variables":' .. variables .. '}'
  return wrk.format("POST", "/graphql", {
    ["Authorization"] = "Bearer " .. data.tokens[token],
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json",
  }, body)
end

local READ = "query Read($id: ID!) { case(id: $id) { id reference status riskLevel "
  .. "subjects { role person { id givenName familyName birthOn } } "
  .. "team { agency { id } role active } } }"
local LIST_CASES = "query List { cases(first: 20) { totalCount edges { node { id reference status } } } }"
local LIST_QUEUE = "query Queue { referralQueue(first: 20) { id urgency receivedAt } }"
local SUBMIT = "mutation Submit($input: SubmitReferralInput!) { submitReferral(input: $input) { id addressedTo { id } } }"
local TRIAGE = "mutation Triage($input: TriageReferralInput!) { triageReferral(input: $input) { id case { id } } }"
local PLACE = "mutation Place($input: RecordPlacementInput!) { recordPlacement(input: $input) { id case { leadAgency { id } } } }"
local END = "mutation End($input: EndPlacementInput!) { endPlacement(input: $input) { id endOn } }"

local function read()
  local r = pick(data.reads)
  return gql(r[1], READ, '{"id":"' .. r[2] .. '"}')
end

local ops = {
  { 40, read },
  { 20, function()
      if math.random(2) == 1 then
        return gql(pick(data.leads), LIST_CASES, "{}")
      end
      return gql(pick(data.intakes), LIST_QUEUE, "{}")
    end },
  { 15, function()
      seq = seq + 1
      local to = pick(data.services)
      return gql("ospedale-regina/HEALTH_PROFESSIONAL", SUBMIT,
        '{"input":{"addressedTo":"' .. to .. '","channel":"PHONE","urgency":"HIGH",'
        .. '"reasons":["NEGLECT"],"description":"carico di prova (bench/load.sh)",'
        .. '"subjects":[{"role":"CHILD","newPerson":{"givenName":"Carico","familyName":"Prova '
        .. tag .. "-" .. tid .. "-" .. seq .. '","birthOn":"2018-03-0' .. (1 + seq % 9) .. '"}}]}}')
    end },
  { 10, function()
      local r = table.remove(queued, 1)
      if not r then return read() end
      return gql(r[2] .. "/INTAKE_OPERATOR", TRIAGE,
        '{"input":{"referralId":"' .. r[1] .. '","decision":"ACCEPT","reason":"Presa in carico (carico di prova)"}}')
    end },
  { 10, function()
      local p = pick(data.placeable)
      local persons = '"' .. table.concat(p[3], '","') .. '"'
      return gql(p[1], PLACE,
        '{"input":{"caseId":"' .. p[2] .. '","facilityId":"' .. pick(data.facilities)
        .. '","personIds":[' .. persons .. ']}}')
    end },
  { 5, function()
      local id = table.remove(placed, 1)
      if not id then return read() end
      return gql(id[2], END, '{"input":{"placementId":"' .. id[1] .. '","reason":"Fine (carico di prova)"}}')
    end },
}
local total = 0
for _, op in ipairs(ops) do total = total + op[1] end

function request()
  local n = math.random(total)
  for _, op in ipairs(ops) do
    n = n - op[1]
    if n <= 0 then return op[2]() end
  end
  return read()
end

-- Answers per second since the start, good ("o:") or not ("e:"), for the
-- timeline of a run with PostgreSQL restarted.
local function tick(good)
  bump((good and "o:" or "e:") .. (os.time() - t0))
end

function response(status, headers, body)
  if status ~= 200 then
    bump("http_" .. status)
    tick(false)
    return
  end
  -- wrk does not pair answers with requests: the answer names its operation.
  local op = body:match('^{"data":{"(%w+)"') or body:match('"path":%["(%w+)"') or "unknown"
  local id = body:match('^{"data":{"%w+":{"id":"([%w%-]+)"')
  if id or body:match('^{"data":{"%w+":[{%[]') then
    bump(op .. ":ok")
    if op == "submitReferral" then
      local to = body:match('"addressedTo":{"id":"([%w%-]+)"')
      ack:write("referral\t", id, "\n")
      if to then table.insert(queued, { id, to }) end
    elseif op == "triageReferral" then
      local case = body:match('"case":{"id":"([%w%-]+)"') or ""
      ack:write("triage\t", id, "\t", case, "\n")
    elseif op == "recordPlacement" then
      ack:write("placement\t", id, "\n")
      local lead = body:match('"leadAgency":{"id":"([%w%-]+)"')
      if lead then table.insert(placed, { id, lead .. "/CASE_MANAGER" }) end
    elseif op == "endPlacement" then
      ack:write("end\t", id, "\n")
    end
    tick(true)
  else
    local code = body:match('"code":"([%u_]+)"') or "NO_DATA"
    bump(op .. ":" .. code)
    -- A refusal the hub is right to give (full facility, triaged referral) is
    -- an answer, not an error of the hub.
    tick(code == "CONFLICT" or code == "BAD_USER_INPUT" or code == "FORBIDDEN")
  end
end

function done(summary, latency, requests)
  local merged = {}
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for k, v in pairs(c) do merged[k] = (merged[k] or 0) + v end
  end
  local keys, first, last = {}, nil, nil
  for k, v in pairs(merged) do
    local kind, sec = k:match("^([oe]):(%d+)$")
    if kind then
      sec = tonumber(sec)
      if kind == "e" then
        first = math.min(first or sec, sec)
        last = math.max(last or sec, sec)
      end
    else
      table.insert(keys, k)
    end
  end
  table.sort(keys)
  io.write("load: hub=", tag,
    " requests=", summary.requests,
    " seconds=", string.format("%.1f", summary.duration / 1e6),
    " rps=", string.format("%.1f", summary.requests / (summary.duration / 1e6)),
    " p50_ms=", string.format("%.2f", latency:percentile(50) / 1000),
    " p99_ms=", string.format("%.2f", latency:percentile(99) / 1000),
    " max_ms=", string.format("%.2f", latency.max / 1000),
    " socket_errors=", summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    " non_2xx=", summary.errors.status, "\n")
  for _, k in ipairs(keys) do
    io.write("load: hub=", tag, " outcome ", k, "=", merged[k], "\n")
  end
  if first then
    io.write("load: hub=", tag, " hub_errors_from_s=", first, " hub_errors_until_s=", last, "\n")
    for sec = math.max(0, first - 2), last + 2 do
      io.write("load: hub=", tag, " t=", sec, "s good=", merged["o:" .. sec] or 0,
        " errors=", merged["e:" .. sec] or 0, "\n")
    end
  else
    io.write("load: hub=", tag, " hub_errors=0\n")
  end
end
