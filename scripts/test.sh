#!/usr/bin/env bash
# The test suite: set up what is missing (including the PyTorch oracle and Chromium), then run it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh test
exec bash scripts/run-tests.sh
