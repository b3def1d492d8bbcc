#!/usr/bin/env bash
# Runs the unit and integration tests, then brings the whole mesh up with `dapr run -f` (as `make up` does) and
# checks every app answers through its sidecar. The tests get their own infrastructure with fresh data under
# .state/test (Kafka included, for the Kafka pub/sub tests): a consumer group new to a topic reads it from the
# start, so old events from `make up` would only slow them down. Everything started is stopped, even on failure.
source "$(dirname "$0")/common.sh"
cd "$LEMO_ROOT"

if is_running mesh || is_running redis; then
  log "\`make up\` is running (its stores use the same ports); \`make down\` first"; exit 2
fi
export LEMO_STATE="$LEMO_ROOT/.state/test"
rm -rf "$LEMO_STATE"
mkdir -p "$LEMO_STATE/pids" "$LEMO_STATE/logs"
cleanup() {
  bash scripts/down.sh
}
trap cleanup EXIT
bash scripts/infra.sh up kafka

t0=$(date +%s)
# Modules run one after another here, so each may trim the shared streams (tests/integration/conftest.py).
LEMO_TEST_TRIM_STREAMS=1 "$VENV/bin/pytest" -q -p no:cacheprovider "$@" tests/unit tests/integration
log "pytest took $(( $(date +%s) - t0 ))s"

t0=$(date +%s)
log "smoke test: the whole mesh through dapr run -f"
# The mesh's fixed ports can still be in TIME_WAIT from the tests' own connections; wait that out once.
if ! LEMO_DEMO_DATA=0 bash scripts/up.sh; then
  log "mesh did not start (a fixed port still held?); retrying once in 65 s"
  bash scripts/down.sh --keep-infra
  sleep 65
  LEMO_DEMO_DATA=0 bash scripts/up.sh
fi
"$VENV/bin/lemo" status
log "mesh up and healthy in $(( $(date +%s) - t0 ))s"
