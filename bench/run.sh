#!/usr/bin/env bash
# Benchmark: `case(id)` with its subjects through the Rete hub, beside the same
# rows read by a plain sqlx point query, on PostgreSQL, in one run.
#
#   bash bench/run.sh [extra rete-bench flags...]
#
# Environment (all optional):
#   CONCURRENCY=16 DURATION=10 WARMUP=2   requests in flight; seconds per phase
#   ROUNDS=1                              rounds of (hub, sqlx); 3 on a busy machine
#   PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres   a local server (trust auth)
#   BENCH_DB=rete_bench                   dropped and created afresh
#   PGSSLMODE=                            e.g. disable; unset = the drivers' default
#                                         (prefer: TLS when the server offers it)
#   SKIP_BUILD=1                          reuse target/release binaries
#   ENFORCEMENT=1                         also measure enforcement on vs off (0: skip)
#   AUDIT=1                               with ENFORCEMENT=1, also the access log on vs off
#   AUDIT_ONLY=0                          1: only the access log on vs off (no hub/sqlx
#                                         phases, no statement count, no unenforced hub)
#   HUB_TOML=                             more lines for every hub's rete.toml, e.g.
#                                         $'[audit]\nlinger_us = 10000'
#   HUB_LOG=warn                          the hubs' RETE_LOG, e.g.
#                                         warn,rete_api::audit=debug (batch sizes)
#   KEEP_LOGS=                            a directory to copy the hubs' logs into
#
# Prints the figures as key=value lines and ends with
#   hub_rps=... sqlx_rps=... ratio=... target=0.5 meets_target=...
# and, with ENFORCEMENT=1, the cost of enforcement: the same query against a hub
# serving policies/network.toml and against a build with the cargo feature
# `bench-no-enforcement` (every field disclosed without deciding; built into
# its own target directory, never into target/release), on the same database:
#   enforcement_on_rps=... enforcement_off_rps=... enforcement_ratio=...
# and, with AUDIT=1, the cost of the access log: a third hub, enforcing the same
# agreement but built with `bench-no-audit` (writes no entry):
#   audit_on_rps=... audit_off_rps=... audit_overhead=... audit_target=1.15 meets_audit_target=...
# See bench/README.md for how to read them.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
CONCURRENCY="${CONCURRENCY:-16}"
DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-2}"
ROUNDS="${ROUNDS:-1}"
ENFORCEMENT="${ENFORCEMENT:-1}"
# The unenforced build lives apart, so that target/release/rete always enforces.
NOENF_TARGET="$TARGET_DIR/bench-no-enforcement"
# Likewise the build that writes no access log (AUDIT=1, with ENFORCEMENT=1).
AUDIT="${AUDIT:-1}"
AUDIT_ONLY="${AUDIT_ONLY:-0}"
if [[ "$AUDIT_ONLY" == 1 ]]; then
  ENFORCEMENT=1
  AUDIT=1
fi
NOAUDIT_TARGET="$TARGET_DIR/bench-no-audit"
PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
PGUSER="${PGUSER:-postgres}"
BENCH_DB="${BENCH_DB:-rete_bench}"
HUB_LOG="${HUB_LOG:-warn}"
export PGHOST PGPORT PGUSER

say() { echo "bench: $*" >&2; }
die() { say "error: $*"; exit 1; }

case "$PGHOST" in
  127.0.0.1|localhost|::1) ;;
  *) die "PGHOST must be loopback (127.0.0.1), got $PGHOST" ;;
esac
[[ "$BENCH_DB" =~ ^[a-z_][a-z0-9_]*$ ]] || die "BENCH_DB must be a plain identifier"

# --- What it needs -----------------------------------------------------------
command -v cargo >/dev/null || die "cargo is not installed"
if ! command -v psql >/dev/null || ! command -v pg_isready >/dev/null; then
  command -v apt-get >/dev/null || die "psql/pg_isready missing and no apt-get to install them"
  say "installing PostgreSQL (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-client >/dev/null
fi
command -v curl >/dev/null || {
  say "installing curl (apt-get)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null
}

# --- Build -------------------------------------------------------------------
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  say "building rete and rete-bench in release (several minutes on 2 cores)"
  (cd "$REPO" && cargo build --release -p rete-api -p rete-bench)
