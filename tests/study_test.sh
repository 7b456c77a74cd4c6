#!/usr/bin/env bash
# Study tests: a miniature study end to end (structure of the summary), the
# same results for 1 and 2 threads, kill -9 at random moments then --resume
# gives the results of an uninterrupted run (10 times), SIGINT exits 130 with
# a resume hint, a known-good configuration has the theoretical slope, and bad
# study files are refused with file, line and field.
set -u
moelab=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
mini=$src/tests/studies/mini.json
export MOELAB_STUDIES=$src/studies

sorted() { sort "$1"; }

# ---- end to end, one thread
"$moelab" study "$mini" --out a --threads 1 --no-figures >/dev/null 2>err.txt || fail "mini study failed: $(cat err.txt)"
[ -f a/results.csv ] && [ -f a/summary.csv ] && [ -f a/summary.md ] || fail "missing outputs"
rows=$(($(wc -l < a/results.csv) - 1))
# 3 sizes x 3 replicates x (sigmoid, softmax matched + softmax same-data)
[ "$rows" = 27 ] || fail "results.csv has $rows rows, want 27"
head -1 a/summary.csv | grep -q "^preset,protocol,gate,regime,expert,class,quantity,slope,ci_low,ci_high,lambda,prefers,theory,verdict" \
  || fail "summary.csv header: $(head -1 a/summary.csv)"
awk -F, 'NR > 1 && ($13 != "n^-1/2" && $13 != "n^-1/4" && $13 != "1/log n") {bad=1} NR > 1 && ($14 != "agrees" && $14 != "disagrees") {bad=1} END {exit bad}' a/summary.csv \
  || fail "summary.csv has a theory or verdict outside the allowed values"
grep -q ",expert_rate," a/summary.csv || fail "no expert_rate rows"
for g in "matched,sigmoid" "matched,softmax" "same-data,softmax"; do
  grep -q "^mini,$g,.*,expert_rate," a/summary.csv || fail "no expert_rate row for $g"
