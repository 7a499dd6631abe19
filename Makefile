# Two commands matter on a fresh machine (Python 3.11, Node/npm): `make demo` and `make test`.
# Every target installs what it needs first; each install step is idempotent (stamp files).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
SLITHER_VENV := .venv-slither
SCHEMATHESIS_VENV := .venv-schemathesis
# The one place the Solidity compiler version is pinned is package.json (npm `solc`, i.e. solc-js).
SOLC_VERSION := $(shell sed -n 's/.*"solc": *"\([0-9.]*\)".*/\1/p' package.json)
SOLC_SHIM := .solc/solc-v$(SOLC_VERSION)

export SOLCX_BINARY_PATH := $(CURDIR)/.solc
export PATH := $(CURDIR)/node_modules/@foundry-rs/anvil-linux-amd64/bin:$(BIN):$(PATH)
FORGE := $(CURDIR)/node_modules/@foundry-rs/forge-linux-amd64/bin/forge
# Brownie and the tests would otherwise write caches into the home directory's defaults only.
export PYTHONDONTWRITEBYTECODE := 1

# Plain pytest must not load brownie's plugin: it would start a chain for tests that need none.
PYTEST := $(BIN)/pytest -p no:pytest-brownie

.PHONY: help setup compile chromium postgresql gates fmt-check test test-python test-contracts test-foundry fuzz coverage lint demo bench-gas bench-oracle bench-service schemathesis-venv clean
.PHONY: web test-web web-demo bench-web bench-scale

help:
	@echo "make demo          run a whole tournament on a local Anvil chain"
	@echo "make test          run every test (python, contracts on Anvil, Foundry fuzz and invariants, slither)"
	@echo "make web-demo      run the demo tournament, then serve it with the web app until interrupted"
	@echo "make fuzz          the long Foundry campaign: a million invariant calls, 10,000 runs per fuzz test"
	@echo "make coverage      line and branch coverage of contracts/ by the Foundry suite"
	@echo "make bench-gas     gas figures -> bench/results/gas.json"
	@echo "make bench-oracle  scoring / Merkle / simulation figures -> bench/results/oracle.json"
	@echo "make bench-service HTTP submission load -> bench/results/service.json"
	@echo "make bench-web     the leaderboard's first render with 10,000 models, the app's asset sizes -> bench/results/web.json"
	@echo "make bench-scale   a 1,000- and a 10,000-model round end to end -> bench/results/scale.json"

setup: $(VENV)/.installed node_modules/.installed $(SOLC_SHIM)

$(VENV)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(SOLC_SHIM): tools/solc-shim node_modules/.installed
	mkdir -p .solc
	ln -sf ../tools/solc-shim $@

compile: setup
	$(BIN)/brownie compile

test: setup compile web gates test-python test-web test-contracts test-foundry lint

