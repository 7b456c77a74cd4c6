#!/usr/bin/env bash
# Mixtures of linear experts on the tone perception data (examples/tonedata.csv,
# see examples/README.md): for each gate, choose k in 1..4 by BIC, print the
# table of criteria, the fit and its scores, write the fitted models, and draw
# the data with each fitted regression function and its experts' lines
# (examples/output/tone.svg and tone.png).  The k = 2 fits are drawn too, for
# comparison.  Run from anywhere: examples/tone.sh  (builds moelab if needed;
# MOELAB=path/to/moelab uses another binary).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
moelab=${MOELAB:-$root/build/moelab}
if [ ! -x "$moelab" ]; then
  echo "tone.sh: building moelab (make build)" >&2
  make -C "$root" build >&2
fi
command -v gnuplot >/dev/null || { echo "tone.sh: gnuplot is missing (make deps installs it)" >&2; exit 1; }

data=$here/tonedata.csv
out=$here/output
mkdir -p "$out"
cols=(--x stretchratio --y tuned)
fitopts=(--expert linear --restarts 8 --init kmeans --seed 0)

# A grid over the observed stretch ratios for the fitted curves.
read -r lo hi < <(awk -F, 'NR > 1 { gsub(/"/, ""); if (min == "" || $1 < min) min = $1; if (max == "" || $1 > max) max = $1 }
                              END { print min, max }' "$data")
awk -v lo="$lo" -v hi="$hi" 'BEGIN { print "stretchratio"; for (i = 0; i <= 400; i++) printf "%.6f\n", lo + (hi - lo) * i / 400 }' \
  >"$out/grid.csv"

for gate in sigmoid softmax; do
  echo "=== $gate gate, linear experts: k = 1..4 chosen by BIC"
  "$moelab" fit "$data" "${cols[@]}" --gate "$gate" "${fitopts[@]}" --k 1..4 --select bic -o "$out/tone-$gate.json"
  echo "--- on the data:"
  "$moelab" eval --model "$out/tone-$gate.json" "${cols[@]}" "$data" | tr '\n' ' ' | sed 's/ $/\n/'
  "$moelab" fit "$data" "${cols[@]}" --gate "$gate" "${fitopts[@]}" --k 2 -q -o "$out/tone-$gate-k2.json"
  for m in "$gate" "$gate-k2"; do
    "$moelab" predict --model "$out/tone-$m.json" --x stretchratio "$out/grid.csv" -o "$out/tone-$m-curve.csv"
  done
  echo
done

# Expert lines a x + b from the atoms of a model file (one atom per line: "eta": [a, b]).
experts() { sed -n 's/^ *{"beta0".*"eta": \[\([^,]*\), \([^]]*\)\].*/\1 \2/p' "$1"; }
# " (out of view)" when the line a x + b stays outside the plotted window.
outside() {
  awk -v a="$1" -v b="$2" -v lo="$lo" -v hi="$hi" 'BEGIN {
    y1 = a * lo + b; y2 = a * hi + b; if (y1 > y2) { t = y1; y1 = y2; y2 = t }
    if (y2 < 1.2 || y1 > 3.3) printf " (out of view)" }'
}
atoms() { sed -n 's/^  "k": \([0-9]*\),$/\1/p' "$1"; }

gp=$out/tone.gp
{
  echo "set datafile separator ','"
  echo "set xlabel 'stretch ratio'; set ylabel 'tuned ratio'"
  echo "set xrange [$lo - 0.05:$hi + 0.05]; set yrange [1.2:3.3]"
  echo "set key top left font ',10'; set grid lc rgb '#dddddd'"
  echo "set style line 1 lc rgb '#1f77b4' lw 2.5"
  echo "set style line 2 lc rgb '#d62728' lw 1.5 dt 2"
  echo "set style line 3 lc rgb '#2ca02c' lw 1.5 dt 2"
  echo "set style line 4 lc rgb '#9467bd' lw 1.5 dt 2"
  echo "set style line 5 lc rgb '#ff7f0e' lw 1.5 dt 2"
  echo "set multiplot layout 2,2 title 'Tone perception data (Cohen 1980): mixtures of linear experts fitted by least squares'"
  for row in chosen k2; do
    for gate in sigmoid softmax; do
      m=$gate
      [ "$row" = k2 ] && m=$gate-k2
      k=$(atoms "$out/tone-$m.json")
      if [ "$row" = chosen ]; then label="k = $k, chosen by BIC"; else label="k = $k, for comparison"; fi
      echo "set title '$gate gate, $label'"
      printf "plot '%s' skip 1 using 1:2 with points pt 7 ps 0.5 lc rgb '#555555' title 'trials'" "$data"
      printf ", '%s' skip 1 using 1:2 with lines ls 1 title 'fitted f(x)'" "$out/tone-$m-curve.csv"
      i=0
      while read -r a b; do
        printf ", (%s)*x + (%s) with lines ls %d title 'expert %d: %.3g x %+.3g%s'" "$a" "$b" $((i % 4 + 2)) \
          $((i + 1)) "$a" "$b" "$(outside "$a" "$b")"
        i=$((i + 1))
      done < <(experts "$out/tone-$m.json")
      echo
    done
  done
  echo "unset multiplot"
} >"$gp.body"
{
  echo "set terminal svg size 1200,900 dynamic font 'sans,12'"
  echo "set output '$out/tone.svg'"
  cat "$gp.body"
  echo "set terminal pngcairo size 1200,900 font 'sans,11'"
  echo "set output '$out/tone.png'"
  cat "$gp.body"
} >"$gp"
rm -f "$gp.body"
gnuplot "$gp"
rel=${out#"$PWD"/}
echo "models: $rel/tone-sigmoid.json, $rel/tone-softmax.json (k = 2: $rel/tone-*-k2.json)"
echo "figure: $rel/tone.svg, $rel/tone.png"
