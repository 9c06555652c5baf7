#!/usr/bin/env bash
# Compile matrix for the addon: every native/src/*.cc through `g++ -std=c++17 -fsyntax-only` against
#   1.13-cpu        Debian's installed libtorch-dev 1.13 (the build the tests use)
#   1.13-cuda       the same headers with BYOL_CUDA=1, the CUDA toolkit's headers (found through nvcc) and a
#                   one-line stand-in for c10/cuda/impl/cuda_cmake_macros.h, which Debian's 1.13 lacks
#   2.6-cpu         Debian trixie's libtorch-dev 2.6 headers
#   2.6-cuda        trixie's libtorch-cuda-dev 2.6 headers with the CUDA toolkit's headers
#   2.6-cuda-nccl   trixie's libtorch-cuda-dev with Debian's CUDA 12.4 headers (nvidia-cuda-dev, non-free:
#                   the only Debian package with cublas_v2.h and cusparse.h, which c10d's NCCL header needs)
#                   with libnccl-dev and libcu++-dev, for distributed.cc's NCCL branch
# Trixie's packages are fetched with `apt-get download` through a private apt state whose source list is
# derived from this machine's own Debian mirror, unpacked with dpkg-deb (usr/include only) into a cache folder outside
# the repository, never installed. Each configuration states which branches compat.h turns on (CUDA graphs,
# Gloo, NCCL) and fails when one it should compile is off, so a missing header cannot silently turn GPU
# code into its "throws" fallback. It also fails when a file of a 2.6 configuration read a header of the
# installed 1.13 (the include path would otherwise hide a missing 2.6 header).
# Without network (and nothing cached) or without nvcc, the configurations that need them are skipped with
# one line each; that is not a failure.
#
# Usage: scripts/check-native.sh [--src DIR] [--only CONFIG[,CONFIG]] [--files A.cc[,B.cc]] [--force]
#   --src DIR   check the sources in DIR instead of native/src (e.g. a scratch copy with a deliberate error)
#   --only      run only the named configurations
#   --files     check only these files (names inside the source folder)
#   --force     recompile even where the same inputs passed before (passes are remembered in the cache)
#   --offline   never touch the network; use what the cache holds
# Environment: BYOL_NATIVE_CACHE (default ~/.cache/byol-ts/native-check), BYOL_CHECK_JOBS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

src=native/src only="" files_arg="" force=0 offline=0
while [ $# -gt 0 ]; do
  case "$1" in
    --src) src=${2:?--src needs a folder}; shift 2 ;;
    --only) only=${2:?--only needs configuration names}; shift 2 ;;
    --files) files_arg=${2:?--files needs file names}; shift 2 ;;
    --force) force=1; shift ;;
    --offline) offline=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "check-native: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -d "$src" ] || { echo "check-native: source folder '$src' does not exist" >&2; exit 2; }
src=$(cd "$src" && pwd)

cache=${BYOL_NATIVE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/byol-ts/native-check}
jobs=${BYOL_CHECK_JOBS:-2}
mkdir -p "$cache"
say() { printf 'check-native: %s\n' "$*"; }
started=$SECONDS

if [ -n "$files_arg" ]; then
  IFS=, read -r -a files <<<"$files_arg"
  for f in "${files[@]}"; do [ -f "$src/$f" ] || { echo "check-native: no file '$f' in $src" >&2; exit 2; }; done
else
  mapfile -t files < <(cd "$src" && ls -1 *.cc)
fi
wanted() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }

# ---- the CUDA toolkit's headers, through nvcc (often a wrapper script that execs the real one) -------
cuda_inc=""
if command -v nvcc >/dev/null 2>&1; then
  cuda_inc=$(nvcc --dryrun -c -x cu /dev/null -o /dev/null 2>&1 | sed -n 's/^#\$ INCLUDES="-I\([^"]*\)".*/\1/p' | head -n 1)
  [ -n "$cuda_inc" ] && cuda_inc=$(cd "$cuda_inc" 2>/dev/null && pwd -P || true)
  [ -n "$cuda_inc" ] && [ -f "$cuda_inc/cuda_runtime_api.h" ] || cuda_inc=""
fi
cuda_version=""
[ -n "$cuda_inc" ] && cuda_version=$(awk '/#define CUDART_VERSION/ {print int($3/1000) "." ($3%1000)/10}' "$cuda_inc/cuda_runtime_api.h")

# ---- Debian trixie's packages through a private apt state ------------------------------------------
# The mirror is the one this machine's apt sources use for its Debian release (not -security/-updates).
debian_mirror() {
  local codename
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  {
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -f "$f" ] && sed 's/\[[^]]*\]//' "$f" | awk -v c="$codename" '$1 == "deb" && $3 == c { print $2 }'
    done
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] && awk -v c="$codename" 'function flush() { if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " c " ")) { split(uris, u, " "); print u[1] }
          types = uris = suites = "" }
        /^[ \t]*$/ { flush(); next } /^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0 } /^URIs:/ { sub(/^URIs:[ \t]*/, ""); uris = $0 }
        /^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 } END { flush() }' "$f"
    done
  } | head -n 1
}

