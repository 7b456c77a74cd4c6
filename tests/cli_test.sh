#!/usr/bin/env bash
# Command-line tests: exit codes, messages (prefix, file, line, field), no
# output on failure, stdin/stdout, and the simulate -> eval acceptance check.
set -u
moelab=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fails=0
count=0

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# expect CODE PATTERN -- command...: exit code and a stderr pattern
expect() {
  local code=$1 pattern=$2
  shift 3
  count=$((count + 1))
  "$@" >out.txt 2>err.txt
  local got=$?
  if [ "$got" != "$code" ]; then
    fail "$* -> exit $got, want $code; stderr: $(head -c 300 err.txt)"
  elif [ -n "$pattern" ] && ! grep -qE -- "$pattern" err.txt; then
    fail "$* -> stderr lacks /$pattern/: $(head -c 300 err.txt)"
  fi
}

cp "$src/examples/model-sigmoid-relu.json" m.json

# help and version
expect 0 "" -- "$moelab" --help
grep -q "simulate" out.txt || fail "--help lacks the commands"
expect 0 "" -- "$moelab" --version
grep -qE "^moelab [0-9]+\.[0-9]+\.[0-9]+$" out.txt || fail "--version output: $(cat out.txt)"
for c in simulate predict eval; do
  expect 0 "" -- "$moelab" $c --help
  grep -q "^Usage: moelab $c" out.txt || fail "$c --help has no usage line"
  expect 0 "" -- "$moelab" help $c
done
expect 2 "" -- "$moelab"
expect 2 "^moelab: unknown command 'frobnicate'" -- "$moelab" frobnicate
expect 2 "^moelab simulate: unknown option '--bogus'" -- "$moelab" simulate --bogus
expect 2 "^moelab simulate: missing --model" -- "$moelab" simulate --n 5
expect 2 "^moelab simulate: option '--n' needs a value" -- "$moelab" simulate --model m.json --n
expect 2 "^moelab simulate: option '--n': .*out of range" -- "$moelab" simulate --model m.json --n 0
expect 2 "^moelab simulate: option '--n': expected a whole number" -- "$moelab" simulate --model m.json --n abc
expect 2 "^moelab simulate: option '--noise': .*out of range" -- "$moelab" simulate --model m.json --n 5 --noise -1
expect 2 "^moelab simulate: option '--seed'" -- "$moelab" simulate --model m.json --n 5 --seed -3
expect 2 "given twice" -- "$moelab" simulate --model m.json --model m.json --n 5
expect 2 "^moelab eval: missing --model" -- "$moelab" eval d.csv

# the acceptance check: simulate 1e5 rows, the MSE is within 5% of ν = 0.01
expect 0 "" -- "$moelab" simulate --model m.json --n 100000 --seed 7 -o d.csv
[ "$(wc -l < d.csv)" = 100001 ] || fail "d.csv has $(wc -l < d.csv) lines"
expect 0 "" -- "$moelab" eval --model m.json d.csv
mse=$(awk '$1 == "mse" {print $2}' out.txt)
awk -v m="$mse" 'BEGIN { exit !(m > 0.0095 && m < 0.0105) }' || fail "mse $mse not within 5% of 0.01"
# --key=value form and stdout, identical data for the same seed
expect 0 "" -- "$moelab" simulate --model=m.json --n=100000 --seed=7 --output=-
cmp -s out.txt d.csv || fail "--key=value / stdout output differs from -o output"
# another seed gives other data
"$moelab" simulate --model m.json --n 10 --seed 8 > d8.csv
[ "$(sed -n 2p d8.csv)" != "$(sed -n 2p d.csv)" ] || fail "seed 8 equals seed 7"
# stdin data, predict adds yhat
head -101 d.csv > small.csv
expect 0 "" -- sh -c "'$moelab' predict --model m.json - < small.csv > p.csv"
head -1 p.csv | grep -qx "x1,y,yhat" || fail "predict header: $(head -1 p.csv)"
[ "$(wc -l < p.csv)" = 101 ] || fail "predict rows"
# the model from stdin
expect 0 "" -- sh -c "'$moelab' eval --model - small.csv < m.json"
# model vs model: the L2 distance to itself is 0; to a shifted copy it is positive
expect 0 "" -- "$moelab" eval --model m.json --against m.json --json
grep -q '"l2": 0,' out.txt || fail "self distance: $(cat out.txt)"
sed 's/"beta0": -0.5/"beta0": 0.5/' m.json > m2.json
expect 0 "" -- "$moelab" eval --model m.json m2.json
awk '$1 == "l2_distance" {exit !($2 > 0.01)}' out.txt || fail "distance to m2: $(cat out.txt)"

