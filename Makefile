# ponder: two commands set everything up.
#   make ask Q="What is 17 * 23?"   create .venv, install ponder with the default model, ask
#   make test                       create .venv, install ponder with the model and test extras, run the tests
#
# Q reaches the shell only as an environment variable, never spliced into a command line.
# Before anything is built, scripts/prerequisites.sh checks what the system must provide (make,
# Python with venv, a C/C++ compiler and CMake to build llama-cpp-python, bubblewrap): as root
# with apt-get it installs what is missing and says so; otherwise it stops at once with one line
# naming what is missing and the command that installs it. It also chooses the llama.cpp build:
# CUDA when a CUDA toolkit (nvcc) and an NVIDIA GPU are here, else the CPU; PONDER_CUDA=1 or 0
# forces the choice (`PONDER_CUDA=1 make ask`). `ponder doctor` says which build was made.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.ponder-installed
Q      ?= What is 17 * 23?
PREREQ := PYTHON='$(PYTHON)' VENV='$(VENV)' scripts/prerequisites.sh
export Q

.PHONY: setup ask test bench clean prerequisites-ask prerequisites-test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@$(PREREQ) llama
	$(BIN)/python -m pip install --quiet -e '.[model,test]'
	touch $(STAMP)

# Serial make builds prerequisites left to right: the system is checked before the venv is built.
prerequisites-ask:
	@$(PREREQ) ask

prerequisites-test:
	@$(PREREQ) test

setup: prerequisites-ask $(STAMP)

ask: prerequisites-ask $(STAMP)
	$(BIN)/ponder ask -- "$$Q"

test: prerequisites-test $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/decode_speed.py

clean:
	rm -rf $(VENV)
