#!/usr/bin/env bash
# The FMA peak from C (peak.c) on one core and on all, to check `benchmarks -- peak` against.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin=$(mktemp)
trap 'rm -f "$bin"' EXIT
gcc -O2 -o "$bin" "$here/peak.c" -lpthread
lscpu | grep -E "^Model name|^CPU family|^Model:" | tr -s ' ' | paste -sd';'
"$bin"
"$bin" -t
