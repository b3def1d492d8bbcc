#!/usr/bin/env bash
# Runs the unit and integration tests, then brings the whole mesh up with `dapr run -f` (as `make up` does) and
# checks every app answers through its sidecar. Starts the infrastructure (Kafka included, for the Kafka
# pub/sub tests) unless `make up` already runs it, and stops what it started even when tests fail.
source "$(dirname "$0")/common.sh"
cd "$LEMO_ROOT"

if is_running mesh; then
  log "the mesh from \`make up\` is running; \`make down\` first (the tests start their own apps)"; exit 2
fi
started=0
is_running redis || started=1
cleanup() {
  bash scripts/down.sh --keep-infra
  if [ "$started" = 1 ]; then bash scripts/infra.sh down; fi
}
trap cleanup EXIT
bash scripts/infra.sh up kafka

t0=$(date +%s)
"$VENV/bin/pytest" -q -p no:cacheprovider "$@" tests/unit tests/integration
log "pytest took $(( $(date +%s) - t0 ))s"

t0=$(date +%s)
log "smoke test: the whole mesh through dapr run -f"
bash scripts/up.sh
"$VENV/bin/lemo" status
log "mesh up and healthy in $(( $(date +%s) - t0 ))s"
