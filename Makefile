# The README's commands. Each installs what it lacks first (idempotent, cached under ~/.cache and ~/.dapr).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install install-python install-dapr install-stores install-console up down status test lint unit eval bench bench-ingest bench-train bench-recommend

install: install-python install-dapr install-stores install-console

install-python:
	@bash scripts/install-python.sh

install-dapr:
	@bash scripts/install-dapr.sh

install-stores:
	@bash scripts/install-stores.sh

## install-console: the console's chart library (npm ci, pinned) and Debian's chromium for its browser tests
install-console:
	@bash scripts/install-console.sh

## up: start the stores, placement, scheduler and every app with its sidecar (`dapr run -f dapr.yaml`)
up: install
	@bash scripts/up.sh

## down: stop everything `make up` started (by recorded pid)
down:
	@bash scripts/down.sh

lint: install-python
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy lemo lemo_cli lemo_client apps actors workflows tests

unit: install-python
	$(VENV)/bin/pytest -q tests/unit

## status: every app and sidecar of `make up`: up or down, since when, restarts (the watchdog's view), then each
## app's health through its sidecar
status:
	@$(PY) scripts/watchdog.py status; rc=$$?; $(VENV)/bin/lemo status || rc=1; exit $$rc

## test: lint, unit tests, then integration tests against real sidecars and stores (stopped afterwards)
test: install lint
	@bash scripts/test.sh

## eval: the offline evaluation on MovieLens-100k (docs/evaluation.md and its chart are rewritten)
eval: install-python
	$(VENV)/bin/lemo eval

## bench: the benchmarks against a running `make up` mesh (ingest, then the full training pipeline)
bench: bench-ingest bench-train bench-recommend

bench-ingest: install-python
	LEMO_ADMIN_KEY=$$(cat .state/admin-key) $(VENV)/bin/lemo bench ingest --events 10000 --users 1000

bench-train: install-python
	$(VENV)/bin/lemo bench train --tenant demo --api-key $$(cat .state/demo-api-key)

bench-recommend: install-python
	$(VENV)/bin/lemo bench recommend --api-key $$(cat .state/demo-api-key)
