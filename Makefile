# phiml-lint: every step a fresh clone needs. `make demo` and `make test` do all set-up themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help install lint test test-python test-corpus test-fast demo clean docs docs-gen editors test-editors fuzz bench test-backends ext-check vsix e2e-deps test-vscode screenshots

help:
	@echo "make demo   - set up and run the checker on examples/"
	@echo "make test   - set up and run every test (Python, corpus, editors, extension, backends)"
	@echo "make test-fast - the inner loop: lint + Python tests without editors/backends"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check server tests tools bench

test-python: install
	$(BIN)/pytest -q -m "not editor and not slow" tests

test-corpus: install
	$(PYTHON) ../shared/corpus/evaluate.py --checker "$(CURDIR)/$(BIN)/phiml-lint" ../shared/corpus

docs-gen: install
	$(BIN)/python tools/gen_docs.py

docs: install
	$(BIN)/pip install -q -r docs/requirements.txt
	$(BIN)/python tools/gen_docs.py --check
	$(BIN)/python -m mkdocs build --strict -d site

# Real editors nobody here wrote (Debian's Neovim 0.7.2, Emacs 28.2 + eglot 1.9), headless.
editors:
	@if ! command -v nvim >/dev/null || ! command -v emacs >/dev/null || [ ! -d /usr/share/emacs/site-lisp/elpa-src ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq neovim emacs-nox elpa-eglot >/dev/null; \
	  else echo "editors: run as root or install neovim emacs-nox elpa-eglot"; fi; fi

test-editors: install editors
	$(BIN)/pytest -q -m editor tests/editors

# Property-based tests, long profile (make test runs the bounded, derandomised `ci` profile).
fuzz: install
	HYPOTHESIS_PROFILE=long $(BIN)/pytest -q tests/fuzz --hypothesis-show-statistics

bench: install
	$(BIN)/python bench/run.py

# Every rule's bad program on real torch 2.13 (CPU) and jax 0.10 (CPU), in .venv-backends.
test-backends: install
	@if bash tools/backends/setup.sh; then \
	  $(BIN)/pytest -q -rs tests/backends && .venv-backends/bin/python tools/backends/make_table.py; \
	else echo "test-backends: could not install phiml/torch/jax into .venv-backends (see above); backend proofs NOT run"; exit 1; fi

# VS Code extension: npm packages from the committed lockfiles, checks, .vsix, real VS Code e2e.
EXT := vscode-extension
$(EXT)/node_modules/.installed-stamp: $(EXT)/package-lock.json
	npm --prefix $(EXT) ci --no-audit --no-fund
	touch $@

ext-check: $(EXT)/node_modules/.installed-stamp
	npm --prefix $(EXT) run typecheck
	npm --prefix $(EXT) run lint
	npm --prefix $(EXT) run test

vsix: install $(EXT)/node_modules/.installed-stamp
	bash $(EXT)/scripts/bundle-server.sh
	npm --prefix $(EXT) run package

e2e-deps:
	@if ! command -v chromium >/dev/null || ! command -v rg >/dev/null || [ ! -e /usr/include/krb5.h ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium libkrb5-dev ripgrep >/dev/null; \
	  else echo "e2e-deps: run as root or install chromium libkrb5-dev ripgrep"; fi; fi
	@if [ ! -e $(EXT)/e2e/node_modules/.installed-stamp ] || [ $(EXT)/e2e/package-lock.json -nt $(EXT)/e2e/node_modules/.installed-stamp ]; then \
	  bash $(EXT)/e2e/install.sh && touch $(EXT)/e2e/node_modules/.installed-stamp; fi

test-vscode: ext-check vsix e2e-deps
	$(BIN)/pytest -q tests/test_vsix.py
	export PHIML_E2E_SCREENSHOTS=$(CURDIR)/build/e2e-screenshots; \
	npm --prefix $(EXT) run e2e || { echo "e2e failed once; retrying"; npm --prefix $(EXT) run e2e; }

# Refresh the documentation's screenshots from a real VS Code run.
screenshots: ext-check vsix e2e-deps
	PHIML_E2E_SCREENSHOTS=$(CURDIR)/docs/images npm --prefix $(EXT) run e2e

test-fast: lint test-python

test: lint docs test-python test-corpus test-editors test-vscode test-backends

demo: install
	@echo "$$ phiml-lint check examples/"
	@$(BIN)/phiml-lint check examples/; status=$$?; [ $$status -le 1 ] || exit $$status
	@echo
	@echo "$$ phiml-lint check --diff examples/   (what --fix would change)"
	@$(BIN)/phiml-lint check --diff --unsafe-fixes examples/ || true

clean:
	rm -rf $(VENV) build dist site .pytest_cache .ruff_cache
