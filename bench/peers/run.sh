#!/usr/bin/env bash
# run.sh — moelab against scipy and PyTorch on the same MoE least squares
# problems (bench/peers/peers.py): n = 2e4, d = 1, k = 3 fitted from a
# near-truth start (a 2-atom truth whose heaviest atom moelab splits, every
# parameter perturbed by 0.1), sigmoid and softmax gates, GELU and ReLU
# experts, one thread.  Builds nothing: give it the moelab binary.
#
# Usage: bench/peers/run.sh BUILD/moelab [--n N] [--reps R] [--quick] [--only PROBLEMS] [--moelab-args "ARGS"]
#   --quick: the two GELU problems only, 1 repetition
#   --only: a comma-separated subset of sigmoid:gelu,softmax:gelu,sigmoid:relu,softmax:relu
#   --moelab-args: further options of moelab fit, e.g. "--newton"
# Every engine solves the same problem: SSE over the box [-10, 10] of every
# parameter (moelab's default Theta; peers.py explains how each peer keeps it).
# Needs Debian's python3-numpy, python3-scipy and python3-torch
# (apt-get install python3-scipy python3-torch); PYTHON overrides the
# interpreter (default /usr/bin/python3, Debian's).
set -euo pipefail

if [ $# -lt 1 ] || [ ! -x "$1" ]; then
  echo "usage: $0 MOELAB_BINARY [--n N] [--reps R] [--quick] [--only PROBLEMS] [--moelab-args ARGS]" >&2
  exit 2
fi
MOELAB=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
N=20000
REPS=3
QUICK=0
MARGS=""
ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --n) N=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --quick) QUICK=1; REPS=1; shift ;;
    --moelab-args) MARGS=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    *) echo "$0: unknown option $1" >&2; exit 2 ;;
  esac
done
PY=${PYTHON:-/usr/bin/python3}
HERE=$(cd "$(dirname "$0")" && pwd)
if ! "$PY" -c 'import numpy, scipy, torch' 2>/dev/null; then
  echo "$0: $PY lacks numpy, scipy or torch (apt-get install python3-numpy python3-scipy python3-torch)" >&2
  exit 1
fi

CORES=$(nproc --all)
# one core for every engine
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

echo "# moelab vs scipy.optimize.least_squares (trf) and torch.optim.LBFGS: n = $N, d = 1, k = 3 from a"
echo "# near-truth start, every parameter in [-10, 10], 1 thread; moelab fit options: ${MARGS:-(defaults)}"
echo "# time: median of up to $REPS runs (fewer when a run takes over 5 s);"
echo "# SSE and |grad SSE|_inf at the end point recomputed by the same numpy code for every engine"
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $CORES cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $("$PY" -c 'import numpy, scipy, torch; print("numpy", numpy.__version__, "scipy", scipy.__version__, "torch", torch.__version__)')"
printf '%-13s %-13s %-24s %17s %10s %9s %9s  %s\n' problem engine "time s" "SSE" "vs best" "|grad|" "fastest/" notes
printf '%-13s %-13s %-24s %17s %10s %9s %9s\n' "" "" "" "" "peer" "inf" "this"

problems="sigmoid:gelu softmax:gelu sigmoid:relu softmax:relu"
[ "$QUICK" = 1 ] && problems="sigmoid:gelu softmax:gelu"
if [ -n "$ONLY" ]; then
  for pr in ${ONLY//,/ }; do
    case " sigmoid:gelu softmax:gelu sigmoid:relu softmax:relu " in
      *" $pr "*) ;;
      *) echo "$0: --only: unknown problem $pr" >&2; exit 2 ;;
    esac
  done
  problems=${ONLY//,/ }
fi
for pr in $problems; do
  gate=${pr%%:*}
  expert=${pr##*:}
  dir=$TMP/$gate-$expert
  mkdir -p "$dir"
  # the 2-atom truth of bench/bench_common.h (d = 1)
  cat > "$dir/truth.json" <<JSON
{"format": "moelab-model", "version": 1, "gate": "$gate", "expert": "$expert", "degree": 1, "d": 1,
 "atoms": [{"beta0": 0.5, "beta1": [2.0], "eta": [1.5, 0.5]},
           {"beta0": -0.5, "beta1": [-3.0], "eta": [-2.0, 1.0]}],
 "input": {"law": "uniform", "low": [-1.0], "high": [1.0]}, "noise": 0.01}
JSON
  "$MOELAB" simulate --model "$dir/truth.json" --n "$N" --seed 11 -o "$dir/data.csv"
  # the start: the truth split into 3 atoms and perturbed, as moelab builds it (0 iterations)
  "$MOELAB" fit "$dir/data.csv" --init "model:$dir/truth.json" --k 3 --perturb 0.1 --max-iter 0 \
    --threads 1 --no-se -q -o "$dir/start.json"
  "$PY" "$HERE/peers.py" --data "$dir/data.csv" --start "$dir/start.json" --moelab "$MOELAB" \
    --label "$gate/$expert" --reps "$REPS" --moelab-args="$MARGS"
done
