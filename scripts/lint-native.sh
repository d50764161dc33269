#!/usr/bin/env bash
# clang-format check of the C++ and CUDA sources (native/, bench/native) against .clang-format:
#   npm run lint:native                 every file
#   npm run lint:native -- FILE...      only these
# Fixing a file: clang-format -i FILE.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v clang-format >/dev/null 2>&1; then
  echo "lint:native: clang-format is not installed (Debian/Ubuntu: apt-get install clang-format)" >&2
  exit 1
fi
if (($#)); then
  files=("$@")
else
  mapfile -t files < <(find native bench/native -type f \( -name '*.cc' -o -name '*.h' -o -name '*.cu' -o -name '*.c' \) | sort)
fi
clang-format --dry-run --Werror "${files[@]}"
