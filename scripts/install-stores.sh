#!/usr/bin/env bash
# Installs the local stores the mesh needs, each only when missing:
#   Redis (Debian's redis-server), FerretDB (MongoDB wire protocol, from Go modules), Kafka (Maven Central jars).
source "$(dirname "$0")/common.sh"

if ! command -v redis-server >/dev/null 2>&1; then
  log "installing redis-server from Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends redis-server >/dev/null
fi

ferret_stamp="$GOBIN_LEMO/.ferretdb-version"
if ! { [ -x "$GOBIN_LEMO/ferretdb" ] && [ "$(cat "$ferret_stamp" 2>/dev/null)" = "$FERRETDB_VERSION" ]; }; then
  # FerretDB reads its version from a file its own build tooling generates from git; write it as that would.
  GO_PREBUILD="echo v$FERRETDB_VERSION > build/version/version.txt" \
    go_build_module github.com/FerretDB/FerretDB "v$FERRETDB_VERSION" "$GOBIN_LEMO" -- ./cmd/ferretdb
  echo "$FERRETDB_VERSION" > "$ferret_stamp"
fi

kafka_libs="$LEMO_CACHE/kafka/libs"
kafka_stamp="$LEMO_CACHE/kafka/.pom-sha"
pom="$LEMO_ROOT/scripts/kafka/pom.xml"
pom_sha="$(sha256sum "$pom" | cut -d' ' -f1)"
if [ ! -f "$kafka_stamp" ] || [ "$(cat "$kafka_stamp")" != "$pom_sha" ]; then
  log "fetching Kafka broker jars"
  rm -rf "$kafka_libs"
  mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$kafka_libs"
  echo "$pom_sha" > "$kafka_stamp"
fi
