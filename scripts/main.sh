#!/usr/bin/env bash
# The main job: set up what is missing, then pretrain BYOL on Fashion-MNIST with the CPU preset,
# evaluate it against the baselines and write the run folder. Extra arguments go to `byol train`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh main
exec node bin/byol.js train "$@"
