#!/usr/bin/env bash
# Security and conformance scanners against a live `rete serve --demo`
# (scanners/README.md says what each checks and what they found).
#
# Builds nothing: it runs the debug binary (RETE_BIN, default
# $CARGO_TARGET_DIR/debug/rete or target/debug/rete). In a temporary
# directory (its own SQLite file, demo key, audit secret), it starts the hub
# on a free port of 127.0.0.1 twice, one profile after the other:
#
#   demo               `rete serve --demo` as shipped (introspection on):
#                      the graphql-http audit (audit.mjs), then graphql-cop's
#                      checks (cop.mjs);
#   production-limits  the same with production-limits.toml (introspection
#                      off, as without --demo): graphql-cop's checks.
#
# Each time it waits for /health, mints a token with `rete token`, scans, and
# stops the hub. Reports go to scanners/output/. With GRAPHQL_COP set to a
# checkout's graphql-cop.py (GRAPHQL_COP_PYTHON: a Python that has its
# requirements), the real graphql-cop runs too and its JSON is judged by the
# same rules. Exits non-zero when any scanner fails. Needs no stdin, no TTY.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
target_dir="$(cd "$root" && cd "${CARGO_TARGET_DIR:-target}" 2>/dev/null && pwd || true)"
bin="${RETE_BIN:-$target_dir/debug/rete}"
if [ ! -x "$bin" ]; then
  echo "no rete binary at $bin: build it first (cargo build -p rete-api --bin rete)" >&2
  exit 1
fi
for tool in node curl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$tool is missing" >&2; exit 1; }
done
if [ ! -d "$here/node_modules/graphql-http" ]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
fi

out="$here/output"
mkdir -p "$out"
work="$(mktemp -d "${TMPDIR:-/tmp}/rete-scanners.XXXXXX")"
hub_pid=""
cleanup() {
  if [ -n "$hub_pid" ] && kill -0 "$hub_pid" 2>/dev/null; then
    kill -TERM "$hub_pid" 2>/dev/null || true
    wait "$hub_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The hub must not pick up CI's PostgreSQL or any other hub's settings.
rete() {
  (cd "$work" && exec env -u DATABASE_URL -u RETE_CONFIG -u RETE_LISTEN -u RETE_POLICY \
    -u RETE_LOG_FORMAT RETE_LOG=info "$bin" "$@")
}

# start_hub PROFILE [serve flags...]: sets hub_pid and url.
start_hub() {
  local profile="$1" log="$work/hub-$1.log" addr=""
  shift
  # `exec`: the background job's pid is the hub's own, for stop_hub.
  (cd "$work" && exec env -u DATABASE_URL -u RETE_CONFIG -u RETE_LISTEN -u RETE_POLICY \
    -u RETE_LOG_FORMAT RETE_LOG=info "$bin" serve --demo --listen 127.0.0.1:0 "$@") \
    </dev/null >"$log" 2>&1 &
  hub_pid=$!
  for _ in $(seq 1 600); do
    addr="$(sed -n 's/.*rete listening addr=\([0-9.:]*\).*/\1/p' "$log" | head -n 1)"
    [ -n "$addr" ] && break
    if ! kill -0 "$hub_pid" 2>/dev/null; then
      echo "rete serve ($profile) exited before listening:" >&2
      cat "$log" >&2
      exit 1
    fi
    sleep 0.2
  done
  if [ -z "$addr" ]; then
    echo "rete serve ($profile) did not listen within 120 s:" >&2
    cat "$log" >&2
    exit 1
  fi
  for _ in $(seq 1 50); do
    curl -fsS "http://$addr/health" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -fsS "http://$addr/health" >/dev/null
  url="http://$addr/graphql"
  echo "rete serve --demo ($profile) at $url"
}

stop_hub() {
  kill -TERM "$hub_pid"
  wait "$hub_pid" || true
  hub_pid=""
}

status=0
scan_cop() {
  local profile="$1" token="$2"
  node "$here/cop.mjs" scan "$url" "$token" "$profile" "$out/cop-$profile.json" || status=1
  if [ -n "${GRAPHQL_COP:-}" ]; then
    echo
    echo "-- graphql-cop itself ($GRAPHQL_COP), $profile"
    "${GRAPHQL_COP_PYTHON:-python3}" "$GRAPHQL_COP" -t "$url" \
      -H "{\"Authorization\": \"Bearer $token\"}" -o json </dev/null \
      >"$out/graphql-cop-$profile.json" || status=1
    node "$here/cop.mjs" judge "$out/graphql-cop-$profile.json" "$profile" || status=1
  fi
}

printf '\n-- profile demo: rete serve --demo\n'
start_hub demo
token="$(rete token --agency polo-nord --role CASE_MANAGER --purpose CASE_MANAGEMENT)"
echo
echo "-- graphql-http audit"
(cd "$here" && node audit.mjs "$url" "$token" "$out/graphql-http-audit.json") || status=1
echo
echo "-- graphql-cop checks, demo"
scan_cop demo "$token"
stop_hub

printf '\n-- profile production-limits: rete serve --demo --config scanners/production-limits.toml\n'
start_hub production-limits --config "$here/production-limits.toml"
token="$(rete token --agency polo-nord --role CASE_MANAGER --purpose CASE_MANAGEMENT)"
echo
echo "-- graphql-cop checks, production-limits"
scan_cop production-limits "$token"
stop_hub

echo
if [ "$status" -ne 0 ]; then
  echo "scanners: FAILED (reports in $out)"
else
  echo "scanners: every check passed (reports in $out)"
fi
exit "$status"