# ---- fit
expect 0 "" -- "$moelab" fit small.csv --gate sigmoid --expert relu --k 2 --init model:m.json --restarts 2 -o fit.json
grep -q '"format": "moelab-model"' fit.json || fail "fit output is not a model file"
grep -q '"converged": ' fit.json || fail "fit output lacks the report"
grep -q "^converged: " out.txt || fail "fit report not on stdout when -o names a file"
expect 0 "" -- "$moelab" eval --model fit.json small.csv
expect 0 "" -- "$moelab" fit small.csv --k 1..3 --expert gelu --init kmeans -o fit2.json
grep -q "<- chosen" out.txt || fail "k selection table missing"
expect 0 "" -- "$moelab" fit small.csv --k 2 -q -o -
grep -q '"fit": {' out.txt || fail "fit to stdout"
# the Newton model: the same start, a converged fit whose report names its step
expect 0 "" -- "$moelab" fit small.csv --gate sigmoid --expert relu --k 2 --init model:m.json --newton -q -o fitn.json
grep -q '"step": *"newton"' fitn.json || fail "fit --newton: the report does not name the Newton step"
grep -q '"step": *"gauss-newton, accelerated"' fit.json || fail "fit: the report does not name its step"
grep -q '"kink_tol": 1e-10' fit.json || fail "fit: the report does not record kink_tol"
expect 0 "" -- "$moelab" fit small.csv --gate sigmoid --expert relu --k 2 --init model:m.json --kink-tol 0 -q -o fitk.json
grep -q '"kink_tol": 0' fitk.json || fail "fit --kink-tol 0: not recorded"
expect 2 "^moelab fit: option '--kink-tol'" -- "$moelab" fit small.csv --kink-tol -1
expect 2 "^moelab fit: option '--gate': unknown gate 'tanh'" -- "$moelab" fit small.csv --gate tanh
expect 2 "^moelab fit: option '--k'" -- "$moelab" fit small.csv --k 0
expect 2 "^moelab fit: option '--k'" -- "$moelab" fit small.csv --k 3..2
expect 2 "^moelab fit: option '--init'" -- "$moelab" fit small.csv --init spectral
expect 2 "^moelab fit: option '--box-eta': expected LO,HI" -- "$moelab" fit small.csv --box-eta 3,1
expect 2 "fewer rows \(5\) than free parameters" -- sh -c "head -6 small.csv > tiny.csv; '$moelab' fit tiny.csv --k 3 -o tiny.json"
[ ! -e tiny.json ] || fail "tiny.json written despite the error"
expect 2 "k = 1 is smaller than the start model's k = 2" -- "$moelab" fit small.csv --k 1 --init model:m.json
printf 'x1,x2,y\n1,2,3\n' > two.csv
expect 2 "the header has 2 input columns but the model has d = 1" -- "$moelab" fit two.csv --init model:m.json

# ---- loss, reference, rate
expect 0 "" -- "$moelab" loss --fit fit.json --ref m.json --json
for key in '"loss":"D1"' '"value":' '"cells":\[' '"terms":{"mass":' '"overspecified":' '"expert_rate":{"all":' '"all_unweighted":'; do
  grep -q "$key" out.txt || fail "loss --json lacks $key: $(head -c 300 out.txt)"
