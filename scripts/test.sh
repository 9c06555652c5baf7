#!/usr/bin/env bash
# The test suite: set up what is missing (including the PyTorch oracle and Chromium), then run it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh test
# The addon's sources against libtorch 1.13 and 2.6, CPU and CUDA (the code a GPU machine builds).
bash scripts/check-native.sh
exec bash scripts/run-tests.sh
