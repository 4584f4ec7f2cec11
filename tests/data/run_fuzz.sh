#!/bin/sh
# Bounded fuzzing of the interpreter and the answer parsers with libFuzzer (clang++), for CI and for
# `make fuzz`. Usage: tests/data/run_fuzz.sh [SECONDS_PER_TARGET] [BUILD_DIR]
# Exits 0 when clang++ with libFuzzer is unavailable (prints why), 1 when a target finds a crash,
# a sanitizer report, a leak or a slow input (over 5 s), else 0. Crashing inputs are left in
# BUILD_DIR/fuzz/<target>/ as crash-*, timeout-*, leak-*.
set -eu
SECONDS_PER_TARGET=${1:-20}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${2:-$ROOT/build-fuzz}
CXX=${FUZZ_CXX:-clang++}
if ! command -v "$CXX" >/dev/null 2>&1; then
  echo "run_fuzz: $CXX not found; install Debian package 'clang' to fuzz (skipped)"
  exit 0
fi
mkdir -p "$OUT/fuzz"
probe="$OUT/fuzz/probe.cpp"
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' > "$probe"
if ! "$CXX" -fsanitize=fuzzer "$probe" -o "$OUT/fuzz/probe" 2>/dev/null; then
  echo "run_fuzz: $CXX has no libFuzzer runtime (skipped)"
  exit 0
fi
FLAGS="-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I$ROOT"
# The interpreter, answer parsing and the grader (the *_fuzz.cpp entry points are not part of it).
LIB_SOURCES=$(ls "$ROOT"/data/interpreter*.cpp "$ROOT"/data/answer_parse.cpp "$ROOT"/data/grader.cpp | grep -v '_fuzz\.cpp$')
status=0
for target in interpreter answer_parse; do
  exe="$OUT/fuzz/${target}_fuzz"
  echo "run_fuzz: building $target"
  # shellcheck disable=SC2086
  "$CXX" $FLAGS "$ROOT/data/${target}_fuzz.cpp" $LIB_SOURCES -o "$exe"
  corpus="$OUT/fuzz/$target/corpus"
  mkdir -p "$corpus"
  echo "run_fuzz: fuzzing $target for ${SECONDS_PER_TARGET}s"
  if ! (cd "$OUT/fuzz/$target" && "$exe" -max_total_time="$SECONDS_PER_TARGET" -timeout=5 -rss_limit_mb=2048 \
        -max_len=4096 -print_final_stats=1 "$corpus" "$ROOT/tests/data/fuzz_seeds/$target" 2>&1 | tail -n 25); then
    status=1
  fi
  if ls "$OUT/fuzz/$target"/crash-* "$OUT/fuzz/$target"/timeout-* "$OUT/fuzz/$target"/leak-* >/dev/null 2>&1; then
    echo "run_fuzz: $target: FAILED, see $OUT/fuzz/$target/"
    status=1
  fi
done
exit $status
