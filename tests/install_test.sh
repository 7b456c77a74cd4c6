#!/usr/bin/env bash
# make install / make uninstall into a temporary prefix, from a build directory
# of its own: the installed files, the shared library's soname, moelab.pc (a C
# program built with pkg-config, linked dynamically and statically, runs), the
# installed binary's version and presets, then nothing left after uninstall.
# Usage: install_test.sh SOURCE_DIR VERSION
set -u
src=$1
version=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
build=$work/build
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# The test's own make must not inherit the variables of an enclosing `make test`.
unset MAKEFLAGS MFLAGS MAKELEVEL MOELAB_STUDIES

if ! make -C "$src" install PREFIX="$prefix" BUILD="$build" JOBS=2 \
    CMAKE_FLAGS="-DMOELAB_BUILD_TESTS=OFF -DMOELAB_BUILD_BENCH=OFF" >"$work/install.log" 2>&1; then
  cat "$work/install.log" >&2
  echo "FAIL: make install" >&2
  exit 1
fi

# the installed files
libdir=$(dirname "$(find "$prefix" -name libmoelab.a | head -n 1)")
[ -d "$libdir" ] || { echo "FAIL: no libmoelab.a under $prefix" >&2; exit 1; }
for f in bin/moelab include/moelab.h share/man/man1/moelab.1; do
  [ -f "$prefix/$f" ] || fail "$f is not installed"
done
for f in libmoelab.so libmoelab.so.0 "libmoelab.so.$version" libmoelab.a pkgconfig/moelab.pc; do
  [ -e "$libdir/$f" ] || fail "$libdir/$f is not installed"
done
[ -x "$prefix/bin/moelab" ] || fail "bin/moelab is not executable"
soname=$(readelf -d "$libdir/libmoelab.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libmoelab.so.0 ] || fail "soname '$soname', want libmoelab.so.0"
want=$(cd "$src/studies" && ls -1 ./*.json | wc -l)
got=$(ls -1 "$prefix/share/moelab/studies/"*.json 2>/dev/null | wc -l)
[ "$want" = "$got" ] || fail "$got presets installed, want $want"
grep -q "^prefix=$prefix\$" "$libdir/pkgconfig/moelab.pc" || fail "moelab.pc: prefix is not $prefix"

# a C program against the installed library, through pkg-config
export PKG_CONFIG_PATH=$libdir/pkgconfig
[ "$(pkg-config --modversion moelab)" = "$version" ] || fail "pkg-config --modversion: $(pkg-config --modversion moelab)"
cat >"$work/prog.c" <<'EOF'
#include <moelab.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *model_json =
    "{\"gate\": \"sigmoid\", \"expert\": \"relu\", \"d\": 1,"
    " \"atoms\": [{\"beta0\": 0, \"beta1\": [0], \"eta\": [1, 0.5]},"
    "             {\"beta0\": -0.5, \"beta1\": [-3], \"eta\": [-2, 1]}],"
    " \"input\": {\"law\": \"uniform\", \"low\": [-1], \"high\": [1]}, \"noise\": 0.01}";

int main(void) {
  moelab_error err;
  moelab_model *truth = NULL, *fit = NULL;
  moelab_data *data = NULL;
  moelab_fit_report *rep = NULL;
  if (moelab_api_version() != MOELAB_API_VERSION) return 3;
  if (moelab_model_read_buffer(model_json, strlen(model_json), "prog", &truth, &err) ||
      moelab_simulate(truth, NULL, 2000, 7, 0, &data, &err)) {
    fprintf(stderr, "prog: %s\n", err.message);
    return 1;
  }
  moelab_fit_options opt;
  moelab_fit_options_init(&opt);
  opt.k = 2;
  opt.restarts = 4;
  moelab_data_view v = moelab_data_as_view(data);
  if (moelab_fit(&v, &opt, &fit, &rep, &err)) {
    fprintf(stderr, "prog: %s\n", err.message);
    return 1;
  }
  printf("moelab %s mse %.4f\n", moelab_version(), rep->mse);
  int ok = rep->mse > 0.008 && rep->mse < 0.012;
  moelab_fit_report_free(rep);
  moelab_model_free(fit);
  moelab_data_free(data);
  moelab_model_free(truth);
  return ok ? 0 : 2;
}
EOF
# shellcheck disable=SC2046
if gcc -std=c11 -Wall -Werror -o "$work/prog" "$work/prog.c" $(pkg-config --cflags --libs moelab) 2>"$work/cc.log"; then
  out=$(LD_LIBRARY_PATH=$libdir "$work/prog") || fail "the pkg-config program failed: $out"
  [[ "$out" == "moelab $version mse "* ]] || fail "the pkg-config program printed '$out'"
  LD_LIBRARY_PATH=$libdir ldd "$work/prog" | grep -q "libmoelab.so.0 => $libdir/libmoelab.so.0" ||
    fail "the program does not load the installed libmoelab.so.0"
else
  fail "cannot build a program with pkg-config --cflags --libs moelab: $(cat "$work/cc.log")"
fi
# statically: libmoelab.a with Libs.private and Requires.private
static_flags=$(pkg-config --static --cflags --libs moelab | sed 's/-lmoelab\b/-l:libmoelab.a/')
# shellcheck disable=SC2086
if gcc -std=c11 -Wall -Werror -o "$work/prog-static" "$work/prog.c" $static_flags 2>"$work/cc.log"; then
  out=$("$work/prog-static") || fail "the statically linked program failed: $out"
  ldd "$work/prog-static" | grep -q libmoelab && fail "the static program loads libmoelab.so"
else
  fail "cannot link statically with pkg-config --static --libs moelab: $(cat "$work/cc.log")"
fi

# the installed binary: version, and the installed presets (not the source tree's)
cd /
[ "$("$prefix/bin/moelab" --version)" = "moelab $version" ] || fail "moelab --version: $("$prefix/bin/moelab" --version)"
cp "$src/studies/constant-regime1.json" "$prefix/share/moelab/studies/zz-install-check.json"
list=$("$prefix/bin/moelab" study --list) || fail "moelab study --list failed"
grep -qx zz-install-check <<<"$list" || fail "the installed binary does not list the installed presets: $list"
grep -qx relu-regime1 <<<"$list" || fail "relu-regime1 is not listed: $list"
rm -f "$prefix/share/moelab/studies/zz-install-check.json"
if command -v man >/dev/null; then
  MANPATH=$prefix/share/man man -w moelab >/dev/null 2>&1 || fail "man -w moelab does not find the installed page"
fi

# uninstall: no file left
if ! make -C "$src" uninstall BUILD="$build" >"$work/uninstall.log" 2>&1; then
  cat "$work/uninstall.log" >&2
  fail "make uninstall"
fi
left=$(find "$prefix" -type f -o -type l)
[ -z "$left" ] || fail "files left after make uninstall: $left"
[ -e "$prefix/share/moelab" ] && fail "share/moelab is left after make uninstall"

if [ "$fails" -ne 0 ]; then
  echo "install: $fails failed" >&2
  exit 1
fi
echo "install: all checks passed"
