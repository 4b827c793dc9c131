#!/usr/bin/env bash
# The full test suite once in the debug build: Cython's bounds and wraparound
# checks on (-Ddebug-checks=true), so an out-of-bounds index in a kernel raises
# IndexError instead of reading or writing past an array.  Builds into a fresh
# venv (no system site-packages) and runs the tests from a copy of tests/
# outside the checkout.  Any OS with Python >= 3.10, a C compiler and PyPI.
#
# Usage: tools/test_debug_build.sh   (PYTHON: default python3; KEEP=1 keeps
# the scratch folder)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lossopt-debug-build.XXXXXX")
if [[ "${KEEP:-0}" == 1 ]]; then
  echo "scratch folder kept: $WORK"
else
  trap 'rm -rf "$WORK"' EXIT
fi
fail() { printf 'test_debug_build: FAILED: %s\n' "$*" >&2; exit 1; }

"$PY" -m venv "$WORK/venv"
if [[ -x "$WORK/venv/Scripts/python.exe" ]]; then BIN="$WORK/venv/Scripts"; else BIN="$WORK/venv/bin"; fi
printf '\n== build with -Ddebug-checks=true into a fresh venv\n'
# -Doptimization=1: this build is for the bounds checks, not for speed, and
# -O1 compiles in about 40 % of the release build's time (the kernels'
# vectorised loops and ISA clones are what makes -O3 slow to compile)
"$BIN/python" -m pip install -q "$ROOT[test]" -Csetup-args=-Ddebug-checks=true \
  -Csetup-args=-Doptimization=1 -Cbuild-dir="$WORK/build" \
  || fail "pip install (debug-checks build)"

# the option took effect: the generated C raises Cython's buffer IndexError
grep -rlq "__Pyx_RaiseBufferIndexError(" "$WORK/build" --include='*.c' \
  || fail "no bounds checks in the generated C: -Ddebug-checks=true had no effect"

printf '\n== full test suite (bounds-checked kernels), outside the source tree\n'
mkdir -p "$WORK/run"
cp -R "$ROOT/tests" "$ROOT/pyproject.toml" "$ROOT/README.md" "$WORK/run/"
cd "$WORK/run"
"$BIN/pytest" -q -p no:cacheprovider || fail "test suite in the debug build"
echo
echo "test_debug_build: OK"
