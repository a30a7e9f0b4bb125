# `make demo` and `make test` work on a fresh machine: they create .venv and install.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
DEMO_DB ?= sqlite:///lims.db
# The LIMS defaults to production (strong keys required, no demo data); the demo, the
# examples and the benches say development. The tests say it in tests/conftest.py.
DEV := LIMS_ENVIRONMENT=development LIMS_DATABASE_URL=$(DEMO_DB)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install chromium demo test lint test-sqlite test-postgres test-summary bench diagram examples clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/.installed

# The browser tests drive Debian's Chromium (Playwright cannot download a browser here).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
		else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; \
	fi

demo: install
	# A fresh demo database starts a fresh audit checkpoint file (development signing key
	# and checkpoints live in the working directory, git-ignored; see README).
	rm -f lims.db lims.db-wal lims.db-shm audit-checkpoints.jsonl
	$(DEV) $(BIN)/lims init
	$(DEV) $(BIN)/lims seed --demo
	$(DEV) $(BIN)/lims demo --out demo-output
	$(DEV) $(BIN)/lims audit verify
	$(DEV) $(BIN)/lims products
	@echo "Sign in at http://$(HOST):$(PORT) (demo users in README.md); Ctrl-C stops the server."
	$(DEV) $(BIN)/lims serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check lims workflows labels tests bench scripts
	$(BIN)/mypy lims workflows labels

# Each run leaves a JUnit report; `make test` ends with the count of tests that passed.
REPORTS := .test-reports

test-sqlite: install chromium
	@rm -rf $(REPORTS) && mkdir -p $(REPORTS)
	$(BIN)/pytest -n 2 --junitxml=$(REPORTS)/sqlite.xml

# The integration and API suites again on PostgreSQL when the server answers: PG_URL's user
# owns and migrates each test schema; the API suite runs as the application role
# lims_app_test (tests/conftest.py creates it; the server trusts 127.0.0.1).
test-postgres: install
	@mkdir -p $(REPORTS)
	@if $(BIN)/python -c "import sys, psycopg; psycopg.connect(sys.argv[1].replace('+psycopg', ''), connect_timeout=3).close()" '$(PG_URL)' 2>/dev/null; then \
		LIMS_TEST_DATABASE_URL=$(PG_URL) $(BIN)/pytest -n 2 --junitxml=$(REPORTS)/postgres.xml tests/integration tests/api; \
	else \
		echo "PostgreSQL at 127.0.0.1:5432 does not answer: PostgreSQL run skipped"; \
		if [ -n "$$CI" ]; then echo "CI must run PostgreSQL"; exit 1; fi; \
	fi

test: lint test-sqlite test-postgres test-summary

test-summary:
	@$(BIN)/python -m tests.summary $(REPORTS)/sqlite.xml $(REPORTS)/postgres.xml

bench examples: export LIMS_ENVIRONMENT = development

# Every bench, then one table of every figure with its goal; exits non-zero when a goal is
# missed. The scale bench builds a smaller database unless SCALE=full (100,000 products,
# 10,000,000 audit events); benches needing PostgreSQL or pgbench are skipped without them.
SCALE ?= small
bench: install
	$(BIN)/python -m bench.report --scale $(SCALE)

diagram: install
	$(BIN)/lims diagram

# docs/labels and docs/batch-records from what the code prints: the demo on a fresh database
# in a temporary directory; REVIEW=DIR also writes every label and record page there as PNG.
examples: install
	$(BIN)/python scripts/regenerate_examples.py --docs docs $(if $(REVIEW),--review $(REVIEW))

clean:
	rm -rf $(VENV) lims.db* demo-output audit-checkpoints.jsonl
