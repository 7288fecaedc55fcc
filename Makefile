# Ketapath developer tasks (GNU make).
#
#   make demo               a local demo on http://127.0.0.1:8000 (PORT=8103 make demo for another port)
#   make test               the whole test suite; DATABASE_URL=postgres://... make test on PostgreSQL
#   make lint               ruff check, ruff format --check, mypy
#   make migrations-check   fails when a model change has no migration
#   make install            the virtual environment with the development tools
#   make clean              remove the virtual environment and caches (keeps db.sqlite3)
#
# The virtual environment lives in .venv. Stamp files inside it remember what was
# installed, and are rebuilt when pyproject.toml changes, so a repeated `make test` does
# not reinstall anything.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed
STAMP_DEV := $(VENV)/.installed-dev
PIP := $(BIN)/python -m pip --disable-pip-version-check --quiet
# Tests run in two worker processes (the machines have two cores).
PYTEST_WORKERS ?= 2

.PHONY: help demo test lint migrations-check install clean

help:
	@sed -n '3,9p' Makefile | sed 's/^# \{0,1\}//'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	touch $@

# The development install includes everything the runtime install does.
$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[dev]'
	touch $@ $(STAMP_RUN)

install: $(STAMP_DEV)

demo: $(STAMP_RUN)
	DEBUG=1 $(BIN)/python manage.py migrate --noinput -v 0
	DEBUG=1 PUBLIC_BASE_URL=http://127.0.0.1:$${PORT:-8000} $(BIN)/python manage.py demo_seed
	@echo "Starting Ketapath on http://127.0.0.1:$${PORT:-8000}/ (Ctrl-C stops it)"
	DEBUG=1 PUBLIC_BASE_URL=http://127.0.0.1:$${PORT:-8000} exec $(BIN)/python manage.py demo_serve "127.0.0.1:$${PORT:-8000}"

# pytest exits non-zero when a test fails and also when no test ran (exit code 5), and
# either stops make here.
test: $(STAMP_DEV)
	$(BIN)/pytest -n $(PYTEST_WORKERS) -p no:cacheprovider

lint: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DEBUG=1 $(BIN)/mypy

migrations-check: $(STAMP_DEV)
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis staticfiles *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
