#!/usr/bin/env bash
# Load and soak: a mixed workload (bench/load/workload.lua: case reads by team
# members, list queries, referrals, triage, placements and their ends) driven by
# wrk against one or two `rete serve` processes on one PostgreSQL database for a
# bounded time, optionally with PostgreSQL stopped and started again mid-run.
# It prints throughput, p50/p99 latency and the outcome of every kind of
# request, then checks the database: every acknowledged write is there, no
# facility holds more guests than its capacity, nobody is in two placements, no
# referral became two cases, and `rete audit verify` accepts the access log.
# Any failed check exits 1. A measurement and a check, not a test of speed.
#
#   bash bench/load.sh                              # 1 process, 60 s
#   PROCESSES=2 bash bench/load.sh                  # 2 processes, one database
#   RESTART_AT=20 OUTAGE=5 bash bench/load.sh       # PostgreSQL down 5 s at 20 s
#   DURATION=600 PROCESSES=2 bash bench/load.sh     # a soak
#   SKIP_BUILD=1 ...                                # reuse target/release/rete
#
# Needs cargo, curl, psql/pg_isready, wrk (Debian's package; installed with
# apt-get when missing) and a local PostgreSQL with trust auth on 127.0.0.1:5432.
# RESTART_AT stops and starts the local cluster with pg_ctlcluster: run it on a
# machine of your own, never next to a database someone else uses.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
PROCESSES="${PROCESSES:-1}"
DURATION="${DURATION:-60}"
CONNECTIONS="${CONNECTIONS:-16}"
RESTART_AT="${RESTART_AT:-}"
OUTAGE="${OUTAGE:-5}"
PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
PGUSER="${PGUSER:-postgres}"
LOAD_DB="${LOAD_DB:-rete_load}"
export PGHOST PGPORT PGUSER

say() { echo "load: $*" >&2; }
die() { say "error: $*"; exit 1; }

[[ "$PROCESSES" == 1 || "$PROCESSES" == 2 ]] || die "PROCESSES must be 1 or 2, got $PROCESSES"
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 5 ]] || die "DURATION must be whole seconds >= 5, got $DURATION"
[[ "$CONNECTIONS" =~ ^[0-9]+$ && "$CONNECTIONS" -ge 2 ]] || die "CONNECTIONS must be a number >= 2"
if [[ -n "$RESTART_AT" ]]; then
  [[ "$RESTART_AT" =~ ^[0-9]+$ && "$OUTAGE" =~ ^[0-9]+$ ]] || die "RESTART_AT and OUTAGE are whole seconds"
  (( RESTART_AT + OUTAGE + 5 < DURATION )) || die "RESTART_AT + OUTAGE must end at least 5 s before DURATION"
fi
case "$PGHOST" in
  127.0.0.1|localhost|::1) ;;
  *) die "PGHOST must be loopback (127.0.0.1), got $PGHOST" ;;
esac
[[ "$LOAD_DB" =~ ^[a-z_][a-z0-9_]*$ ]] || die "LOAD_DB must be a plain identifier"

command -v psql >/dev/null || die "psql is not installed"
command -v curl >/dev/null || die "curl is not installed"
if ! command -v wrk >/dev/null; then
  command -v apt-get >/dev/null || die "wrk is missing and there is no apt-get to install it"
  say "installing wrk (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null </dev/null
fi

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  say "building rete in release (several minutes on 2 cores)"
  (cd "$REPO" && cargo build --release -p rete-api --bin rete)
fi
RETE="$TARGET_DIR/release/rete"
[[ -x "$RETE" ]] || die "missing $RETE (build failed?)"

PG_VERSION="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)"
pg_up() {
  for _ in $(seq 1 120); do
    pg_isready -q -h "$PGHOST" -p "$PGPORT" && return 0
    sleep 0.5
  done
  return 1
}
if ! pg_isready -q -h "$PGHOST" -p "$PGPORT"; then
  [[ -n "$PG_VERSION" ]] || die "PostgreSQL does not answer at $PGHOST:$PGPORT and no cluster is installed"
  say "starting PostgreSQL $PG_VERSION"
  pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main start
  pg_up || die "PostgreSQL did not come up"
fi
if [[ -n "$RESTART_AT" ]]; then
  [[ -n "$PG_VERSION" ]] && command -v pg_ctlcluster >/dev/null \
    || die "RESTART_AT needs a local cluster that pg_ctlcluster controls"
fi

say "fresh database $LOAD_DB"
psql -q -X -v ON_ERROR_STOP=1 -d postgres \
  -c "DROP DATABASE IF EXISTS $LOAD_DB WITH (FORCE)" -c "CREATE DATABASE $LOAD_DB" >/dev/null
DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$LOAD_DB"
sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$LOAD_DB" "$@"; }

WORK="$(mktemp -d -t rete-load.XXXXXX)"
PIDS=()
cleanup() {
  local status=$?
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  # A failed run leaves PostgreSQL as it found it.
  if [[ -n "$RESTART_AT" ]] && ! pg_isready -q -h "$PGHOST" -p "$PGPORT"; then
    pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main start || true
  fi
  if [[ $status -ne 0 ]]; then
    for log in "$WORK"/hub-*.log; do
      [[ -s "$log" ]] || continue
      say "last lines of $(basename "$log"):"
      tail -n 15 "$log" >&2 || true
    done
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The hubs share one demo key (made by the first in $WORK) and the demo
# network's agreement; rate limits are off, the load comes from a few tokens.
cat >"$WORK/rete.toml" <<EOF
database_max_connections = $CONNECTIONS
[limits.rate]
enabled = false
EOF
PORTS=()
for n in $(seq 1 "$PROCESSES"); do
  port="$(free_port)"
  say "starting hub $n on 127.0.0.1:$port"
  (
    cd "$WORK"
    RETE_LOG=warn RETE_CONFIG="$WORK/rete.toml" DATABASE_URL="$DATABASE_URL" \
      exec "$RETE" serve --demo --listen "127.0.0.1:$port" --policy "$REPO/policies/network.toml"
  ) >"$WORK/hub-$n.log" 2>&1 &
  PIDS+=("$!")
  for _ in $(seq 1 240); do
    curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/health" 2>/dev/null && break
    kill -0 "${PIDS[-1]}" 2>/dev/null || die "hub $n exited before answering /health"
    sleep 0.5
  done
  curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/health" || die "hub $n did not answer /health"
  PORTS+=("$port")
done
sql -c "ANALYZE" >/dev/null

# --- the workload's data, from the seeded database ---------------------------
token() {
  (cd "$WORK" && RETE_CONFIG="$WORK/rete.toml" "$RETE" token --agency "$1" --role "$2" --purpose "$3" --ttl 6h)
}
mkdir -p "$WORK/acks"
{
  echo "return {"
  echo "  ack_dir = \"$WORK/acks\","
  echo "  tokens = {"
  while IFS='|' read -r agency role; do
    echo "    [\"$agency/$role\"] = \"$(token "$agency" "$role" CASE_MANAGEMENT)\","
  done < <(sql -c "SELECT DISTINCT agency_id, role FROM case_team_member WHERE until_on IS NULL
                   UNION SELECT id, 'CASE_MANAGER' FROM agency WHERE kind = 'SOCIAL_SERVICE'
                   UNION SELECT id, 'INTAKE_OPERATOR' FROM agency WHERE kind = 'SOCIAL_SERVICE'")
  echo "    [\"ospedale-regina/HEALTH_PROFESSIONAL\"] = \"$(token ospedale-regina HEALTH_PROFESSIONAL HEALTHCARE)\","
  echo "  },"
  echo "  reads = {"
  sql -F' ' -c "SELECT agency_id || '/' || role, case_id FROM case_team_member
                WHERE until_on IS NULL ORDER BY random() LIMIT 1000" \
    | awk '{ printf "    {\"%s\", \"%s\"},\n", $1, $2 }'
  echo "  },"
  services="$(sql -c "SELECT string_agg('\"' || id || '\"', ', ') FROM agency WHERE kind = 'SOCIAL_SERVICE'")"
  echo "  services = { $services },"
  echo "  leads = { $(sql -c "SELECT string_agg('\"' || id || '/CASE_MANAGER\"', ', ') FROM agency WHERE kind = 'SOCIAL_SERVICE'") },"
  echo "  intakes = { $(sql -c "SELECT string_agg('\"' || id || '/INTAKE_OPERATOR\"', ', ') FROM agency WHERE kind = 'SOCIAL_SERVICE'") },"
  echo "  facilities = { $(sql -c "SELECT string_agg('\"' || id || '\"', ', ') FROM facility") },"
  echo "  placeable = {"
  # Open cases of the social services and up to two of their subjects who are
  # in no active placement.
  sql -F' ' -c "SELECT c.lead_agency_id || '/CASE_MANAGER', c.id,
                       (array_agg(s.person_id::text ORDER BY s.person_id))[1:2]
                FROM case_file c JOIN case_subject s ON s.case_id = c.id
                WHERE c.status <> 'CLOSED'
                  AND NOT EXISTS (SELECT 1 FROM placement_guest g JOIN placement p ON p.id = g.placement_id
                                  WHERE g.person_id = s.person_id AND p.end_on IS NULL)
                GROUP BY c.lead_agency_id, c.id" \
    | awk '{ gsub(/[{}]/, "", $3); gsub(/,/, "\", \"", $3); printf "    {\"%s\", \"%s\", {\"%s\"}},\n", $1, $2, $3 }'
  echo "  },"
  echo "}"
} >"$WORK/data.lua"
grep -q '"[0-9a-f-]\{36\}"' "$WORK/data.lua" || die "the workload data has no ids: $(head -c 400 "$WORK/data.lua")"
for list in reads placeable; do
  n="$(awk -v l="$list" '$0 ~ "^  "l" = " {on=1; next} on && /^  },/ {on=0} on' "$WORK/data.lua" | wc -l)"
  [[ "$n" -gt 0 ]] || die "the workload data has no $list"
  say "$list: $n"
