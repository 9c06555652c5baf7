#!/usr/bin/env bash
# Installs whatever byol-ts needs and is missing, saying what it does: Debian packages (libtorch and
# friends), npm packages, the native addon, the compiled TypeScript. Safe to run again: each step is
# skipped when its result is already there and up to date.
#   scripts/bootstrap.sh main   what training needs
#   scripts/bootstrap.sh test   also what the test suite needs (PyTorch and ONNX in Python as oracles, Chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
purpose="${1:-main}"

say() { printf 'byol-ts setup: %s\n' "$*" >&2; }

packages=(libtorch-dev libgloo-dev libopenblas0-pthread dataset-fashion-mnist python3 g++ make)
if [ "$purpose" = test ]; then
  packages+=(python3-torch python3-torchvision python3-numpy python3-onnx chromium)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  cmd="apt-get update && apt-get install -y ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    say "missing Debian packages: ${missing[*]}"
    say "install them as root with: $cmd"
    exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q "${missing[@]}" >&2
fi

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  say "Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))"
  exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund >&2
fi

addon=native/build/Release/byol_native.node
if [ ! -f "$addon" ] || [ -n "$(find native/src native/binding.gyp native/find-libtorch.mjs -newer "$addon" 2>/dev/null | head -n 1)" ]; then
  say "building the native addon against libtorch (about a minute)"
  npm run --silent build:native >&2
fi

say "compiling TypeScript"
npm run --silent build:ts >&2
