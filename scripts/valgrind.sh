#!/usr/bin/env bash
# Memcheck: runs the command-line tests (tests/cli_test.sh, tests/bad_inputs.sh)
# with every moelab run under valgrind, then the C unit tests under valgrind.
# Any memory error or definite leak fails (valgrind exits 99 and the log is
# shown).  "Possibly lost" and "still reachable" blocks (e.g. the OpenMP
# runtime's thread pool) are not errors.
#
# Usage: scripts/valgrind.sh
# Environment: BUILD_VALGRIND (build directory, default build-valgrind), JOBS;
# valgrind's own VALGRIND_OPTS adds options, e.g. VALGRIND_OPTS=--track-origins=yes
# to see where an uninitialised value comes from (about twice as slow).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
build=${BUILD_VALGRIND:-build-valgrind}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}

bash scripts/deps.sh valgrind

# A build without sanitizers (valgrind and AddressSanitizer exclude each
# other), optimised as released but with debugging information for the reports.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOELAB_WERROR=ON -DMOELAB_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$jobs"
build=$(cd "$build" && pwd)

logs=$build/valgrind-logs
rm -rf "$logs"
mkdir -p "$logs"
vg=(valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
  --show-leak-kinds=definite --num-callers=30)
if [ -f scripts/valgrind.supp ]; then vg+=(--suppressions="$src/scripts/valgrind.supp"); fi

# The tests take the binary's path: a wrapper that execs valgrind stands in for it.
wrapper=$build/moelab-valgrind
{
  echo '#!/bin/sh'
  printf 'exec'
  printf ' %q' "${vg[@]}" "--log-file=$logs/moelab.%p.log" "$build/moelab"
  echo ' "$@"'
} >"$wrapper"
chmod +x "$wrapper"

failed=()
echo "valgrind: tests/cli_test.sh" >&2
bash tests/cli_test.sh "$wrapper" "$src" || failed+=(cli_test.sh)
echo "valgrind: tests/bad_inputs.sh" >&2
bash tests/bad_inputs.sh "$wrapper" "$src" || failed+=(bad_inputs.sh)
for t in test_model test_io test_simulate test_l2 test_alloc; do
  echo "valgrind: tests/$t" >&2
  "${vg[@]}" --log-file="$logs/$t.%p.log" "$build/tests/$t" >/dev/null 2>"$logs/$t.stderr" ||
    { failed+=("$t"); tail -5 "$logs/$t.stderr" >&2; }
done

# With --quiet a log holds only errors and definite leaks.
nlogs=0
for f in "$logs"/*.log; do
  [ -e "$f" ] || continue
  nlogs=$((nlogs + 1))
  if [ -s "$f" ]; then
    echo "valgrind: report in $f:" >&2
    head -60 "$f" >&2
    failed+=("$(basename "$f")")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "valgrind: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "valgrind: $nlogs runs under memcheck: no memory error, no definite leak" >&2