done
# theories of the losses (tanh, Regime 2): sigmoid D3 and Lbar at the experts' n^-1/2; softmax D3 at
# the split atoms' n^-1/4 and no Lbar row (its weakest atoms are not switched off)
theory_of() { awk -F, -v p="$1" -v g="$2" -v q="$3" '$2 == p && $3 == g && $7 == q {print $13}' a/summary.csv; }
[ "$(theory_of matched sigmoid loss_D3)" = "n^-1/2" ] || fail "sigmoid loss_D3 theory: $(theory_of matched sigmoid loss_D3)"
[ "$(theory_of matched sigmoid loss_Lbar)" = "n^-1/2" ] || fail "sigmoid loss_Lbar theory: $(theory_of matched sigmoid loss_Lbar)"
[ "$(theory_of matched softmax loss_D3)" = "n^-1/4" ] || fail "softmax loss_D3 theory: $(theory_of matched softmax loss_D3)"
[ "$(theory_of matched softmax loss_D1)" = "n^-1/2" ] || fail "softmax loss_D1 theory: $(theory_of matched softmax loss_D1)"
[ -z "$(theory_of matched softmax loss_Lbar)" ] || fail "softmax has a loss_Lbar theory row"
grep -q "^## Sample efficiency" a/summary.md || fail "summary.md lacks the sample efficiency"
ls a/figures/mini-matched.gp a/figures/mini-matched.dat >/dev/null 2>&1 || fail "figure scripts missing"
ls a/references/*.json >/dev/null 2>&1 || fail "reference measures not saved"

# ---- the same results with 2 threads
"$moelab" study "$mini" --out b --threads 2 --no-figures >/dev/null 2>&1 || fail "mini study (2 threads) failed"
cmp -s <(sorted a/results.csv) <(sorted b/results.csv) || fail "results differ between 1 and 2 threads"

# ---- the expert rate does not depend on the order of the losses (softmax: D1's translation)
sed 's/"losses": \["D1", "D3", "Lbar"\]/"losses": ["D3", "Lbar", "D1"]/' "$mini" > mini-order.json
grep -q '"losses": \["D3", "Lbar", "D1"\]' mini-order.json || fail "could not reorder the losses of $mini"
"$moelab" study mini-order.json --out o --threads 2 --no-figures >/dev/null 2>&1 || fail "mini study (losses reordered) failed"
rate_cols() { awk -F, 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == "task" || $i ~ /^expert_rate/) keep[i] = 1} {s = ""; for (i = 1; i <= NF; i++) if (keep[i]) s = s $i ","; print s}' "$1" | sort; }
cmp -s <(rate_cols a/results.csv) <(rate_cols o/results.csv) || fail "expert_rate changed with the order of the losses"

# ---- results exist: refuse without --resume; --resume of a complete run does nothing
"$moelab" study "$mini" --out a --no-figures >/dev/null 2>err.txt
[ $? = 2 ] && grep -q "resume" err.txt || fail "rerun into a results directory was not refused"
"$moelab" study "$mini" --out a --resume --no-figures >/dev/null 2>&1 || fail "resume of a complete run failed"
cmp -s <(sorted a/results.csv) <(sorted b/results.csv) || fail "resume of a complete run changed the results"
# another study's results are refused
"$moelab" study "$mini" --quick --out a --resume --no-figures >/dev/null 2>err.txt
[ $? = 2 ] && grep -q "another study" err.txt || fail "results of another study were not refused: $(cat err.txt)"

# ---- kill -9 at random moments, then --resume: the results of an uninterrupted run, no partial rows
# (at a random number of rows already written: the study takes well under a second)
total=$(($(wc -l < a/results.csv) - 1))
landed=0
for i in $(seq 1 10); do
  rm -rf k
  "$moelab" study "$mini" --out k --threads 2 --no-figures >/dev/null 2>&1 &
  pid=$!
  want=$((RANDOM % total))
  for _ in $(seq 1 1000); do
    [ -f k/results.csv ] && [ "$(($(wc -l < k/results.csv) - 1))" -ge "$want" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.002
  done
  kill -9 "$pid" 2>/dev/null && landed=$((landed + 1))
  wait "$pid" 2>/dev/null
  if [ -f k/results.csv ]; then
    # a row cut short must never be read back: every complete line has the header's field count
    nf=$(head -1 k/results.csv | awk -F, '{print NF}')
    "$moelab" study "$mini" --out k --threads 2 --resume --no-figures >/dev/null 2>err.txt || fail "resume $i failed: $(cat err.txt)"
    awk -F, -v nf="$nf" 'NF != nf {bad=1} END {exit bad}' k/results.csv || fail "resume $i: a row with a wrong field count"
  else
    "$moelab" study "$mini" --out k --threads 2 --resume --no-figures >/dev/null 2>&1 || fail "resume $i (nothing written) failed"
  fi
  cmp -s <(sorted a/results.csv) <(sorted k/results.csv) || fail "kill/resume $i: results differ from the uninterrupted run"
done
[ "$landed" -ge 5 ] || fail "kill -9 reached a running study only $landed times of 10"

# ---- a known-good configuration: the regression function converges at n^-1/2
"$moelab" study "$src/tests/studies/regression.json" --out r --threads 1 --no-figures >/dev/null 2>&1 || fail "regression study failed"
line=$(grep "^regression,matched,sigmoid,.*,l2_truth," r/summary.csv)
echo "$line" | awk -F, '{exit !($9 <= -0.5 && -0.5 <= $10)}' || fail "regression slope interval excludes -1/2: $line"
echo "$line" | grep -q ",agrees," || fail "regression verdict: $line"

# ---- SIGINT: stops after the fits in flight, exit 130, a resume hint; the resumed run is the full run
rm -rf s
"$moelab" study "$src/tests/studies/regression.json" --out s --threads 1 --no-figures >/dev/null 2>err.txt &
pid=$!
# signal once the first row is written (a fixed delay outlasted the whole study once the fits got faster)
for _ in $(seq 1 1000); do
  [ -f s/results.csv ] && [ "$(wc -l < s/results.csv)" -ge 2 ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.005
done
kill -INT "$pid"
wait "$pid"
rc=$?
[ "$rc" = 130 ] || fail "SIGINT: exit $rc, want 130"
grep -q "resume with: moelab study" err.txt || fail "SIGINT: no resume hint: $(cat err.txt)"
done_rows=$(($(wc -l < s/results.csv) - 1))
total_rows=$(($(wc -l < r/results.csv) - 1))
[ "$done_rows" -lt "$total_rows" ] || fail "SIGINT did not stop the study early ($done_rows of $total_rows fits)"
"$moelab" study "$src/tests/studies/regression.json" --out s --resume --no-figures >/dev/null 2>&1 || fail "resume after SIGINT failed"
cmp -s <(sorted r/results.csv) <(sorted s/results.csv) || fail "SIGINT/resume: results differ"

# ---- moelab reproduce over a presets directory: the rate table, every preset, the diagnostics.
# The regression study above is resumed with its expert rate replaced by a constant: that curve
# then disagrees with n^-1/4 (slope 0) and the report must diagnose it from its results.
mkdir presets rep
sed 's/"name": "mini"/"name": "gelu-regime2"/' "$mini" > presets/gelu-regime2.json
cp "$src/tests/studies/regression.json" presets/
cp -r r rep/regression
awk -F, -v OFS=, 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == "expert_rate") c = i} NR > 1 {$c = 1} {print}' \
  r/results.csv > rep/regression/results.csv
MOELAB_STUDIES=$work/presets "$moelab" reproduce --out rep --threads 2 --no-figures >out.txt 2>err.txt \
  || fail "reproduce failed: $(cat err.txt)"
grep -q "^moelab reproduce: [0-2] of 2 rate-table cells agree; report in rep/report.md" out.txt || fail "reproduce: $(cat out.txt)"
[ -s rep/report.md ] && [ -s rep/report.html ] && [ -s rep/gelu-regime2/summary.csv ] || fail "reproduce outputs missing"
grep -q '^| Regime 2, sigmoid | n^-1/2 \\| ' rep/report.md || fail "rate table: no Regime 2 sigmoid cell"
grep -q '^| Regime 1, sigmoid | ? \\| not run |' rep/report.md || fail "rate table: a preset not run is not marked"
grep -q '^| gelu-regime2 | softmax | same-data |' rep/report.md || fail "every-preset table lacks the same-data curve"
grep -q '^| regression | sigmoid | matched | 0.000 \[0.000, 0.000\] | n^-1/4 | disagrees |' rep/report.md \
  || fail "the constant expert rate does not disagree: $(grep '^| regression' rep/report.md)"
want=$(cat rep/*/summary.csv | awk -F, '$7 == "expert_rate" && $14 == "disagrees"' | wc -l)
diag=$(sed -n '/^## Diagnostics/,/^## Figures/p' rep/report.md)
got=$(echo "$diag" | grep -c '^- \*\*')
[ "$want" -ge 1 ] && [ "$want" = "$got" ] || fail "report: $got diagnostics for $want disagreeing curves"
bound=$(awk -F, 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == "n_at_bound") c = i} NR > 1 && $c > 0 {k++} END {print k + 0}' r/results.csv)
echo "$diag" | grep '^- \*\*regression, sigmoid gate, matched protocol\*\*: slope 0.00 \[0.00, 0.00\] against n^-1/4 (slower than the theory)\. ' \
  | grep -q "Fits: 40 of 40 converged, 0 failed; .*With a parameter on Θ's boundary: $bound[ .].*Likely causes: " \
  || fail "diagnostics of the regression curve: $(echo "$diag" | grep regression)"

