#!/usr/bin/env bash
# `make down`: stops the apps and sidecars, then the infrastructure, each by its recorded pid.
# With --keep-infra only the apps and sidecars stop (the test run reuses the stores afterwards).
source "$(dirname "$0")/common.sh"
cd "$LEMO_ROOT"

# The watchdog first, so nothing is started again while the mesh stops; it stops what it restarted itself.
stop_bg watchdog
rm -rf "$LEMO_STATE/watchdog"
if is_running mesh; then
  for f in dapr.yaml .dapr-run.yaml; do [ -f "$f" ] && dapr stop -f "$f" >/dev/null 2>&1 || true; done
fi
stop_bg mesh
[ "${1:-}" = --keep-infra ] || bash scripts/infra.sh down