fi
RETE="$TARGET_DIR/release/rete"
DRIVER="$TARGET_DIR/release/rete-bench"
[[ -x "$RETE" && -x "$DRIVER" ]] || die "missing $RETE or $DRIVER (build failed?)"
RETE_OFF="$NOENF_TARGET/release/rete"
if [[ "$ENFORCEMENT" == 1 && "$AUDIT_ONLY" != 1 ]]; then
  if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    if [[ ! -d "$NOENF_TARGET/release" ]]; then
      # Start from the release build: only rete-api is rebuilt with the feature.
      mkdir -p "$NOENF_TARGET"
      cp -a "$TARGET_DIR/release" "$NOENF_TARGET/release"
    fi
    say "building rete with bench-no-enforcement into $NOENF_TARGET"
    (cd "$REPO" && cargo build --release -p rete-api --features bench-no-enforcement --target-dir "$NOENF_TARGET")
  fi
  [[ -x "$RETE_OFF" ]] || die "missing $RETE_OFF (build failed?)"
fi
RETE_NOLOG="$NOAUDIT_TARGET/release/rete"
if [[ "$ENFORCEMENT" == 1 && "$AUDIT" == 1 ]]; then
  if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    if [[ ! -d "$NOAUDIT_TARGET/release" ]]; then
      mkdir -p "$NOAUDIT_TARGET"
      cp -a "$TARGET_DIR/release" "$NOAUDIT_TARGET/release"
    fi
    say "building rete with bench-no-audit into $NOAUDIT_TARGET"
    (cd "$REPO" && cargo build --release -p rete-api --features bench-no-audit --target-dir "$NOAUDIT_TARGET")
  fi
  [[ -x "$RETE_NOLOG" ]] || die "missing $RETE_NOLOG (build failed?)"
fi

# --- PostgreSQL --------------------------------------------------------------
if ! pg_isready -q -h "$PGHOST" -p "$PGPORT"; then
  version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)"
  [[ -n "$version" ]] || die "PostgreSQL does not answer at $PGHOST:$PGPORT and no cluster is installed"
  say "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 60); do
    pg_isready -q -h "$PGHOST" -p "$PGPORT" && break
    sleep 0.5
  done
  pg_isready -q -h "$PGHOST" -p "$PGPORT" || die "PostgreSQL did not come up at $PGHOST:$PGPORT"
fi
say "fresh database $BENCH_DB"
psql -q -X -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres \
  -c "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" \
  -c "CREATE DATABASE $BENCH_DB" >/dev/null
DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$BENCH_DB${PGSSLMODE:+?sslmode=$PGSSLMODE}"