apt_dir=$cache/apt
apt_opts=(-q -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/nonexistent
  -o "Dir::State=$apt_dir/state" -o "Dir::State::status=$apt_dir/state/status" -o "Dir::Cache=$apt_dir/cache"
  -o Debug::NoLocking=1 -o APT::Architecture=amd64 -o Acquire::Languages=none -o APT::Sandbox::User=root)
apt_ready=0
prepare_apt() {
  mkdir -p "$apt_dir/state/lists/partial" "$apt_dir/cache/archives/partial"
  [ -f "$apt_dir/state/status" ] || : >"$apt_dir/state/status"
  local lists_fresh=0
  if [ -n "$(find "$apt_dir/state/lists" -maxdepth 1 -name '*trixie*Packages*' -mmin -1440 2>/dev/null | head -n 1)" ]; then
    lists_fresh=1
  fi
  if [ "$offline" = 0 ] && [ "$lists_fresh" = 0 ]; then
    local mirror
    mirror=$(debian_mirror)
    if [ -z "$mirror" ]; then
      say "no Debian mirror found in /etc/apt/sources.list*; using only what the cache holds"
    else
      echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main contrib non-free" >"$apt_dir/sources.list"
      say "package index: trixie main contrib non-free from this machine's mirror $mirror (log: $apt_dir/update.log)"
      # Without network this fails; what the cache holds is used, and what it lacks is skipped.
      apt-get "${apt_opts[@]}" update >"$apt_dir/update.log" 2>&1 || true
    fi
  fi
  [ -n "$(find "$apt_dir/state/lists" -maxdepth 1 -name '*trixie*Packages*' 2>/dev/null | head -n 1)" ] && apt_ready=1
  return 0
}

