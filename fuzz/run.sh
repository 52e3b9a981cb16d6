#!/usr/bin/env bash
# Builds every fuzz target once (cargo fuzz, nightly, libFuzzer) and runs each
# for SECONDS (default 20, what CI gives them) from its committed seeds
# (seeds/TARGET/) and the local corpus it grows (corpus/TARGET/, git-ignored),
# one target at a time. Prints each target's executions and final coverage;
# fails if any target crashed, panicked, hung or ran out of memory, naming the
# input it saved under artifacts/TARGET/ (README.md, "Fuzzing", says how to
# turn it into a regression test).
#
#   bash fuzz/run.sh            # every target, 20 s each
#   bash fuzz/run.sh 600        # every target, 10 minutes each
#   bash fuzz/run.sh 300 webhook court_order   # only these targets
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-20}"
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: fuzz/run.sh [SECONDS] [TARGET...]: SECONDS is a whole number of seconds" >&2
  exit 2
fi
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "the nightly toolchain is missing: rustup toolchain install nightly" >&2
  exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
  exit 2
fi

# Build flags, the same for `build` and `run` so that `run` builds nothing:
# optimised with debug assertions and overflow checks (cargo fuzz's default),
# AddressSanitizer (the default) for the unsafe code of dependencies.
flags=()
read -r -a flags <<<"${FUZZ_BUILD_FLAGS:-}"

all_targets="$(cargo +nightly fuzz list)"
if [ "$#" -gt 0 ]; then
  targets="$*"
  for t in $targets; do
    grep -qx "$t" <<<"$all_targets" || { echo "no fuzz target \`$t\` (targets: $(echo $all_targets))" >&2; exit 2; }
  done
else
  targets="$all_targets"
fi

start=$(date +%s)
echo "== building fuzz targets (cargo +nightly fuzz build ${flags[*]:-})"
cargo +nightly fuzz build "${flags[@]}"
built=$(date +%s)
echo "built in $((built - start)) s"

mkdir -p logs
failed=()
printf '\n%-16s %6s %12s %8s %8s %8s  %s\n' target seconds executions exec/s cov ft result
for t in $targets; do
  mkdir -p "corpus/$t" "artifacts/$t"
  log="logs/$t.log"
  # -timeout: one input running longer than 10 s is a hang, reported as a
  # failure; -rss_limit_mb: a target growing past 2 GiB is one too.
  set +e
  cargo +nightly fuzz run "${flags[@]}" "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1
  status=$?
  set -e
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
  last="$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")"
  ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
  if [ "$status" -eq 0 ]; then
    result=ok
  else
    result="FAILED (exit $status, log fuzz/$log)"
    failed+=("$t")
  fi
  printf '%-16s %6s %12s %8s %8s %8s  %s\n' "$t" "$seconds" "${runs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$result"
done
echo "fuzzing took $(($(date +%s) - built)) s after a $((built - start)) s build"

if [ "${#failed[@]}" -gt 0 ]; then
  for t in "${failed[@]}"; do
    echo
    echo "== $t failed; the end of fuzz/logs/$t.log:"
    grep -vE '^#[0-9]+|^INFO:|^\s*Compiling|^\s*Finished' "logs/$t.log" | tail -n 40
    echo "inputs saved: $(ls "artifacts/$t" 2>/dev/null | sed "s|^|fuzz/artifacts/$t/|" | tr '\n' ' ')"
    echo "reproduce: (cd fuzz && cargo +nightly fuzz run $t artifacts/$t/FILE)"
  done
  exit 1
fi