# --- The hub -----------------------------------------------------------------
WORK="$(mktemp -d -t rete-bench.XXXXXX)"
HUB_PID=""
ON_PID=""
OFF_PID=""
NOLOG_PID=""
stop() {
  local pid="$1"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
}
cleanup() {
  local status=$?
  stop "$HUB_PID"
  stop "$ON_PID"
  stop "$OFF_PID"
  stop "$NOLOG_PID"
  if [[ $status -ne 0 ]]; then
    for log in hub on off nolog; do
      if [[ -s "$WORK/$log.log" ]]; then
        say "last lines of the $log hub's log:"
        tail -n 20 "$WORK/$log.log" >&2 || true
      fi
    done
  fi
  if [[ -n "${KEEP_LOGS:-}" ]]; then
    mkdir -p "$KEEP_LOGS"
    cp "$WORK"/*.log "$KEEP_LOGS"/ 2>/dev/null || true
    say "hub logs kept in $KEEP_LOGS"
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A free loopback port: one nothing answers on.
free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}
PORT="$(free_port)" || die "no free port found"
HUB="http://127.0.0.1:$PORT"

# The hub's pool as large as the driver's, so both sides get the same connections.
# Rate limits off: the driver is one operator at thousands of requests a second.
cat >"$WORK/rete.toml" <<EOF
database_max_connections = $CONCURRENCY
[limits.rate]
enabled = false
${HUB_TOML:-}
EOF

say "starting the hub on $HUB (demo network, RETE_LOG=$HUB_LOG)"
(
  cd "$WORK"
  RETE_LOG="$HUB_LOG" RETE_CONFIG="$WORK/rete.toml" DATABASE_URL="$DATABASE_URL" \
    exec "$RETE" serve --demo --listen "127.0.0.1:$PORT"
) >"$WORK/hub.log" 2>&1 &
HUB_PID=$!

for _ in $(seq 1 240); do
  if curl -fsS -o /dev/null --max-time 2 "$HUB/health" 2>/dev/null; then break; fi
  kill -0 "$HUB_PID" 2>/dev/null || die "the hub exited before answering /health"
  sleep 0.5
done
curl -fsS -o /dev/null --max-time 2 "$HUB/health" || die "the hub did not answer /health in 120 s"

# The cost of enforcement: two more hubs on the same (seeded) database, one
# enforcing the network agreement, one built without enforcement. Idle while
# the other phases run.
wait_health() {
  local url="$1" pid="$2" name="$3"
  for _ in $(seq 1 240); do
    if curl -fsS -o /dev/null --max-time 2 "$url/health" 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || die "the $name hub exited before answering /health"
    sleep 0.5
  done
  die "the $name hub did not answer /health in 120 s"
}
ENFORCEMENT_ARGS=()
if [[ "$ENFORCEMENT" == 1 ]]; then
  ON_PORT="$(free_port)" || die "no free port found"
  say "starting the enforcing hub on 127.0.0.1:$ON_PORT (policies/network.toml)"
  (
    cd "$WORK"
    RETE_LOG="$HUB_LOG" RETE_CONFIG="$WORK/rete.toml" DATABASE_URL="$DATABASE_URL" \
      exec "$RETE" serve --demo --listen "127.0.0.1:$ON_PORT" --policy "$REPO/policies/network.toml"
  ) >"$WORK/on.log" 2>&1 &
  ON_PID=$!
  wait_health "http://127.0.0.1:$ON_PORT" "$ON_PID" "enforcing"
  ENFORCEMENT_ARGS=(--enforcement-on-url "http://127.0.0.1:$ON_PORT" --enforcement-on-pid "$ON_PID")
  if [[ "$AUDIT_ONLY" == 1 ]]; then
    ENFORCEMENT_ARGS+=(--audit-only)
  else
    OFF_PORT="$(free_port)" || die "no free port found"
    say "starting the UNENFORCED benchmark build on 127.0.0.1:$OFF_PORT"
    (
      cd "$WORK"
      RETE_BENCH_NO_ENFORCEMENT=benchmark-only RETE_LOG="$HUB_LOG" RETE_CONFIG="$WORK/rete.toml" \
        DATABASE_URL="$DATABASE_URL" \
        exec "$RETE_OFF" serve --demo --listen "127.0.0.1:$OFF_PORT" --policy "$REPO/policies/network.toml"
    ) >"$WORK/off.log" 2>&1 &
    OFF_PID=$!
    wait_health "http://127.0.0.1:$OFF_PORT" "$OFF_PID" "unenforced"
    grep -q "DOES NOT ENFORCE" "$WORK/off.log" || die "the unenforced build did not print its warning"
    ENFORCEMENT_ARGS+=(--enforcement-off-url "http://127.0.0.1:$OFF_PORT" --enforcement-off-pid "$OFF_PID")
  fi
  if [[ "$AUDIT" == 1 ]]; then
    NOLOG_PORT="$(free_port)" || die "no free port found"
    say "starting the benchmark build WITHOUT ACCESS LOG on 127.0.0.1:$NOLOG_PORT (policies/network.toml)"
    (
      cd "$WORK"
      RETE_BENCH_NO_AUDIT=benchmark-only RETE_LOG="$HUB_LOG" RETE_CONFIG="$WORK/rete.toml" \
        DATABASE_URL="$DATABASE_URL" \
        exec "$RETE_NOLOG" serve --demo --listen "127.0.0.1:$NOLOG_PORT" --policy "$REPO/policies/network.toml"
    ) >"$WORK/nolog.log" 2>&1 &
    NOLOG_PID=$!
    wait_health "http://127.0.0.1:$NOLOG_PORT" "$NOLOG_PID" "log-less"
    grep -q "WRITES NO ACCESS LOG" "$WORK/nolog.log" || die "the log-less build did not print its warning"
    ENFORCEMENT_ARGS+=(--audit-off-url "http://127.0.0.1:$NOLOG_PORT" --audit-off-pid "$NOLOG_PID")
  fi
fi

# The hub seeded the demo network; give the planner statistics, as autovacuum
# would in a deployment (it may be off on a test server).
psql -q -X -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d "$BENCH_DB" -c "ANALYZE" >/dev/null

# The demo key was created in the hub's working directory: mint there.
TOKEN="$(cd "$WORK" && RETE_CONFIG="$WORK/rete.toml" "$RETE" token --agency polo-nord --role CASE_MANAGER --purpose CASE_MANAGEMENT)"
[[ -n "$TOKEN" ]] || die "rete token printed nothing"

# --- Run ---------------------------------------------------------------------
echo "machine: cpus=$(nproc) loadavg_before=\"$(cut -d' ' -f1-3 /proc/loadavg)\" postgres=\"$(psql -X -At -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d postgres -c 'SHOW server_version')\" rev=$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo -) date=$(date -u +%Y-%m-%dT%H:%MZ)"
set +e
RETE_BENCH_TOKEN="$TOKEN" RETE_BENCH_DATABASE_URL="$DATABASE_URL" \
  "$DRIVER" --hub-url "$HUB" --hub-pid "$HUB_PID" \
  --concurrency "$CONCURRENCY" --duration "$DURATION" --warmup "$WARMUP" --rounds "$ROUNDS" \
  "${ENFORCEMENT_ARGS[@]}" "$@"
status=$?
set -e
echo "machine: loadavg_after=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
exit "$status"
