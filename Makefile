# ammlab: `make run` runs the main job, `make test` runs the test suite.
# Both install everything first (idempotent): a Python venv from pyproject.toml pinned by
# requirements.lock, and anvil from package.json/package-lock.json.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# anvil (npm) and vyper (venv) must be on PATH for Ape's foundry and vyper plugins.
export PATH := $(BIN):$(CURDIR)/node_modules/.bin:$(PATH)

# torch is locked as 2.13.0 with no local label, which any 2.13.0 build satisfies (PEP 440): pip
# takes the CPU wheel in its find-links where one lies on disk, PyPI's elsewhere (on Linux x86_64
# the CUDA build, about 2.7 GB with its nvidia-* wheels). TORCH_INDEX adds an index for it, e.g.
# PyTorch's CPU builds: make setup TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=

PY_STAMP := $(VENV)/.ammlab-installed
# The project's compiled contracts, which the node side deploys (sim/chain/artifacts.py).
BUILD := .build/__local__.json
NODE_STAMP := node_modules/.ammlab-installed

.PHONY: setup browser run test test-fast lint bench clean

setup: $(PY_STAMP) $(NODE_STAMP) $(BUILD) browser

$(PY_STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
	  { echo "ammlab needs Python 3.11 as '$(PYTHON)' (set PYTHON=/path/to/python3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements.lock \
	  $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX)) -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	# `npm ci` rejects this lockfile (other platforms' optional anvil binaries are absent);
	# `npm install` honours it.
	npm install --no-audit --no-fund --loglevel=error
	anvil --version >/dev/null
	touch $@

$(BUILD): $(PY_STAMP) $(NODE_STAMP) ape-config.yaml $(wildcard contracts/*.vy contracts/test/*.vy)
	ape compile
	touch $@

# Headless Chromium for the report's browser test (tests/e2e/test_report_browser.py):
# Debian's package, installed once (skipped when /usr/bin/chromium is there).
CHROMIUM := /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; }

run: setup
	ammlab demo

test: setup
	pytest

test-fast: setup
	pytest -m "not slow"

lint: setup
	ruff check sim keeper scripts tests
	ruff format --check sim keeper scripts tests

bench: setup
	python scripts/bench_gas.py
	ammlab bench sim

clean:
	rm -rf $(VENV) node_modules .build .ammlab
