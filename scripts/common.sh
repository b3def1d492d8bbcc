#!/usr/bin/env bash
# Shared paths and helpers for the project's install and start/stop scripts.
# Sourced, never run. Everything a script starts binds to 127.0.0.1 and records its pid under $LEMO_STATE/pids.
set -euo pipefail

LEMO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export LEMO_ROOT
export LEMO_STATE="${LEMO_STATE:-$LEMO_ROOT/.state}"
export LEMO_CACHE="${LEMO_CACHE:-$HOME/.cache/lemo}"
export DAPR_VERSION="${DAPR_VERSION:-1.18.2}"
export DAPR_CLI_VERSION="${DAPR_CLI_VERSION:-1.16.5}"
export FERRETDB_VERSION="${FERRETDB_VERSION:-1.24.2}"
export DAPR_HOME="${DAPR_HOME:-$HOME/.dapr}"
export VENV="${VENV:-$LEMO_ROOT/.venv}"
export GOBIN_LEMO="$LEMO_CACHE/bin"
export PATH="$DAPR_HOME/bin:$GOBIN_LEMO:$VENV/bin:$PATH"

mkdir -p "$LEMO_STATE/pids" "$LEMO_STATE/logs" "$LEMO_CACHE"

log() { printf '[lemo] %s\n' "$*" >&2; }

# start_bg NAME CMD...: start a server in the background with its own log and pid file.
start_bg() {
  local name="$1"; shift
  if is_running "$name"; then log "$name already running (pid $(cat "$LEMO_STATE/pids/$name.pid"))"; return 0; fi
  log "starting $name"
  setsid "$@" >"$LEMO_STATE/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$LEMO_STATE/pids/$name.pid"
}

is_running() {
  local f="$LEMO_STATE/pids/$1.pid"
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

# stop_bg NAME: stop by recorded pid (its whole process group), never by process name.
stop_bg() {
  local f="$LEMO_STATE/pids/$1.pid" pid
  [ -f "$f" ] || return 0
  pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $1 (pid $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# go_build_module MODULE VERSION OUT_DIR [go build args...] -- PACKAGES...
# Builds commands inside a module's own source tree, as its maintainers do. `go install MODULE@VERSION` is not used:
# it refuses modules whose go.mod has replace directives (dapr) and asks the proxy for version lists.
go_build_module() {
  local module="$1" version="$2" out="$3"; shift 3
  local args=() dir src
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do args+=("$1"); shift; done
  shift
  local info
  info="$(go mod download -json "$module@$version" || true)"
  dir="$(printf '%s\n' "$info" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')"
  [ -n "$dir" ] && [ -d "$dir" ] || { log "go mod download $module@$version failed:"; printf '%s\n' "$info" >&2; return 1; }
  src="$(mktemp -d)"
  cp -r "$dir/." "$src/" && chmod -R u+w "$src"
  # GO_MOD_REPLACE="old=new@version ...": substitutes modules the proxy cannot serve (see docs/install.md).
  local r gomod_flag=()
  for r in ${GO_MOD_REPLACE:-}; do (cd "$src" && go mod edit -replace "$r"); gomod_flag=(-mod=mod); done
  # GO_PREBUILD: a shell step run in the source tree first (for generated files a release tarball lacks).
  if [ -n "${GO_PREBUILD:-}" ]; then (cd "$src" && eval "$GO_PREBUILD"); fi
  mkdir -p "$out"
  local pkg rc=0
  for pkg in "$@"; do
    log "building $module@$version $pkg"
    (cd "$src" && CGO_ENABLED=0 go build -trimpath "${gomod_flag[@]}" "${args[@]}" -o "$out/" "$pkg") || { rc=1; break; }
  done
  rm -rf "$src"
  return $rc
}

# wait_port PORT [SECONDS]: wait until something listens on 127.0.0.1:PORT.
wait_port() {
  local port="$1" secs="${2:-60}" i
  for i in $(seq 1 $((secs * 5))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  log "nothing listens on 127.0.0.1:$port after ${secs}s"; return 1
}
