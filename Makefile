# The README's two commands: `make run` (set up, train, index, predict) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
export PIP_DISABLE_PIP_VERSION_CHECK=1
# This machine's pip config names local mirror folders that lack most packages: drop those lines.
QUIET_PIP := sed '/^WARNING: Location/d'

.PHONY: run test venv benchmark clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements-dev.txt 2>&1 | $(QUIET_PIP)
	$(BIN)/pip install -q --no-deps -e . 2>&1 | $(QUIET_PIP)
	$(BIN)/python -c "import inference, pymilvus, sklearn_crfsuite, pythainlp, moto"
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/product-infer bootstrap
	$(BIN)/product-infer demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

benchmark: $(STAMP)
	$(BIN)/python tests/performance/benchmark_local_pipeline.py

clean:
	rm -rf $(VENV) .pytest_cache
