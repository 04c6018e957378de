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

.PHONY: run test venv node chromium benchmark clean
NODE_STAMP := node_modules/.installed
# Debian's chromium renders the HTML evaluation report in a test; install it when missing.
CHROMIUM_STAMP := $(VENV)/.chromium
APT := $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -r requirements-dev.txt 2>&1 | $(QUIET_PIP)
	$(BIN)/pip install -q --no-deps -e . 2>&1 | $(QUIET_PIP)
	$(BIN)/python -c "import inference, pymilvus, sklearn_crfsuite, pythainlp, moto"
	touch $(STAMP)

venv: $(STAMP)

# The CDK CLI, Node 22 (aws-local-stepfunctions needs it) and asl-validator, from package-lock.json.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

node: $(NODE_STAMP)

$(CHROMIUM_STAMP): | $(STAMP)
	command -v chromium >/dev/null || { $(APT) update -qq && $(APT) install -y -qq --no-install-recommends chromium >/dev/null; }
	touch $(CHROMIUM_STAMP)

chromium: $(CHROMIUM_STAMP)

run: $(STAMP)
	$(BIN)/product-infer bootstrap
	$(BIN)/product-infer demo

test: $(STAMP) $(NODE_STAMP) $(CHROMIUM_STAMP)
	$(BIN)/python -m pytest -q

benchmark: $(STAMP)
	$(BIN)/python tests/performance/benchmark_local_pipeline.py

clean:
	rm -rf $(VENV) .pytest_cache
