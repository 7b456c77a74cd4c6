#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang (AddressSanitizer +
# UndefinedBehaviorSanitizer, in build-fuzz/) and runs each for SECONDS
# (default 60).  Fails when any target reports a crash, a leak, a sanitizer
# error, a timeout or an out-of-memory.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]      (targets: fuzz/fuzz_*.c)
#
# Each target starts from its seed corpus fuzz/corpus/<target>/ (read only)
# and from build-fuzz/corpus/<target>/, where the inputs it finds are kept for
# the next run; fuzz/<target>.dict, when present, is its dictionary.  A failing input is written to build-fuzz/artifacts/<target>/;
# reproduce it with `build-fuzz/fuzz/<target> FILE`, fix the bug, and add the
# file to fuzz/corpus/<target>/ as a regression case.
# Environment: BUILD_FUZZ (build directory, default build-fuzz), JOBS.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
[ $# -gt 0 ] && shift
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2
  exit 2
fi
build=${BUILD_FUZZ:-build-fuzz}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c)"); done
fi

# clang, libFuzzer and the sanitizer runtimes, and clang's OpenMP runtime.
bash scripts/deps.sh clang libclang-rt-14-dev libomp-14-dev

cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOELAB_FUZZ=ON \
  -DMOELAB_WERROR=ON -DMOELAB_BUILD_TESTS=OFF -DMOELAB_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$jobs" --target "${targets[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
for t in "${targets[@]}"; do
  seeds=fuzz/corpus/$t
  corpus=$build/corpus/$t
  artifacts=$build/artifacts/$t
  log=$build/fuzz-$t.log
  mkdir -p "$corpus" "$artifacts" "$seeds"
  dict=()
  [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
  echo "fuzz: $t for $seconds s (log: $log)" >&2
  rc=0
  "$build/fuzz/$t" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 "${dict[@]}" \
    -artifact_prefix="$artifacts/" "$corpus" "$seeds" >"$log" 2>&1 || rc=$?
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
  stat() { awk -v k="stat::$1:" '$1 == k {print $2}' "$log" | tail -1; }
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$done_line")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$done_line")
  corp=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$done_line")
  printf 'fuzz: %-12s %s runs, %s/s, cov %s, ft %s, corpus %s (+%s new), peak rss %s MB: ' "$t" \
    "$(stat number_of_executed_units)" "$(stat average_exec_per_sec)" "${cov:-?}" "${ft:-?}" "${corp:-?}" \
    "$(stat new_units_added)" "$(stat peak_rss_mb)" >&2
  if [ "$rc" -eq 0 ] && ! grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
    echo "ok" >&2
  else
    echo "FAILED (exit $rc)" >&2
    grep -E -A40 'ERROR: |runtime error:|invariant violated|deadly signal' "$log" | head -60 >&2 || tail -40 "$log" >&2
    ls -1 "$artifacts" | sed "s|^|fuzz:   artifact $artifacts/|" >&2
    failed+=("$t")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, $seconds s each: no crash, leak or sanitizer report" >&2