# The architecture's gates: the layer rule (import-linter contracts in pyproject.toml), no module over 400 lines
# without a '# size:' comment saying why, ruff's lint and mypy's types (settings in pyproject.toml), then fmt-check.
gates: setup
	$(BIN)/lint-imports
	$(BIN)/python tools/module_sizes.py $(filter-out oracle/__pycache__/,$(wildcard oracle/*/)) $(wildcard oracle/*.py)
	$(BIN)/ruff check --ignore I001,E501 $(PY_LINTED)
	$(BIN)/mypy
	$(MAKE) --no-print-directory fmt-check

# Layout: the formatter's check, the import order and the 120-column limit (ruff's settings in pyproject.toml).
# `ruff check --select I --fix $(PY_LINTED) && ruff format $(PY_LINTED)` makes it pass.
PY_LINTED := oracle tests bench scripts
fmt-check: setup
	$(BIN)/ruff format --check $(PY_LINTED)
	$(BIN)/ruff check --select I001,E501 $(PY_LINTED)

test-python: setup compile chromium postgresql web $(SCHEMATHESIS_VENV)/.installed
	$(PYTEST) -q tests/oracle tests/service $(wildcard tests/e2e) $(wildcard tests/web)

# The web app (web/): installed from web/package-lock.json, built into web/dist, which `tourney serve` serves at /.
WEB_SOURCES := $(shell find web/src web/index.html web/vite.config.ts web/tsconfig.json -type f 2>/dev/null)

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

web/dist/.built: web/node_modules/.installed $(WEB_SOURCES)
	cd web && npm run build
	touch $@

web: web/dist/.built

# The app's unit tests (vitest: formats, sorting, clock, routing, revert phrasing, EIP-712 digests).
test-web: web/node_modules/.installed
	cd web && npm test

# The simulation report is checked by rendering it in headless Chromium (Debian's package).
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The service's tests (and its benchmark) start their own PostgreSQL server from Debian's binaries.
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

test-contracts: setup
	$(BIN)/brownie test tests/contracts

# Foundry (forge from npm) compiles with solc-js through tools/forge-solc, offline; see foundry.toml.
# The default profile is what `make test` runs (a fixed seed, over 100,000 invariant calls); `fuzz` is the long one.
test-foundry: setup
	$(FORGE) test

fuzz: setup
	seed=$$(od -An -N8 -tx8 /dev/urandom | tr -d ' '); echo "fuzz seed 0x$$seed (FOUNDRY_PROFILE=fuzz forge test --fuzz-seed 0x$$seed reproduces)"; \
	  FOUNDRY_PROFILE=fuzz $(FORGE) test --fuzz-seed 0x$$seed

# Coverage builds without the optimizer; a shorter campaign (profile `coverage`) reaches the same lines.
coverage: setup
	FOUNDRY_PROFILE=coverage $(FORGE) coverage --report summary --report lcov --report-file build/lcov.info \
	  --no-match-coverage '^(tests|node_modules|contracts/test)/'

# Slither has pins of its own that clash with brownie's, so it lives in its own virtual environment.
$(SLITHER_VENV)/.installed: constraints-slither.txt
	test -x $(SLITHER_VENV)/bin/python || $(PYTHON) -m venv $(SLITHER_VENV)
	$(SLITHER_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SLITHER_VENV)/bin/python -m pip install --quiet -r constraints-slither.txt
	touch $@

# Slither compiles through Foundry: with foundry.toml at the root, crytic-compile treats every path in the project
# as a Foundry project (it runs `forge config` and `forge build --build-info`, skipping tests/foundry), so forge
# must be on its PATH; forge compiles with solc-js through tools/forge-solc. (`--compile-force-framework brownie`
# does not work: crytic-compile's brownie platform reads ASTs from build/contracts, and brownie writes no artifact
# for some imported OpenZeppelin libraries.) Test-only contracts (contracts/test), the Foundry tests and
# OpenZeppelin are excluded; any medium or high finding fails the build.
# schemathesis (the OpenAPI fuzzer the service test runs over HTTP) needs a newer hypothesis than eth-brownie pins.
$(SCHEMATHESIS_VENV)/.installed: constraints-schemathesis.txt
	test -x $(SCHEMATHESIS_VENV)/bin/python || $(PYTHON) -m venv $(SCHEMATHESIS_VENV)
	$(SCHEMATHESIS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SCHEMATHESIS_VENV)/bin/python -m pip install --quiet -r constraints-schemathesis.txt
	touch $@

schemathesis-venv: $(SCHEMATHESIS_VENV)/.installed

lint: setup $(SLITHER_VENV)/.installed
	PATH="$(dir $(FORGE)):$$PATH" $(SLITHER_VENV)/bin/slither $(CURDIR) \
	  --filter-paths "node_modules|contracts/test|tests/" --fail-medium

demo: setup compile web
	$(BIN)/python -m oracle.demo

# The demo tournament, then its service with the web app on a free port until Ctrl-C.
web-demo: setup compile web
	$(BIN)/python -m oracle.demo --serve

bench-gas: setup compile
	$(BIN)/python bench/gas.py

bench-oracle: setup
	$(BIN)/python bench/off_chain.py

bench-service: setup compile postgresql
	$(BIN)/python bench/service_bench.py

bench-web: setup compile web chromium
	$(BIN)/python bench/web_bench.py

# Long (the 10,000-model round takes a while on 2 cores): `python bench/scale.py --models 1000` for one size.
bench-scale: setup compile
	$(BIN)/python bench/scale.py

clean:
	rm -rf build reports .solc web/dist
