#!/usr/bin/env bash
# Installs the Debian packages moelab needs that are missing (as root, with
# apt-get); as another user, lists them and stops.  Usage: scripts/deps.sh [extra packages...]
set -euo pipefail

packages=(
  gcc make cmake pkg-config            # build
  libgsl-dev                           # variates, quadrature, quasi-random sequences, minimisers
  libopenblas-openmp-dev liblapacke-dev  # linear algebra (OpenMP flavour of OpenBLAS)
  libcjson-dev                         # model and study files
  librandom123-dev                     # counter-based random streams (Philox)
  gnuplot-nox                          # figures
  groff-base                           # the man page check (tests/man_test.sh)
  python3 python3-numpy                # the Python package and its tests
)
packages+=("$@")

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "moelab: missing Debian packages: ${missing[*]}" >&2
  echo "moelab: install them as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "moelab: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
