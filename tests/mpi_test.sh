#!/usr/bin/env bash
# MPI runner (built with -DMOELAB_MPI=ON): `mpirun -np N moelab study` on the
# miniature study gives the single-process results (identical after sorting)
# and summary, for one and two workers and two threads per worker; --resume
# completes a run cut short; an MPI run of one shard merges with the others;
# results already present are refused on every rank with one message.
set -u
moelab=$1
src=$2
mpirun=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
mini=$src/tests/studies/mini.json
# as root (CI containers) Open MPI needs both; shared-memory copies without ptrace for containers
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
mpi() { "$mpirun" --oversubscribe --bind-to none "$@"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}'; }

t=$(now)
"$moelab" study "$mini" --out a --threads 1 --no-figures >/dev/null 2>err.txt || fail "single run failed: $(cat err.txt)"
echo "single process, 1 thread: $(elapsed "$t") s" >&2

# ---- 1 and 2 workers, 1 or 2 threads each: the single-process results and summary
for cfg in "2 1" "3 1" "2 2"; do
  set -- $cfg
  np=$1 th=$2 d=m$1x$2
  t=$(now)
  mpi -np "$np" "$moelab" study "$mini" --out "$d" --threads "$th" --no-figures >out.txt 2>err.txt \
    || fail "mpirun -np $np --threads $th failed: $(cat err.txt)"
  echo "mpirun -np $np, $th thread(s) per worker: $(elapsed "$t") s" >&2
  [ "$(grep -c "results in $d/" out.txt)" = 1 ] || fail "np $np: rank 0 should report once: $(cat out.txt)"
  cmp -s <(sort a/results.csv) <(sort "$d/results.csv") || fail "np $np threads $th: results differ from the single process"
  cmp -s a/summary.csv "$d/summary.csv" || fail "np $np threads $th: summary.csv differs from the single process"
  [ "$(wc -l < "$d/timings.csv")" = 27 ] || fail "np $np threads $th: timings.csv has $(wc -l < "$d/timings.csv") lines"
  grep -q '"shard": \[0, 1\]' "$d/manifest.json" || fail "np $np: manifest: $(cat "$d/manifest.json")"
  ls "$d"/references/*.json >/dev/null 2>&1 || fail "np $np: references missing"
done

# ---- --resume of a run cut short (10 rows and a partial one kept)
mkdir r
cp a/manifest.json a/study.json r/
cp -r a/references r/
head -11 a/results.csv > r/results.csv
sed -n 12p a/results.csv | head -c 50 >> r/results.csv
t=$(now)
mpi -np 2 "$moelab" study "$mini" --out r --resume --no-figures >/dev/null 2>err.txt || fail "MPI resume failed: $(cat err.txt)"
echo "mpirun -np 2 --resume (17 of 27 fits): $(elapsed "$t") s" >&2
cmp -s <(sort a/results.csv) <(sort r/results.csv) || fail "MPI resume: results differ from the single process"
[ "$(wc -l < r/timings.csv)" = 17 ] || fail "MPI resume ran $(wc -l < r/timings.csv) fits, want 17"

# ---- one shard over MPI, merged with the others
mpi -np 2 "$moelab" study "$mini" --shard 1/3 --out s1 --no-figures >/dev/null 2>err.txt || fail "MPI shard failed: $(cat err.txt)"
for i in 0 2; do "$moelab" study "$mini" --shard "$i/3" --out "s$i" --threads 1 --no-figures >/dev/null 2>&1 || fail "shard $i"; done
"$moelab" merge s0 s1 s2 --out merged --no-figures >/dev/null 2>err.txt || fail "merge of an MPI shard failed: $(cat err.txt)"
cmp -s <(sort a/results.csv) <(sort merged/results.csv) || fail "MPI shard merged: results differ"

# ---- results already there: refused, one message, exit 2
mpi -np 2 "$moelab" study "$mini" --out m2x1 --no-figures >out.txt 2>err.txt
rc=$?
[ "$rc" = 2 ] || fail "MPI rerun into results: exit $rc, want 2"
[ "$(grep -c "moelab study: .*resume" err.txt)" = 1 ] || fail "MPI rerun into results: want one message: $(cat err.txt)"

echo "mpi tests: $fails failed" >&2
[ "$fails" -eq 0 ]
