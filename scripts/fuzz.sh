#!/usr/bin/env bash
# Run every cargo-fuzz target under fuzz/ for a bounded time: scripts/fuzz.sh [SECONDS] [TARGET...]
# Default 60 s per target. Seeds each target's corpus from tests/corpus/fuzz/<target>/ (the
# regression inputs `cargo test --test corpus` replays), prints one summary line per target,
# and exits non-zero if any target crashed; crashing inputs are left in fuzz/artifacts/<target>/.
#
# cargo-fuzz needs nightly compiler flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept
# them. No sanitizer: the code is safe Rust, so the bugs to find are panics, overflows
# (debug assertions are on), runaway memory (-rss_limit_mb) and hangs (-timeout).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
all=(set_parser values_merge chart_yaml repo_index chart_archive release_record lifecycle_yaml)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
opts=(--sanitizer none --debug-assertions --fuzz-dir fuzz)

cargo fuzz build "${opts[@]}"
status=0
summary=()
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  if [ -d "tests/corpus/fuzz/$t" ]; then
    cp -n tests/corpus/fuzz/"$t"/* "fuzz/corpus/$t/" 2>/dev/null || true
  fi
  log="fuzz/artifacts/$t/run.log"
  set +e
  cargo fuzz run "${opts[@]}" "$t" "fuzz/corpus/$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
  crashes=$(find "fuzz/artifacts/$t" -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' | wc -l)
  line="$t: ${secs}s, ${execs} execs, coverage ${cov}, exit ${rc}, ${crashes} crash/oom/timeout inputs"
  summary+=("$line")
  echo "$line"
  if [ "$rc" -ne 0 ]; then
    status=1
    tail -40 "$log"
  fi
done
printf '%s\n' "${summary[@]}"
exit "$status"
