#!/usr/bin/env bash
# The native test program under AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer,
# then every fuzz harness replayed over its committed seeds and regression inputs (no mutation):
#
#   bash scripts/sanitize.sh            (npm run test:sanitize; CI's Debian leg runs it)
#
# The build is scripts/fuzz.sh's (build-fuzz/: clang, NOISYNN_SANITIZE=address,undefined,
# NOISYNN_FUZZ=ON), so one tree serves this and `npm run fuzz`. libtorch itself is not
# instrumented: ASan sees our accesses and every heap block (libtorch's too, through its malloc
# interposition), UBSan our code only. LeakSanitizer's suppressions (scripts/lsan.supp) name
# libtorch's own one-time allocations and nothing of ours.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash scripts/fuzz.sh --build-only
cmake --build build-fuzz --parallel "$(nproc 2>/dev/null || echo 2)" --target noisynn_native_tests >>build-fuzz/build.log 2>&1 ||
  { tail -n 40 build-fuzz/build.log; exit 1; }
built=$(date +%s)
echo "sanitize: built in $((built - start)) s"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1
export LSAN_OPTIONS=suppressions=$PWD/scripts/lsan.supp:print_suppressions=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-fuzz --output-on-failure
for h in idx idx_gzip cifar safetensors json checkpoint; do
  inputs=("native/fuzz/corpus/$h")
  [ -d "native/fuzz/regressions/$h" ] && inputs+=("native/fuzz/regressions/$h")
  "build-fuzz/native/fuzz/fuzz_$h" -runs=0 "${inputs[@]}" >"build-fuzz/replay-$h.log" 2>&1 ||
    { tail -n 30 "build-fuzz/replay-$h.log"; echo "sanitize: fuzz_$h failed on a committed input" >&2; exit 1; }
  echo "sanitize: fuzz_$h replayed $(find "${inputs[@]}" -type f | wc -l) inputs clean"
done
echo "sanitize: clean in $(($(date +%s) - start)) s (build $((built - start)) s)"
