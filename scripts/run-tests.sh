#!/usr/bin/env bash
# Runs the compiled test files (*.test.js) with Node's test runner. Listing them explicitly keeps
# helper scripts under test/ (child processes, fixtures) from being run as tests themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find dist/test -name '*.test.js' | sort)
if [ "${#files[@]}" -eq 0 ]; then
  echo "no compiled tests under dist/test (run npm run build:ts)" >&2
  exit 1
fi
exec node --test --test-concurrency="${TEST_CONCURRENCY:-1}" "$@" "${files[@]}"
