#!/usr/bin/env bash
# Malformed inputs: runs every case of tests/bad/MANIFEST and checks the exit
# code, the message on stderr (an extended regex), that stdout stays empty and
# that no file is created (in particular not the -o / --output target).
#
# Usage: tests/bad_inputs.sh MOELAB [SOURCE_DIR]
# MOELAB may be a wrapper (scripts/valgrind.sh uses one); BAD_TIMEOUT bounds
# each case in seconds (default 120).
set -u
moelab=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
src=${2:-$(cd "$(dirname "$0")/.." && pwd)}
manifest=$src/tests/bad/MANIFEST
timeout_s=${BAD_TIMEOUT:-120}

work=$(mktemp -d)
meta=$(mktemp -d)
trap 'rm -rf "$work" "$meta"' EXIT
cp -R "$src/tests/bad/." "$work/"
rm -f "$work/MANIFEST"
cd "$work"
# fixtures too large or too odd to keep in the repository
mkdir dir.csv dir.json
{
  printf 'x1,y\n'
  head -c 1100000 /dev/zero | tr '\0' '1'
  printf ',2\n'
} >long-line.csv
export MOELAB=$moelab

cases=0
pass=0
fails=0
lineno=0
fail() {
  echo "FAIL: MANIFEST:$lineno: $cmd" >&2
  echo "      $*" >&2
  fails=$((fails + 1))
}

while IFS= read -r line || [ -n "$line" ]; do
  lineno=$((lineno + 1))
  case "$line" in '' | '#'*) continue ;; esac
  cases=$((cases + 1))
  cmd=${line%% | *}
  rest=${line#* | }
  want=${rest%% | *}
  regex=${rest#* | }
  if [ "$cmd" = "$line" ] || [ "$rest" = "$want" ] || ! [[ "$want" =~ ^[0-9]+$ ]]; then
    fail "malformed manifest line"
    continue
  fi
  # the output file named by -o / --output, if any
  outfile=
  read -ra words <<<"$cmd"
  for ((i = 0; i < ${#words[@]}; i++)); do
    case "${words[i]}" in
      -o | --output) outfile=${words[i + 1]:-} ;;
      --output=*) outfile=${words[i]#--output=} ;;
    esac
  done
  before=$(find . -mindepth 1 | LC_ALL=C sort)
  timeout "$timeout_s" bash -c "$cmd" <"/dev/null" >"$meta/out" 2>"$meta/err"
  got=$?
  after=$(find . -mindepth 1 | LC_ALL=C sort)
  nfail=$fails
  if [ "$got" != "$want" ]; then
    fail "exit $got, want $want; stderr: $(head -c 400 "$meta/err")"
  elif [ -n "$regex" ] && ! grep -qE -- "$regex" "$meta/err"; then
    fail "stderr lacks /$regex/: $(head -c 400 "$meta/err")"
  fi
  if [ -s "$meta/out" ]; then
    fail "stdout is not empty: $(head -c 200 "$meta/out")"
  fi
  if [ -n "$outfile" ] && [ "$outfile" != "-" ] && [ -e "$outfile" ]; then
    fail "the output file $outfile was created"
  fi
  if [ "$before" != "$after" ]; then
    fail "files appeared or vanished: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | tr '\n' ' ')"
    # start the next case from the original set of files
    comm -13 <(echo "$before") <(echo "$after") | while IFS= read -r f; do rm -rf "$f"; done
  fi
  [ "$fails" -eq "$nfail" ] && pass=$((pass + 1))
done <"$manifest"

if [ "$cases" -lt 40 ]; then
  echo "FAIL: only $cases cases in $manifest (at least 40 expected)" >&2
fi
echo "bad_inputs: $pass passed, $((cases - pass)) failed"
[ "$pass" -eq "$cases" ] && [ "$cases" -ge 40 ]
