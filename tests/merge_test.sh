#!/usr/bin/env bash
# Shards and merge: shards 0/3, 1/3, 2/3 of the miniature study merged (in any
# order) equal the single-process results after sorting; a missing shard, a
# shard given twice (the same directory or a copy), shards of different studies
# or layouts, an incomplete shard and a duplicated row are refused with exit 2
# and a message naming them, and write nothing.
set -u
moelab=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
mini=$src/tests/studies/mini.json

# expect_refusal NAME PATTERN ARGS...: moelab merge ARGS exits 2, says PATTERN, writes no results
expect_refusal() {
  local name=$1 pattern=$2
  shift 2
  rm -rf z
  "$moelab" merge "$@" --out z --no-figures >out.txt 2>err.txt
  local rc=$?
  [ "$rc" = 2 ] || fail "$name: exit $rc, want 2: $(cat err.txt)"
  grep -q -- "$pattern" err.txt || fail "$name: message lacks '$pattern': $(cat err.txt)"
  [ ! -e z/results.csv ] || fail "$name: results written"
  [ ! -s out.txt ] || fail "$name: output on stdout"
}

"$moelab" study "$mini" --out full --threads 1 --no-figures >/dev/null 2>err.txt || fail "single run failed: $(cat err.txt)"
for i in 0 1 2; do
  "$moelab" study "$mini" --shard "$i/3" --out "s$i" --threads 1 --no-figures >out.txt 2>err.txt \
    || fail "shard $i/3 failed: $(cat err.txt)"
  grep -q "moelab merge" out.txt || fail "shard $i/3: no hint to merge: $(cat out.txt)"
  [ ! -e "s$i/summary.csv" ] || fail "shard $i/3 was summarised"
  grep -q "\"shard\": \[$i, 3\]" "s$i/manifest.json" || fail "shard $i/3: manifest: $(cat "s$i/manifest.json")"
done
n=0
for i in 0 1 2; do n=$((n + $(wc -l < "s$i/results.csv") - 1)); done
[ "$n" = 27 ] || fail "the shards hold $n rows, want 27"

# ---- merged (in any order) = single process, after sorting
"$moelab" merge s2 s0 s1 --out m --no-figures >/dev/null 2>err.txt || fail "merge failed: $(cat err.txt)"
cmp -s <(sort full/results.csv) <(sort m/results.csv) || fail "merged results differ from the single-process results"
[ "$(head -1 m/results.csv)" = "$(head -1 full/results.csv)" ] || fail "merged results: header not first"
cmp -s full/summary.csv m/summary.csv || fail "merged summary.csv differs from the single-process one"
grep -q '"shard": \[0, 1\]' m/manifest.json || fail "merged manifest: $(cat m/manifest.json)"
cmp -s "$mini" m/study.json || fail "merged study.json is not the study file"
ls m/references/*.json >/dev/null 2>&1 || fail "merged references missing"
[ -f m/summary.md ] && [ -f m/figures/mini-matched.gp ] || fail "merged summary or figure scripts missing"
[ "$(wc -l < m/timings.csv)" = 27 ] || fail "merged timings.csv: $(wc -l < m/timings.csv) lines, want 27"
# results already there: refused
"$moelab" merge s0 s1 s2 --out m --no-figures >/dev/null 2>err.txt
[ $? = 2 ] && grep -q "already exist" err.txt || fail "merge over existing results was not refused: $(cat err.txt)"

# ---- refusals
expect_refusal "missing shard" "shards missing (1/3): 9 tasks missing" s0 s2
expect_refusal "missing shard (command)" "moelab study s0/study.json --shard 1/3" s0 s2
expect_refusal "same directory twice" "shard 1/3 is given twice: s1 and s1 (the same directory)" s0 s1 s1 s2
cp -r s1 s1copy
expect_refusal "two copies of a shard" "shard 1/3 is given twice: s1 and s1copy" s0 s1 s1copy s2
"$moelab" study "$mini" --quick --shard 1/3 --out q1 --threads 1 --no-figures >/dev/null 2>&1 || fail "quick shard failed"
expect_refusal "another study (quick)" "different studies" s0 q1 s2
sed 's/"seed": 7/"seed": 8/' "$mini" > other.json
"$moelab" study other.json --shard 1/3 --out o1 --threads 1 --no-figures >/dev/null 2>&1 || fail "other study shard failed"
expect_refusal "another study file" "different studies" s0 o1 s2
"$moelab" study "$mini" --shard 1/2 --out h1 --threads 1 --no-figures >/dev/null 2>&1 || fail "shard 1/2 failed"
expect_refusal "another layout" "s0 is shard 0/3 but h1 is shard 1/2" s0 h1 s2
expect_refusal "not a results directory" "no manifest.json" s0 nowhere s2
# an incomplete shard (killed: its last row cut short), then completed with --resume
cp -r s1 s1cut
head -c -40 s1/results.csv > s1cut/results.csv
last=$(tail -1 s1/results.csv | cut -d, -f1)
expect_refusal "incomplete shard" "1 of 27 tasks missing ($last) from s1cut (shard 1/3)" s0 s1cut s2
"$moelab" study s0/study.json --shard 1/3 --out s1cut --resume --no-figures >/dev/null 2>err.txt \
  || fail "resume of the incomplete shard failed: $(cat err.txt)"
rm -rf m2
"$moelab" merge s0 s1cut s2 --out m2 --no-figures >/dev/null 2>err.txt || fail "merge after resume failed: $(cat err.txt)"
cmp -s <(sort full/results.csv) <(sort m2/results.csv) || fail "merge after resume differs"
# a row in two shards
cp -r s1 s1dup
tail -1 s0/results.csv >> s1dup/results.csv
dup=$(tail -1 s0/results.csv | cut -d, -f1)
expect_refusal "duplicated task" "1 task duplicated: $dup in s0 and s1dup" s0 s1dup s2
# usage
"$moelab" merge s0 s1 s2 >/dev/null 2>err.txt
[ $? = 2 ] && grep -q -- "--out" err.txt || fail "merge without --out: $(cat err.txt)"

echo "merge tests: $fails failed" >&2
[ "$fails" -eq 0 ]
