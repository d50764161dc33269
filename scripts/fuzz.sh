#!/usr/bin/env bash
# Coverage-guided fuzzing of the file parsers (native/fuzz, libFuzzer), and random folder trees
# for the ImageFolder walk, which is TypeScript (test/image-folder-walk.test.ts, checked against
# the tree it generated; not coverage-guided: Jazzer.js 4's prebuilt fuzzer needs glibc 2.38 and
# Debian 12 has 2.36, and its older releases build libFuzzer from downloaded sources):
#
#   npm run fuzz                             every harness, 100,000 executions each
#   npm run fuzz -- --runs 1000000           the goal of issue 12
#   npm run fuzz -- --time 60 idx json       60 s each, only these harnesses
#   npm run fuzz -- --build-only             build the harnesses (clang, ASan + UBSan + libFuzzer)
#
# Installs clang, its sanitizer runtimes and its OpenMP (ATen's inline parallel loops need omp.h)
# from Debian's packages when they are missing (not part
# of the default set-up). Builds into build-fuzz/ with clang, NOISYNN_SANITIZE=address,undefined
# and NOISYNN_FUZZ=ON; the same tree also holds the sanitized native test program. New corpus
# entries go to build-fuzz/corpus/<harness>/; the committed seeds in native/fuzz/corpus/<harness>/
# are only read. A crash, a sanitizer report, an allocation above the harness's limit or a leak
# stops that harness with its input saved under build-fuzz/crashes/ and makes the script fail.
# The last line of each run (cov, ft, exec/s) goes to build-fuzz/fuzz-summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=100000
seconds=""
build_only=0
only=()
while (($#)); do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --time) seconds=$2; shift 2 ;;
    --build-only) build_only=1; shift ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "fuzz: unknown option $1 (see npm run fuzz -- --help)" >&2; exit 2 ;;
    *) only+=("$1"); shift ;;
  esac
done

# Per harness: the longest input, and the largest single allocation and resident size that
# inputs of that length can justify (libFuzzer's -malloc_limit_mb and -rss_limit_mb).
#   idx         plain files allocate at most their size; gzip ones at most 1032x (deflate's
#               limit) of 16 KiB = 16.5 MB; libtorch's own start-up stays below that
#   idx_gzip    the input is the uncompressed stream (16 KiB), compressed by the harness
#   cifar       one allocation of the file's size (two 3073-byte records and change)
#   safetensors tensors tile the file: at most its size
#   json        a tree of at most 4 KiB of text
#   checkpoint  libtorch's archive reader, whose record sizes come from the zip directory
declare -A max_len=([idx]=16384 [idx_gzip]=16384 [cifar]=8192 [safetensors]=8192 [json]=4096 [checkpoint]=16384)
declare -A malloc_mb=([idx]=24 [idx_gzip]=8 [cifar]=8 [safetensors]=8 [json]=8 [checkpoint]=64)
native_harnesses=(idx idx_gzip cifar safetensors json checkpoint)
all_harnesses=("${native_harnesses[@]}" image_folder)
((${#only[@]})) || only=("${all_harnesses[@]}")
for h in "${only[@]}"; do
  [[ " ${all_harnesses[*]} " == *" $h "* ]] || { echo "fuzz: unknown harness '$h' (known: ${all_harnesses[*]})" >&2; exit 2; }
done

clang_version=14
if ! command -v clang++-$clang_version >/dev/null 2>&1 || ! dpkg-query -W -f='${Status}\n' libclang-rt-$clang_version-dev libomp-$clang_version-dev 2>/dev/null | grep -c "install ok installed" | grep -q 2; then
  echo "fuzz: installing clang-$clang_version, libclang-rt-$clang_version-dev and libomp-$clang_version-dev"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends clang-$clang_version libclang-rt-$clang_version-dev libomp-$clang_version-dev >/dev/null
fi

jobs=$(nproc 2>/dev/null || echo 2)
need_native=0
for h in "${only[@]}"; do [ "$h" != image_folder ] && need_native=1; done
if ((need_native || build_only)); then
  mkdir -p build-fuzz
  # C++17: clang 14 with libstdc++ 12 cannot compile libtorch 1.13's headers as C++20.
  CC=clang-$clang_version CXX=clang++-$clang_version cmake -S . -B build-fuzz -G Ninja -DNOISYNN_SANITIZE=address,undefined \
    -DNOISYNN_FUZZ=ON -DNOISYNN_BUILD_TESTS=ON -DNOISYNN_CXX_STANDARD=17 >build-fuzz/build.log 2>&1 || { tail -n 30 build-fuzz/build.log; exit 1; }
  targets=()
  for h in "${native_harnesses[@]}"; do targets+=("fuzz_$h"); done
  cmake --build build-fuzz --parallel "$jobs" --target "${targets[@]}" >>build-fuzz/build.log 2>&1 || { tail -n 40 build-fuzz/build.log; exit 1; }
fi
((build_only)) && { echo "fuzz: built ${native_harnesses[*]} in build-fuzz/native/fuzz"; exit 0; }

mkdir -p build-fuzz/crashes
summary=build-fuzz/fuzz-summary.txt
: >"$summary"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for h in "${only[@]}"; do
  mkdir -p "build-fuzz/corpus/$h" "build-fuzz/crashes/$h"
  limit=(-runs="$runs")
  [ -n "$seconds" ] && limit=(-max_total_time="$seconds")
  log="build-fuzz/fuzz-$h.log"
  echo "== fuzz: $h (${limit[*]})"
  if [ "$h" = image_folder ]; then
    # Trees, not mutations: as many trees as --runs asks (a tree per execution).
    cmd=(env NOISYNN_FUZZ_RUNS="$runs" npx jest test/image-folder-walk.test.ts -t 'random trees')
  else
    cmd=("build-fuzz/native/fuzz/fuzz_$h" "${limit[@]}" -max_len="${max_len[$h]}" -malloc_limit_mb="${malloc_mb[$h]}"
      -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 -artifact_prefix="build-fuzz/crashes/$h/"
      "build-fuzz/corpus/$h" "native/fuzz/corpus/$h")
  fi
  start=$(date +%s)
  if "${cmd[@]}" >"$log" 2>&1; then status=ok; else status=FAILED; failed+=("$h"); fi
  elapsed=$(($(date +%s) - start))
  last=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1 | sed -E 's/^#[0-9]+[[:space:]]+[A-Z]+ +//; s/ exec\/s.*//' || true)
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
  rate=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}' || true)
  if [ "$h" = image_folder ]; then
    execs=$runs
    rate=$((runs / (elapsed > 0 ? elapsed : 1)))
    last=$(grep -o 'image-folder walk: .*' "$log" | head -n 1 || true)
  fi
  line="$h: $status in ${elapsed}s, executions ${execs:-?}, exec/s ${rate:-?}, ${last}"
  echo "$line" | tee -a "$summary"
  [ "$status" = ok ] || grep -E 'ERROR|SUMMARY|contract violated|out-of-memory|runtime error' "$log" | head -n 5
done
if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]} (inputs under build-fuzz/crashes/, logs build-fuzz/fuzz-<harness>.log)" >&2
  exit 1
fi
echo "fuzz: all clean (summary in $summary)"
