#!/usr/bin/env bash
# Installs what the operator console needs, each only when missing:
#   its one script library (chart.js, pinned by apps/gateway/console/package-lock.json) with npm ci, and
#   Debian's chromium, the headless browser the console's browser tests drive (tests/integration/test_console.py).
# The gateway serves the library from apps/gateway/console/node_modules: nothing is fetched at run time.
source "$(dirname "$0")/common.sh"

console="$LEMO_ROOT/apps/gateway/console"
stamp="$console/node_modules/.lemo-lock-sha"
sha="$(sha256sum "$console/package-lock.json" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sha" ]; then
  log "console scripts up to date"
else
  if ! command -v npm >/dev/null 2>&1; then
    log "installing nodejs and npm from Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  log "installing the console's scripts (npm ci)"
  (cd "$console" && npm ci --omit=dev --no-audit --no-fund --loglevel=error --cache "$LEMO_CACHE/npm")
  echo "$sha" > "$stamp"
fi

if [ ! -x /usr/bin/chromium ]; then
  log "installing chromium from Debian packages (the browser tests' headless browser)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
