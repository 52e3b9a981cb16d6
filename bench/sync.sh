#!/usr/bin/env bash
# Sync throughput: a synthetic FHIR R4 set (RESOURCES, default 50000: Patients,
# Encounters, Conditions) imported through `rete sync import fhir` — the same
# mapping, idempotency and bookkeeping as a REST sync — into a fresh SQLite
# file and a fresh PostgreSQL database, then imported again (a replay that must
# change nothing). Prints key=value figures; the goal is >= 5000 resources/s on
# PostgreSQL.
#
#   bash bench/sync.sh
#   RESOURCES=100000 bash bench/sync.sh
#   SKIP_BUILD=1 bash bench/sync.sh        # reuse target/release/rete
#
# Needs cargo, python3, psql/pg_isready and a local PostgreSQL with trust auth
# on 127.0.0.1:5432 (as .ci/run expects).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
RESOURCES="${RESOURCES:-50000}"
PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
PGUSER="${PGUSER:-postgres}"
BENCH_DB="${BENCH_DB:-rete_sync_bench}"
GOAL=5000
say() { echo "bench: $*" >&2; }
die() { say "error: $*"; exit 1; }

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  say "building rete in release (several minutes on 2 cores)"
  (cd "$REPO" && cargo build --release -p rete-api --bin rete)
fi
RETE="$TARGET_DIR/release/rete"
[[ -x "$RETE" ]] || die "missing $RETE"
pg_isready -q -h "$PGHOST" -p "$PGPORT" || die "PostgreSQL does not answer at $PGHOST:$PGPORT"

WORK="$(mktemp -d -t rete-sync-bench.XXXXXX)"
HUB_PID=""
cleanup() {
  if [[ -n "$HUB_PID" ]] && kill -0 "$HUB_PID" 2>/dev/null; then kill "$HUB_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"

say "generating $RESOURCES resources"
python3 "$REPO/bench/sync/gen_fhir.py" --resources "$RESOURCES" --out "$WORK/set.json" >&2

cat > "$WORK/rete.toml" <<TOML
[connectors.hospital]
kind = "fhir"
agency = "ospedale-regina"
refer_to = "polo-nord"
base_url = "http://hospital.bench/r4"

[[connectors.hospital.signals]]
system = "http://snomed.info/sct"
code = "248062006"
reason = "DOMESTIC_VIOLENCE"
urgency = "HIGH"
TOML

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The demo network (its agencies are the instance's agency and referral
# target): `rete serve --demo` seeds it; stop the hub once it answers.
seed() {
  local url="$1" port
  port="$(free_port)"
  DATABASE_URL="$url" RETE_LOG=warn "$RETE" serve --demo --listen "127.0.0.1:$port" >"$WORK/serve.log" 2>&1 &
  HUB_PID=$!
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    kill -0 "$HUB_PID" 2>/dev/null || die "rete serve --demo stopped: $(tail -5 "$WORK/serve.log")"
    sleep 0.1
  done
  kill "$HUB_PID"; wait "$HUB_PID" 2>/dev/null || true; HUB_PID=""
}

# One import; prints "seconds fetched created updated unchanged rejected".
import_once() {
  local url="$1" t0 t1 line
  t0="$(date +%s.%N)"
  line="$(DATABASE_URL="$url" RETE_LOG=warn "$RETE" --config "$WORK/rete.toml" sync import fhir "$WORK/set.json" | head -n 1)"
  t1="$(date +%s.%N)"
  [[ "$line" == SUCCEEDED* ]] || die "import did not succeed: $line"
  python3 - "$t0" "$t1" "$line" <<'PY'
import re, sys
t0, t1, line = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
n = {k: int(v) for k, v in re.findall(r"(fetched|created|updated|unchanged|skipped|rejected) (\d+)", line)}
print(f"{t1 - t0:.3f} {n['fetched']} {n['created']} {n['updated']} {n['unchanged']} {n['rejected']}")
PY
}

run_backend() {
  local name="$1" url="$2" first replay
  seed "$url"
  read -r s f c u un r <<<"$(import_once "$url")"
  echo "${name}_import_seconds=$s ${name}_fetched=$f ${name}_created=$c ${name}_updated=$u ${name}_rejected=$r ${name}_import_resources_per_s=$(python3 -c "print(f'{$f/$s:.0f}')")"
  [[ "$r" == 0 ]] || die "$name: $r resources rejected (see rete sync dead-letters hospital)"
  read -r s f c u un r <<<"$(import_once "$url")"
  echo "${name}_replay_seconds=$s ${name}_replay_unchanged=$un ${name}_replay_created=$c ${name}_replay_updated=$u ${name}_replay_resources_per_s=$(python3 -c "print(f'{$f/$s:.0f}')")"
  [[ "$c" == 0 && "$u" == 0 ]] || die "$name: the replay changed something (created $c, updated $u)"
}

say "SQLite"
run_backend sqlite "sqlite://$WORK/bench.db?mode=rwc" | tee "$WORK/sqlite.out"
say "PostgreSQL"
psql -q -X -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres \
  -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" -c "CREATE DATABASE $BENCH_DB" >/dev/null
run_backend postgres "postgres://$PGUSER@$PGHOST:$PGPORT/$BENCH_DB" | tee "$WORK/pg.out"
pg_rps="$(grep -o 'postgres_import_resources_per_s=[0-9]*' "$WORK/pg.out" | cut -d= -f2)"
echo "resources=$RESOURCES postgres_import_resources_per_s=$pg_rps goal=$GOAL meets_goal=$([[ "$pg_rps" -ge "$GOAL" ]] && echo true || echo false)"
