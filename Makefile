# Tally — the two commands a newcomer needs are `make demo` and `make test`.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Re-install only when the project's dependencies change.
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PYTEST_ARGS ?=

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install Tally with its dev tools

demo: $(STAMP) ## Run the whole story against the local sandbox (nothing to configure)
	$(BIN)/tally demo

test: $(STAMP) ## Run the fast tests, under 3 minutes (SQLite; PostgreSQL too when TALLY_TEST_DATABASE_URL is set)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-all: $(STAMP) ## Run every test, the large books and the long fault tests too (what CI runs)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

requirements: $(STAMP) ## Regenerate requirements.txt (for buildpacks) after changing pyproject.toml
	$(BIN)/python tools/requirements.py

fmt: $(STAMP) ## Format the code
	$(BIN)/ruff format sync bot sandbox tests bench tools
	$(BIN)/ruff check --fix sync bot sandbox tests bench tools

lint: $(STAMP) ## Format check, lint and strict type check
	$(BIN)/ruff format --check sync bot sandbox tests bench tools
	$(BIN)/ruff check sync bot sandbox tests bench tools
	$(BIN)/mypy --strict sync bot sandbox tools

check: lint test-all ## Format check, lint, types, every test: run before every push

bench: $(STAMP) ## Run the benchmarks (slow; numbers go into issue notes)
	$(BIN)/python bench/sandbox.py

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info

.PHONY: help install demo test test-all requirements fmt lint check bench clean