done
expect 0 "" -- "$moelab" loss --fit fit.json --ref m.json --loss D2:1.5
grep -q "^loss D2:1.5 = " out.txt || fail "loss table: $(head -2 out.txt)"
expect 0 "" -- "$moelab" loss --fit fit.json --ref m.json --loss Lbar --json
grep -q '"switched_off":' out.txt || fail "Lbar lacks switched_off"
expect 2 "option '--loss': unknown loss 'D9'" -- "$moelab" loss --fit fit.json --ref m.json --loss D9
expect 2 "^moelab loss: missing --ref" -- "$moelab" loss --fit fit.json
expect 0 "" -- "$moelab" reference --truth m.json --k 3 --restarts 2 -o gbar.json
grep -q '"reference": {' gbar.json || fail "reference output lacks its report"
grep -q "^distance ||f_Gbar - f_G\*|| = " out.txt || fail "reference report: $(head -3 out.txt)"
expect 2 "k = 1 is smaller than the truth" -- "$moelab" reference --truth m.json --k 1
printf 'n,value,g\n1000,0.1,a\n1000,0.12,a\n4000,0.05,a\n4000,0.051,a\n16000,0.025,a\n16000,0.026,a\n' > rate.csv
expect 0 "" -- "$moelab" rate rate.csv --by g --json
awk '/"slope":/ {if (match($0, /"slope": -?[0-9.e-]+/)) {v = substr($0, RSTART + 9, RLENGTH - 9) + 0; exit !(v < -0.45 && v > -0.55)}}' out.txt || fail "rate slope: $(cat out.txt)"
expect 2 "no column 'loss'" -- "$moelab" rate rate.csv --y loss
printf 'n,value\n1000,0.1\n1000,-1\n2000,0.1\n' > rate2.csv
expect 2 "values must be >= 0" -- "$moelab" rate rate2.csv

