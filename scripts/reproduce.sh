#!/usr/bin/env bash
# The main job on the built-in default: simulate from the example model,
# predict, evaluate, and say where the files are.
set -euo pipefail
moelab=$1
out=$2
mkdir -p "$out"
model=examples/model-sigmoid-relu.json
"$moelab" simulate --model "$model" --n 10000 --seed 1 -o "$out/data.csv"
"$moelab" predict --model "$model" "$out/data.csv" -o "$out/predictions.csv"
"$moelab" eval --model "$model" "$out/data.csv" | tee "$out/eval.txt"
echo "moelab reproduce: results are in $out/ (data.csv, predictions.csv, eval.txt)"