# Unpacks a package's usr/include into $cache/pkg/<name>_<version> (once) and prints that folder.
# Large packages are fetched, reduced to their headers and deleted.
fetch_headers() {
  local name=$1 version="" dir deb
  if [ "$apt_ready" = 1 ]; then
    version=$(apt-cache "${apt_opts[@]}" show --no-all-versions "$name" 2>/dev/null | awk '/^Version:/ {print $2; exit}')
  fi
  if [ -z "$version" ]; then  # no index: the newest unpacked copy, if any
    dir=$(ls -1d "$cache/pkg/${name}_"* 2>/dev/null | tail -n 1 || true)
    [ -n "$dir" ] && [ -f "$dir/.complete" ] && { echo "$dir"; return 0; }
    return 1
  fi
  dir=$cache/pkg/${name}_${version//[:~]/_}
  if [ ! -f "$dir/.complete" ]; then
    [ "$offline" = 1 ] && return 1
    rm -rf "$dir" "$cache/download"
    mkdir -p "$dir" "$cache/download"
    local size
    size=$(apt-cache "${apt_opts[@]}" show --no-all-versions "$name" | awk '/^Size:/ {printf "%.0f", $2 / 1e6; exit}')
    say "fetching $name $version (${size} MB download; headers kept in $dir)" >&2
    (cd "$cache/download" && apt-get "${apt_opts[@]}" download "$name" >"$cache/download/log" 2>&1) || {
      say "apt-get download $name failed (see $cache/download/log)" >&2; return 1; }
    deb=$(ls -1 "$cache/download/"*.deb | head -n 1)
    dpkg-deb --fsys-tarfile "$deb" | nice -n 10 tar -x -C "$dir" --wildcards './usr/include/*'
    rm -rf "$cache/download"
    touch "$dir/.complete"
  fi
  echo "$dir"
}

# ---- the configurations ----------------------------------------------------------------------------
node_inc=""
for d in /usr/include/node "$(dirname "$(dirname "$(command -v node)")")/include/node" "$HOME"/.cache/node-gyp/*/include/node; do
  [ -f "$d/node_api.h" ] && { node_inc=$d; break; }
done
[ -n "$node_inc" ] || { echo "check-native: node_api.h not found (install Node.js headers)" >&2; exit 1; }

# A one-line stand-in for the header that libtorch's CMake generates and Debian's 1.13 does not ship.
standin=$cache/standin-1.13/c10/cuda/impl
mkdir -p "$standin"
echo '#define C10_CUDA_BUILD_SHARED_LIBS' >"$standin/cuda_cmake_macros.h"

names=() skipped=()
declare -A flags expect label forbid cfiles
add_config() {  # name label expected-branches forbidden-header-prefix files flags...
  local name=$1
  names+=("$name"); label[$name]=$2; expect[$name]=$3; forbid[$name]=$4; cfiles[$name]=$5
  shift 5; flags[$name]="$*"
}
all_files="${files[*]}"
sys_torch="-I/usr/include/torch/csrc/api/include"
if wanted 1.13-cpu; then
  add_config 1.13-cpu "Debian libtorch-dev $(dpkg-query -W -f='${Version}' libtorch-dev 2>/dev/null)" \
    "GLOO=1 CUDA_GRAPHS=0 NCCL=0" "" "$all_files" -DBYOL_CUDA=0 $sys_torch
fi
if wanted 1.13-cuda; then
  if [ -n "$cuda_inc" ]; then
    add_config 1.13-cuda "Debian libtorch-dev $(dpkg-query -W -f='${Version}' libtorch-dev 2>/dev/null) + CUDA $cuda_version headers + stand-in cuda_cmake_macros.h" \
      "GLOO=1 CUDA_GRAPHS=1 NCCL=0" "" "$all_files" -DBYOL_CUDA=1 "-I$cache/standin-1.13" $sys_torch "-I$cuda_inc"
  else skipped+=("1.13-cuda (no nvcc on PATH)"); fi
fi
need_trixie=0
for c in 2.6-cpu 2.6-cuda 2.6-cuda-nccl; do wanted $c && need_trixie=1; done
if [ "$need_trixie" = 1 ]; then
  prepare_apt
  t_cpu=$(fetch_headers libtorch-dev || true)
  t_cuda=$(fetch_headers libtorch-cuda-dev || true)
  t_gloo=$(fetch_headers libgloo-dev || true)
  torch_inc() { echo "-I$1/usr/include -I$1/usr/include/torch/csrc/api/include -I$t_gloo/usr/include"; }
  leak="/usr/include/torch/ /usr/include/ATen/ /usr/include/c10/ /usr/include/caffe2/ /usr/include/gloo/"
  if wanted 2.6-cpu; then
    if [ -n "$t_cpu" ] && [ -n "$t_gloo" ]; then
      add_config 2.6-cpu "trixie libtorch-dev ${t_cpu##*_}" "GLOO=1 CUDA_GRAPHS=0 NCCL=0" "$leak" "$all_files" \
        -DBYOL_CUDA=0 $(torch_inc "$t_cpu")
    else skipped+=("2.6-cpu (trixie's libtorch-dev not reachable (no network?) and not cached)"); fi
  fi
  if wanted 2.6-cuda; then
    if [ -z "$cuda_inc" ]; then skipped+=("2.6-cuda (no nvcc on PATH)")
    elif [ -n "$t_cuda" ] && [ -n "$t_gloo" ]; then
      # NCCL=0 here: the toolkit's runtime headers have no cublas_v2.h/cusparse.h (the next configuration has them).
      add_config 2.6-cuda "trixie libtorch-cuda-dev ${t_cuda##*_} + CUDA $cuda_version headers" \
        "GLOO=1 CUDA_GRAPHS=1" "$leak" "$all_files" -DBYOL_CUDA=1 $(torch_inc "$t_cuda") "-I$cuda_inc"
    else skipped+=("2.6-cuda (trixie's libtorch-cuda-dev not reachable (no network?) and not cached)"); fi
  fi
  if wanted 2.6-cuda-nccl; then
    t_nv=$(fetch_headers nvidia-cuda-dev || true)
    t_nccl=$(fetch_headers libnccl-dev || true)
    t_cccl=$(fetch_headers libcu++-dev || true)  # <nv/target>, which CUDA 12's cuda_fp16.h includes
    if [ -n "$t_cuda" ] && [ -n "$t_gloo" ] && [ -n "$t_nv" ] && [ -n "$t_nccl" ] && [ -n "$t_cccl" ]; then
      nccl_files="distributed.cc"
      [ -n "$files_arg" ] && nccl_files=$all_files
      add_config 2.6-cuda-nccl "trixie libtorch-cuda-dev ${t_cuda##*_} + nvidia-cuda-dev ${t_nv##*_} + libnccl-dev ${t_nccl##*_}" \
        "GLOO=1 CUDA_GRAPHS=1 NCCL=1" "$leak /usr/local/cuda" "$nccl_files" \
        -DBYOL_CUDA=1 $(torch_inc "$t_cuda") "-I$t_nv/usr/include" "-I$t_nccl/usr/include" "-I$t_cccl/usr/include"
    else skipped+=("2.6-cuda-nccl (trixie's nvidia-cuda-dev/libnccl-dev/libcu++-dev not reachable (no network?) and not cached)"); fi
  fi
fi

# ---- run --------------------------------------------------------------------------------------------
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(-std=c++17 -fsyntax-only -w "-I$node_inc")
compiler_id=$(g++ --version | head -n 1)

# Which branches compat.h turns on in a configuration (it is the one place that decides them).
probe_branches() {
  printf '#define BYOL_WANT_C10D 1\n#include "compat.h"\n' |
    g++ -std=c++17 -E -dM -w "-I$node_inc" "-I$src" $1 -x c++ - 2>"$work/probe.err" |
    sed -n 's/^#define BYOL_HAS_\(GLOO\|CUDA_GRAPHS\|NCCL\) \([01]\)$/\1=\2/p' | sort | tr '\n' ' ' | sed 's/ $//'
}

export src work
compile_one() {  # config flags forbidden file
  local name=$1 fl=$2 forbidden=$3 f=$4 log="$work/$1.$4.log"
  if nice -n 10 g++ -std=c++17 -fsyntax-only -w "-I$node_inc" $fl -MD -MF "$work/$name.$f.d" "$src/$f" >"$log" 2>&1; then
    local p
    for p in $forbidden; do
      if tr ' ' '\n' <"$work/$name.$f.d" | grep -q "^$p"; then
        echo "read a header outside this configuration: $(tr ' ' '\n' <"$work/$name.$f.d" | grep "^$p" | head -n 1)" >>"$log"
        echo fail >"$work/$name.$f.status"; return 0
      fi
    done
    echo ok >"$work/$name.$f.status"
  else
    echo fail >"$work/$name.$f.status"
  fi
}
export -f compile_one
export node_inc

status=0
jobs_file=$work/jobs
: >"$jobs_file"
declare -A key branches
for name in "${names[@]}"; do
  key[$name]=$({ echo "$name ${label[$name]} ${flags[$name]} ${cfiles[$name]} $compiler_id"; cat "$0"; for f in "$src"/*; do cat "$f"; done; } | sha256sum | cut -c1-16)
  br=$(probe_branches "${flags[$name]}" || true)
  [ -n "$br" ] || { say "$name: probing compat.h failed:"; cat "$work/probe.err"; status=1; continue; }
  branches[$name]=$br
  if [ "$force" = 0 ] && [ -f "$cache/passed/${key[$name]}" ]; then continue; fi
  for f in ${cfiles[$name]}; do
    printf '%s\0%s\0%s\0%s\0' "$name" "${flags[$name]}" "${forbid[$name]}" "$f" >>"$jobs_file"
  done
done
xargs -0 -n 4 -P "$jobs" bash -c 'compile_one "$@"' _ <"$jobs_file"

echo "check-native: sources ${src#"$repo"/}; g++ -std=c++17 -fsyntax-only; $jobs jobs"
mkdir -p "$cache/passed"
for name in "${names[@]}"; do
  [ -n "${branches[$name]:-}" ] || continue
  ok=() bad=() cached="" failed=0
  if [ "$force" = 0 ] && [ -f "$cache/passed/${key[$name]}" ]; then
    read -r -a ok <<<"${cfiles[$name]}"; cached=" (same inputs passed before; --force recompiles)"
  else
    for f in ${cfiles[$name]}; do
      if [ "$(cat "$work/$name.$f.status" 2>/dev/null)" = ok ]; then ok+=("$f"); else bad+=("$f"); fi
    done
  fi
  n=$(wc -w <<<"${cfiles[$name]}")
  printf '%-14s %s\n' "$name" "${label[$name]}"
  printf '%-14s files %d/%d ok: %s%s\n' "" "${#ok[@]}" "$n" "${ok[*]}" "$cached"
  printf '%-14s branches: %s\n' "" "$(sed 's/CUDA_GRAPHS=1/CUDA graphs ON/; s/CUDA_GRAPHS=0/CUDA graphs off/; s/NCCL=1/NCCL ON/; s/NCCL=0/NCCL off/; s/GLOO=1/Gloo ON/; s/GLOO=0/Gloo off/' <<<"${branches[$name]}")"
  for want in ${expect[$name]}; do
    if [[ " ${branches[$name]} " != *" $want "* ]]; then
      printf '%-14s FAIL: expected %s but compat.h gives %s (a header went missing?)\n' "" "$want" "${branches[$name]}"
      failed=1
    fi
  done
  for f in "${bad[@]}"; do
    printf '%-14s FAIL: %s\n' "" "$f"
    sed 's/^/                 /' "$work/$name.$f.log" | grep -v '^ *$' | head -n 20
    failed=1
  done
  [ "$failed" = 0 ] || status=1
  if [ "$failed" = 0 ] && [ -z "$cached" ]; then : >"$cache/passed/${key[$name]}"; fi
done
if [ "${#skipped[@]}" -gt 0 ]; then say "skipped, not a failure: $(IFS=';'; echo "${skipped[*]}" | sed 's/;/; /g')"; fi
say "$([ "$status" = 0 ] && echo passed || echo FAILED) in $((SECONDS - started)) s"
exit "$status"
