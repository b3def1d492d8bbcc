#!/usr/bin/env bash
# Builds the Dapr runtime (daprd, placement, scheduler) and the dapr CLI from the Go module proxy into
# $DAPR_HOME/bin, and writes the files `dapr init --slim` would. Idempotent: skipped when the versions match.
source "$(dirname "$0")/common.sh"

BIN="$DAPR_HOME/bin"
mkdir -p "$BIN" "$DAPR_HOME/components"
TAGS="${DAPR_BUILD_TAGS:-stablecomponents}"
stamp="$BIN/.lemo-build"
want="dapr=$DAPR_VERSION tags=$TAGS cli=$DAPR_CLI_VERSION"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
   && [ -x "$BIN/daprd" ] && [ -x "$BIN/placement" ] && [ -x "$BIN/scheduler" ] && [ -x "$BIN/dapr" ]; then
  log "dapr $DAPR_VERSION already built"
else
  t0=$(date +%s)
  # No leading "v" in the version: the CLI compares it to decide whether to pass the scheduler address.
  ldflags="-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=$DAPR_VERSION \
    -X github.com/dapr/dapr/pkg/buildinfo.gitversion=$DAPR_VERSION \
    -X github.com/dapr/dapr/pkg/buildinfo.gitcommit=v$DAPR_VERSION \
    -X github.com/dapr/kit/logger.DaprVersion=$DAPR_VERSION"
  go_build_module github.com/dapr/dapr "v$DAPR_VERSION" "$BIN" -tags "$TAGS" -ldflags "$ldflags" -- ./cmd/daprd
  go_build_module github.com/dapr/dapr "v$DAPR_VERSION" "$BIN" -ldflags "$ldflags" -- ./cmd/placement ./cmd/scheduler
  tmp="$(mktemp -d)"
  # The CLI's go.mod wants components-contrib v1.16.3, which the module proxy does not serve; the CLI only uses
  # its component types, so the next patch release (v1.16.5) stands in.
  GO_MOD_REPLACE="github.com/dapr/components-contrib=github.com/dapr/components-contrib@v1.16.5" \
    go_build_module github.com/dapr/cli "v$DAPR_CLI_VERSION" "$tmp" \
    -ldflags "-s -w -X main.version=$DAPR_CLI_VERSION -X main.apiVersion=1.0" -- .
  install -m 0755 "$tmp/cli" "$BIN/dapr"
  rm -rf "$tmp"
  echo "$want" > "$stamp"
  log "dapr built in $(( $(date +%s) - t0 ))s"
fi

# What `dapr init --slim` writes: daprd refuses to start without the default configuration.
if [ ! -f "$DAPR_HOME/config.yaml" ]; then
  cat > "$DAPR_HOME/config.yaml" <<'YAML'
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: daprConfig
spec: {}
YAML
fi
