#!/usr/bin/env bash
# Runs the unit and integration tests. Starts the infrastructure (Kafka included, for the Kafka pub/sub tests)
# unless `make up` already runs it, and stops what it started even when tests fail.
source "$(dirname "$0")/common.sh"

started=0
if ! is_running redis; then
  started=1
fi
cleanup() { [ "$started" = 1 ] && bash "$LEMO_ROOT/scripts/infra.sh" down; }
trap cleanup EXIT
bash "$LEMO_ROOT/scripts/infra.sh" up kafka

cd "$LEMO_ROOT"
"$VENV/bin/pytest" -q -p no:cacheprovider "$@" tests/unit tests/integration
