# The README's commands. Each installs what it lacks first (idempotent, cached under ~/.cache and ~/.dapr).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install install-python install-dapr install-stores up down test lint unit integration infra-up infra-down

install: install-python install-dapr install-stores

install-python:
	@bash scripts/install-python.sh

install-dapr:
	@bash scripts/install-dapr.sh

install-stores:
	@bash scripts/install-stores.sh

## up: start the stores, placement, scheduler and every app with its sidecar (`dapr run -f dapr.yaml`)
up: install
	@bash scripts/up.sh

## down: stop everything `make up` started (by recorded pid)
down:
	@bash scripts/down.sh

lint: install-python
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy lemo apps actors workflows tests

unit: install-python
	$(VENV)/bin/pytest -q tests/unit

## test: lint, unit tests, then integration tests against real sidecars and stores (stopped afterwards)
test: install lint
	@bash scripts/test.sh