# ---- bad input: exit 2, a message with file:line and field, no output file
printf 'x1,y\n1,2\n3,abc\n' > bad1.csv
expect 2 "^moelab eval: bad1.csv:3: field 'y': not a number: 'abc'" -- "$moelab" eval --model m.json bad1.csv
printf 'x1,y\n1,2\n,4\n' > bad2.csv
expect 2 "bad2.csv:3: field 'x1': empty field" -- "$moelab" eval --model m.json bad2.csv
printf 'x1,y\n1,2\n3\n' > bad3.csv
expect 2 "bad3.csv:3: row has 1 field but the header has 2" -- "$moelab" eval --model m.json bad3.csv
printf 'x1,x2,y\n1,2,3\n' > bad4.csv
expect 2 "bad4.csv:1: the header has 2 input columns but the model has d = 1" -- "$moelab" predict --model m.json bad4.csv -o p4.csv
[ ! -e p4.csv ] || fail "p4.csv written despite the error"
printf '' > empty.csv
expect 2 "empty.csv: empty file" -- "$moelab" eval --model m.json empty.csv
printf 'x1,y\n1,NaN\n' > bad5.csv
expect 2 "bad5.csv:2: field 'y': NaN or infinite" -- "$moelab" eval --model m.json bad5.csv
printf 'x1,y\n1,inf\n' > bad6.csv
expect 2 "bad6.csv:2: field 'y': NaN or infinite" -- "$moelab" eval --model m.json bad6.csv
printf 'x1\n1\n' > noy.csv
expect 2 "noy.csv:1: field 'y': the header has no output column" -- "$moelab" eval --model m.json noy.csv
expect 2 "nonexistent.csv: cannot open" -- "$moelab" eval --model m.json nonexistent.csv
expect 2 "nonexistent.json: cannot open" -- "$moelab" eval --model nonexistent.json d.csv
expect 2 "is a directory" -- "$moelab" eval --model m.json .
head -c 100 m.json > trunc.json
expect 2 "trunc.json:[0-9]+: invalid JSON" -- "$moelab" simulate --model trunc.json --n 5 -o t.csv
[ ! -e t.csv ] || fail "t.csv written despite the error"
sed 's/"gate": "sigmoid"/"gate": "sigmod"/' m.json > g.json
expect 2 "g.json:2: field 'gate': unknown gate \"sigmod\"" -- "$moelab" simulate --model g.json --n 5
sed 's/"expert": "relu"/"expert": "quadratic"/' m.json > e.json
expect 2 "e.json:2: field 'expert': unknown expert family" -- "$moelab" simulate --model e.json --n 5
sed 's/"eta": \[1.0, 0.5\]/"eta": [1.0]/' m.json > eta.json
expect 2 "eta.json:3: field 'atoms\[0\].eta': expected 2 numbers, found 1" -- "$moelab" simulate --model eta.json --n 5
sed 's/"noise": 0.01/"noise": -0.01/' m.json > noise.json
expect 2 "noise.json:6: field 'noise': the noise variance must be >= 0" -- "$moelab" simulate --model noise.json --n 5
sed 's/"d": 1/"d": 0/' m.json > d0.json
expect 2 "d0.json:2: field 'd'" -- "$moelab" simulate --model d0.json --n 5
printf '{"gate": "sigmoid", "expert": "relu", "d": 1,\n "atoms": []}\n' > k0.json
expect 2 "k0.json:2: field 'atoms': a model needs k >= 1" -- "$moelab" simulate --model k0.json --n 5
printf '{"gate": "sigmoid", "expert": "relu", "d": 1,\n "atoms": [{"beta0": 0, "beta1": [0], "eta": [1, 2]}]}\n' > noinput.json
expect 2 "has no \"input\" law" -- "$moelab" simulate --model noinput.json --n 5
expect 0 "" -- "$moelab" simulate --model noinput.json --n 5 --law normal --mean 0 --sd 1
expect 2 "option '--sd'" -- "$moelab" simulate --model noinput.json --n 5 --law normal --mean 0 --sd 1,2
expect 2 "sd must be > 0" -- "$moelab" simulate --model noinput.json --n 5 --law normal --mean 0 --sd 0
# a device is written in place, never replaced by a renamed file
rm -f fifo fifo.out
mkfifo fifo
(cat fifo > fifo.out &)
expect 0 "" -- "$moelab" simulate --model m.json --n 3 -o fifo
sleep 0.2
[ -p fifo ] || fail "the FIFO was replaced by a regular file"
[ "$(wc -l < fifo.out)" = 4 ] || fail "the FIFO did not receive the data"
expect 0 "" -- "$moelab" simulate --model m.json --n 3 -o /dev/null
[ -c /dev/null ] || fail "/dev/null is no longer a device"
# an output path that cannot be written: runtime failure, exit 1
expect 1 "cannot create output file" -- "$moelab" simulate --model m.json --n 5 -o /nonexistent/dir/x.csv
# a FIFO (or a device such as /dev/null) named by -o is written in place, never
# replaced by a regular file
rm -f fifo fifo.out
mkfifo fifo
timeout 60 cat fifo >fifo.out &
reader=$!
expect 0 "" -- "$moelab" simulate --model m.json --n 5 --seed 7 -o fifo
[ -p fifo ] && { exec 3<>fifo; exec 3>&-; }  # the reader ends even when nothing was written
wait "$reader"
[ -p fifo ] || fail "-o FIFO replaced the FIFO by a regular file"
"$moelab" simulate --model m.json --n 5 --seed 7 | cmp -s - fifo.out || fail "-o FIFO: the data differ from stdout's"
if mknod nulldev c 1 3 2>/dev/null; then
  expect 0 "" -- "$moelab" simulate --model m.json --n 5 -o nulldev
  [ -c nulldev ] || fail "-o DEVICE replaced the device by a regular file"
  rm -f nulldev
fi

echo "$count CLI checks, $fails failed" >&2
[ "$fails" -eq 0 ]
