#!/usr/bin/env bash
# Installs what is missing, builds weft three times (optimized, with
# AddressSanitizer + UBSan, and with ThreadSanitizer), runs the whole CTest
# suite in the first two and the threaded integration tests (label tsan) in
# the third, then gives every libFuzzer target a short run in a clang build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}

run_suite() { # dir, extra cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j "$JOBS"
  ctest --test-dir "$dir" --output-on-failure -j "$JOBS" --timeout 300 -LE fuzz
}

echo "== optimized build"
run_suite build -DWEFT_BUILD_BENCH=OFF
echo "== sanitizer build (address,undefined)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-asan -DWEFT_SANITIZE=ON -DWEFT_BUILD_BENCH=OFF

echo "== thread sanitizer build (runtime integration tests, label tsan)"
# Label tsan: the runtime's threaded integration tests (all transports
# through one server, asynchronous handlers, the node's streams), about
# a minute under TSan on 2 cores. A data race is a test failure
# (halt_on_error); only third-party races are suppressed (tests/tsan.supp).
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEFT_TSAN=ON \
  -DWEFT_BUILD_BENCH=OFF >/dev/null
cmake --build build-tsan -j "$JOBS"
TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp" \
  ctest --test-dir build-tsan --output-on-failure -j "$JOBS" --timeout 600 -L tsan

if command -v clang >/dev/null; then
  echo "== fuzz smoke (fixed seed, 20000 inputs or ${FUZZ_SECONDS}s per target)"
  cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DWEFT_FUZZ=ON -DWEFT_BUILD_BENCH=OFF -DWEFT_FUZZ_SECONDS="$FUZZ_SECONDS" >/dev/null
  cmake --build build-fuzz -j "$JOBS" --target weft_fuzz_all
  ctest --test-dir build-fuzz --output-on-failure -L fuzz
fi
