# ponder: two commands set everything up.
#   make ask Q="What is 17 * 23?"   create .venv, install ponder with the default model, ask
#   make test                       create .venv, install ponder with the model and test extras, run the tests
#
# Q reaches the shell only as an environment variable, never spliced into a command line.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.ponder-installed
Q      ?= What is 17 * 23?
export Q

.PHONY: setup ask test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[model,test]'
	touch $(STAMP)

setup: $(STAMP)

ask: $(STAMP)
	$(BIN)/ponder ask -- "$$Q"

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/decode_speed.py

clean:
	rm -rf $(VENV)