done

# --- the run -----------------------------------------------------------------
START="$(sql -c "SELECT now()")"
ENTRIES_BEFORE="$(sql -c "SELECT count(*) FROM access_log_entry")"
echo "machine: cpus=$(nproc) loadavg_before=\"$(cut -d' ' -f1-3 /proc/loadavg)\" postgres=\"$(sql -c 'SHOW server_version')\" rev=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo -) date=$(date -u +%Y-%m-%dT%H:%MZ)"
echo "load: processes=$PROCESSES connections=$CONNECTIONS duration_s=$DURATION restart_at_s=${RESTART_AT:--} outage_s=$([[ -n "$RESTART_AT" ]] && echo "$OUTAGE" || echo -)"
WRK_PIDS=()
per_hub=$((CONNECTIONS / PROCESSES))
threads=$((PROCESSES == 1 ? 2 : 1))
for n in $(seq 1 "$PROCESSES"); do
  RETE_LOAD_DATA="$WORK/data.lua" RETE_LOAD_TAG="$n" RETE_LOAD_T0="$(date +%s)" \
    wrk -t"$threads" -c"$per_hub" -d"${DURATION}s" --timeout 10s -s "$REPO/bench/load/workload.lua" \
    "http://127.0.0.1:${PORTS[$((n - 1))]}" >"$WORK/wrk-$n.out" 2>&1 &
  WRK_PIDS+=("$!")
done
if [[ -n "$RESTART_AT" ]]; then
  sleep "$RESTART_AT"
  say "stopping PostgreSQL (fast shutdown) for ${OUTAGE}s"
  t_down="$(date +%s.%N)"
  pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main stop -m fast
  sleep "$OUTAGE"
  pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" main start
  pg_up || die "PostgreSQL did not come back"
  t_up="$(date +%s.%N)"
  say "PostgreSQL is back after $(python3 -c "print(f'{$t_up - $t_down:.1f}')") s"
fi
wrk_failed=0
for pid in "${WRK_PIDS[@]}"; do wait "$pid" || wrk_failed=1; done
for n in $(seq 1 "$PROCESSES"); do cat "$WORK/wrk-$n.out"; done
[[ "$wrk_failed" == 0 ]] || die "wrk failed"

# Throughput of all hubs together; the latency of the slowest hub.
cat "$WORK"/wrk-*.out | python3 -c '
import re, sys
rows = [dict(re.findall(r"(\w+)=([\d.]+)", l)) for l in sys.stdin if l.startswith("load: hub=") and " rps=" in l]
if not rows:
    sys.exit("load: error: wrk printed no summary")
def total(k):
    return sum(float(r[k]) for r in rows)
def worst(k):
    return max(float(r[k]) for r in rows)
print("load: all_hubs requests=%.0f rps=%.1f p50_ms_worst_hub=%.2f p99_ms_worst_hub=%.2f socket_errors=%.0f non_2xx=%.0f"
      % (total("requests"), total("rps"), worst("p50_ms"), worst("p99_ms"), total("socket_errors"), total("non_2xx")))
'
echo "machine: loadavg_after=\"$(cut -d' ' -f1-3 /proc/loadavg)\""

# --- recovery: every hub answers again without being restarted ----------------
for n in $(seq 1 "$PROCESSES"); do
  ok=0
  for _ in $(seq 1 60); do
    body="$(curl -sS --max-time 5 -H "Authorization: Bearer $(awk -F'"' '/"polo-nord\/CASE_MANAGER"/ {print $4; exit}' "$WORK/data.lua")" \
      -H 'Content-Type: application/json' -d '{"query":"{ cases(first: 1) { totalCount } }"}' \
      "http://127.0.0.1:${PORTS[$((n - 1))]}/graphql" 2>/dev/null || true)"
    if [[ "$body" == *'"totalCount"'* && "$body" != *'"errors"'* ]]; then ok=1; break; fi
    sleep 1
  done
  [[ "$ok" == 1 ]] || die "hub $n does not answer a query after the run: ${body:0:300}"
  kill -0 "${PIDS[$((n - 1))]}" 2>/dev/null || die "hub $n is no longer running"