# ---- bad study files: exit 2, file:line: field
printf '{"name": "x", "truth": {"gate": "sigmoid", "expert": "relu", "d": 1,\n "atoms": [{"beta0": 0, "beta1": [0], "eta": [1]}]}}\n' > bad1.json
"$moelab" study bad1.json --out z >/dev/null 2>err.txt
[ $? = 2 ] && grep -q "bad1.json:2: field 'truth.atoms\[0\].eta'" err.txt || fail "bad1: $(cat err.txt)"
sed 's/"regime": 2/"regime": 3/' "$mini" > bad2.json
"$moelab" study bad2.json --out z >/dev/null 2>err.txt
[ $? = 2 ] && grep -q "field 'regime'" err.txt || fail "bad2: $(cat err.txt)"
sed 's/"k": 3/"k": 1/' "$mini" > bad3.json
"$moelab" study bad3.json --out z >/dev/null 2>err.txt
[ $? = 2 ] && grep -q "field 'k'" err.txt || fail "bad3: $(cat err.txt)"
sed 's/"replicates": 3/"replicate": 3/' "$mini" > bad4.json
"$moelab" study bad4.json --out z >/dev/null 2>err.txt
[ $? = 2 ] && grep -q "field 'replicate': unknown study member" err.txt || fail "bad4: $(cat err.txt)"
sed 's/"max_iter": 300,/"max_iter": 300, "kink_tol": -1,/' "$mini" > bad5.json
"$moelab" study bad5.json --out z >/dev/null 2>err.txt
[ $? = 2 ] && grep -q "bad5.json:[0-9]*: field 'kink_tol': must be in \[0, 1\]" err.txt || fail "bad5: $(cat err.txt)"
"$moelab" study no-such-preset --out z >/dev/null 2>err.txt
[ $? = 2 ] && grep -q "no such study file or preset" err.txt || fail "missing preset: $(cat err.txt)"
"$moelab" study --list > list.txt && grep -q "gelu-regime1" list.txt || fail "--list does not show the presets"

echo "study tests: $fails failed" >&2
[ "$fails" -eq 0 ]
