#!/usr/bin/env bash
# The jest suite against an addon built with AddressSanitizer and UndefinedBehaviorSanitizer (gcc),
# in an uninstrumented Node with libasan preloaded:
#
#   bash scripts/jest-asan.sh [jest arguments...]        (after scripts/setup.sh)
#
# It works on a clone of HEAD in a temporary folder (NOISYNN_ASAN_DIR to choose it), so this
# checkout's build/ is left alone. Node and libtorch are not instrumented: ASan checks our code's
# accesses and every heap block (Node's and libtorch's too, through its malloc interposition); UBSan
# our code only. The caching CPU allocator is off (NOISYNN_CPU_ALLOCATOR=system, unless set), so
# that every tensor block is ASan's, with its redzones and quarantine; memory.test.ts's RSS bounds
# fail under that quarantine, by design. Leak checking is off: Node does not free its heap at
# exit. Any sanitizer report ends that process with exit code 99 (the test that ran it fails) and
# is also written to $dir/asan-logs/, which the script lists at the end.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
dir="${NOISYNN_ASAN_DIR:-$(mktemp -d /tmp/noisynn-asan.XXXXXX)}"
start=$(date +%s)
if [ ! -d "$dir/.git" ]; then
  git clone -q "$here" "$dir"
fi
cd "$dir"
[ -d node_modules ] || cp -a "$here/node_modules" .
libasan="$(gcc -print-file-name=libasan.so)"
[ -f "$libasan" ] || { echo "jest-asan: gcc's libasan.so not found" >&2; exit 1; }
NOISYNN_SANITIZE=address,undefined npx cmake-js compile --out build >asan-build.log 2>&1 ||
  { tail -n 40 asan-build.log; exit 1; }
npx tsc -p tsconfig.json
built=$(date +%s)
echo "jest-asan: built in $((built - start)) s in $dir"
mkdir -p asan-logs
rm -f asan-logs/*
export NOISYNN_CPU_ALLOCATOR="${NOISYNN_CPU_ALLOCATOR:-system}"
export ASAN_OPTIONS="detect_leaks=0:exitcode=99:log_path=$dir/asan-logs/asan:allow_user_segv_handler=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=99:log_path=$dir/asan-logs/ubsan"
status=0
LD_PRELOAD="$libasan" npx jest --testTimeout=600000 "$@" || status=$?
echo "jest-asan: jest exited $status after $(($(date +%s) - built)) s"
if compgen -G "asan-logs/*" >/dev/null; then
  echo "jest-asan: sanitizer reports:"
  for f in asan-logs/*; do
    echo "== $f"
    head -n 40 "$f"
  done
  exit 1
fi
echo "jest-asan: no sanitizer reports"
exit "$status"