done
say "every hub answers after the run, none was restarted"

# --- checks --------------------------------------------------------------------
# Ack lines: "referral ID", "triage ID CASE", "placement ID", "end ID". A
# triage answered with its referral's id but no case (the nested field failed,
# e.g. as the database went down after the commit) is still acknowledged: its
# referral must be ACCEPTED with a case.
cat "$WORK"/acks/*.tsv 2>/dev/null | awk -F'\t' 'NF >= 2 { print $1 "\t" $2 "\t" (NF >= 3 && $3 != "" ? $3 : "\\N") }' >"$WORK/acks.tsv"
sql -c "CREATE TABLE load_ack (kind text NOT NULL, id uuid NOT NULL, extra uuid)" \
    -c "\\copy load_ack FROM '$WORK/acks.tsv'"
check() { # name, SQL giving a count that must be 0
  local n
  n="$(sql -c "$2")"
  echo "check: $1=$n"
  [[ "$n" == 0 ]] || failed=1
}
failed=0
echo "acknowledged: $(sql -F' ' -c "SELECT string_agg(kind || '=' || n, ' ' ORDER BY kind) FROM (SELECT kind, count(*) n FROM load_ack GROUP BY kind) k")"
check acknowledged_referrals_missing \
  "SELECT count(*) FROM load_ack a WHERE kind = 'referral' AND NOT EXISTS (SELECT 1 FROM referral r WHERE r.id = a.id)"
check acknowledged_triages_missing \
  "SELECT count(*) FROM load_ack a WHERE kind = 'triage' AND NOT EXISTS
     (SELECT 1 FROM referral r JOIN case_file c ON c.id = r.case_id
      WHERE r.id = a.id AND r.triage_outcome = 'ACCEPTED' AND (a.extra IS NULL OR r.case_id = a.extra))"
check acknowledged_placements_missing \
  "SELECT count(*) FROM load_ack a WHERE kind = 'placement' AND NOT EXISTS (SELECT 1 FROM placement p WHERE p.id = a.id)"
check acknowledged_ends_missing \
  "SELECT count(*) FROM load_ack a WHERE kind = 'end' AND NOT EXISTS (SELECT 1 FROM placement p WHERE p.id = a.id AND p.end_on IS NOT NULL)"
check facilities_over_capacity \
  "SELECT count(*) FROM facility f WHERE f.capacity < (SELECT count(*) FROM placement_guest g
     JOIN placement p ON p.id = g.placement_id WHERE p.facility_id = f.id AND p.end_on IS NULL)"
check persons_in_two_active_placements \
  "SELECT count(*) FROM (SELECT g.person_id FROM placement_guest g JOIN placement p ON p.id = g.placement_id
     WHERE p.end_on IS NULL GROUP BY g.person_id HAVING count(*) > 1) d"
check cases_opened_twice_or_without_referral \
  "SELECT count(*) FROM case_file c WHERE c.created_at >= '$START'
     AND (SELECT count(*) FROM referral r WHERE r.case_id = c.id) <> 1"
check referrals_with_two_cases \
  "SELECT count(*) FROM (SELECT case_id FROM referral WHERE case_id IS NOT NULL GROUP BY case_id HAVING count(*) > 1) d"
echo "unacknowledged_but_committed: referrals=$(sql -c "SELECT count(*) FROM referral r WHERE r.created_at >= '$START'
  AND NOT EXISTS (SELECT 1 FROM load_ack a WHERE a.kind = 'referral' AND a.id = r.id)") placements=$(sql -c "SELECT count(*) FROM placement p
  WHERE p.created_at >= '$START' AND NOT EXISTS (SELECT 1 FROM load_ack a WHERE a.kind = 'placement' AND a.id = p.id)") (answers lost in flight: allowed, never the reverse)"
echo "access_log: entries_written=$(( $(sql -c "SELECT count(*) FROM access_log_entry") - ENTRIES_BEFORE ))"
if (cd "$WORK" && DATABASE_URL="$DATABASE_URL" RETE_LOG=warn "$RETE" audit verify) >"$WORK/verify.out" 2>&1; then
  echo "check: audit_verify=ok $(tr '\n' ' ' <"$WORK/verify.out" | cut -c1-300)"
else
  echo "check: audit_verify=FAILED $(tr '\n' ' ' <"$WORK/verify.out" | cut -c1-600)"
  failed=1
fi
if [[ "$failed" != 0 ]]; then
  die "a check failed (above)"
fi
say "every check passed"
