#!/usr/bin/env bash
# The man page cannot fall out of sync with the option tables: every command
# listed by `moelab --help` has a section (.SS NAME) in docs/moelab.1, every
# option printed by `moelab CMD --help` appears in an entry (.TP) of that
# section, and an option's default, when --help prints one, appears in the
# entry as "Default: VALUE".  The page must also format without warnings.
# Usage: man_test.sh MOELAB MANPAGE
set -u
moelab=$1
page=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# The page as plain text: roff dashes, fonts and quotes undone.
sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e "s/\\\\(aq/'/g" -e 's/\\(lq/"/g' -e 's/\\(rq/"/g' \
  -e 's/\\(ha/^/g' "$page" >"$work/page.txt"

# One record per option of an entry: SECTION <tab> --option <tab> the entry's text.
awk '
  function flush() {
    if (head != "") {
      n = split(head, w, /[^-a-z0-9]+/)
      for (i = 1; i <= n; i++) if (w[i] ~ /^--[a-z0-9]/) printf "%s\t%s\t%s\n", sec, w[i], body
    }
    head = ""; body = ""; want = 0
  }
  /^\.SS / { flush(); sec = $2; next }
  /^\.SH / { flush(); sec = ""; next }
  /^\.(TP|PP)/ { flush(); if ($1 == ".TP") want = 1; next }
  /^\.\\"/ { next }
  {
    line = $0
    if (sub(/^\.[A-Z]+ /, "", line)) gsub(/"/, "", line)  # macro arguments: quotes delimit
    if (want) { head = line; want = 0 } else if (head != "") body = body " " line
  }
  END { flush() }
' "$work/page.txt" >"$work/entries.tsv"

# The commands of `moelab --help`.
"$moelab" --help >"$work/help.txt" || fail "moelab --help failed"
commands=$(awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on && /^  [a-z]/ { print $1 }' "$work/help.txt")
[ -n "$commands" ] || fail "no commands found in moelab --help"
for cmd in $commands; do
  grep -q "^\.SS $cmd\$" "$work/page.txt" || fail "the man page has no section for '$cmd'"
  [ "$cmd" = help ] && continue
  if ! "$moelab" "$cmd" --help >"$work/$cmd.txt"; then
    fail "moelab $cmd --help failed"
    continue
  fi
  # option <tab> default (empty when none): each option's head and wrapped text joined
  awk '
    function flush() {
      if (name != "") {
        def = ""
        p = index(text, "(default: ")
        if (p) { def = substr(text, p + 10); sub(/\)$/, "", def) }
        printf "%s\t%s\n", name, def
      }
      name = ""; text = ""
    }
    /^Options:/ { on = 1; next }
    !on { next }
    /^  (-[a-zA-Z], )?--|^      --/ {
      flush()
      match($0, /--[a-z0-9-]+/)
      name = substr($0, RSTART, RLENGTH)
      next
    }
    /^          / { t = $0; sub(/^ +/, "", t); text = text (text == "" ? "" : " ") t }
    END { flush() }
  ' "$work/$cmd.txt" >"$work/$cmd.opts"
  [ -s "$work/$cmd.opts" ] || fail "no options parsed from moelab $cmd --help"
  while IFS=$'\t' read -r opt def; do
    [ "$opt" = --help ] && continue
    entry=$(awk -F'\t' -v s="$cmd" -v o="$opt" '$1 == s && $2 == o { print $3; exit }' "$work/entries.tsv")
    if [ -z "$entry" ]; then
      fail "option $opt of '$cmd' is not documented in its man page section"
    elif [ -n "$def" ] && ! grep -qF -- "Default: $def" <<<"$entry"; then
      fail "option $opt of '$cmd': the man page does not give its default 'Default: $def'"
    fi
    count=$((${count:-0} + 1))
  done <"$work/$cmd.opts"
done
grep -q -- "--version" "$work/page.txt" || fail "the man page does not document --version"
version=$("$moelab" --version | awk '{ print $2 }')
grep -q "^\.TH MOELAB 1 \"[0-9-]*\" \"moelab $version\"" "$work/page.txt" ||
  fail "the .TH line does not name version $version: $(grep '^\.TH' "$work/page.txt")"

# The page formats cleanly.
if command -v groff >/dev/null; then
  warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
  [ -z "$warnings" ] || fail "groff warnings: $warnings"
fi

if [ "$fails" -ne 0 ]; then
  echo "man: $fails failed" >&2
  exit 1
fi
echo "man: ${count:-0} options of $(wc -w <<<"$commands") commands documented"
