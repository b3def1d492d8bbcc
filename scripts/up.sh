#!/usr/bin/env bash
# `make up`: the stores, placement and scheduler, then every app with its sidecar via `dapr run -f`,
# and waits until every app answers its health endpoint through its sidecar.
source "$(dirname "$0")/common.sh"
cd "$LEMO_ROOT"

profile="${LEMO_PUBSUB:-redis}"
case "$profile" in redis|kafka) ;; *) log "LEMO_PUBSUB must be redis or kafka, not '$profile'"; exit 2 ;; esac
bash scripts/infra.sh up

# The admin key authorizes tenant administration. Locally, one is made once and kept in the state dir.
if [ -z "${LEMO_ADMIN_KEY:-}" ]; then
  [ -s "$LEMO_STATE/admin-key" ] || (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$LEMO_STATE/admin-key")
  LEMO_ADMIN_KEY="$(cat "$LEMO_STATE/admin-key")"
fi
export LEMO_ADMIN_KEY

# Mesh tokens (docs/security.md), made once like the admin key. `dapr run -f` hands its environment to every daprd
# (which requires DAPR_API_TOKEN on its API and sends APP_API_TOKEN into its app) and to every app (which sends
# the one and checks the other).
for token in dapr-api-token app-api-token; do
  [ -s "$LEMO_STATE/$token" ] || (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$LEMO_STATE/$token")
done
DAPR_API_TOKEN="${DAPR_API_TOKEN:-$(cat "$LEMO_STATE/dapr-api-token")}"
APP_API_TOKEN="${APP_API_TOKEN:-$(cat "$LEMO_STATE/app-api-token")}"
export DAPR_API_TOKEN APP_API_TOKEN

run_file=dapr.yaml
if [ "$profile" != redis ]; then
  # dapr.yaml names the Redis pub/sub folder; the same template with the other profile's folder.
  run_file=.dapr-run.yaml
  sed "s#components/pubsub-redis#components/pubsub-$profile#" dapr.yaml > "$run_file"
fi

start_bg mesh dapr run -f "$run_file"
# `dapr run -f` only logs an app or sidecar that exits; the watchdog starts it again (scripts/watchdog.py). On a
# partly broken mesh (an app killed, the mesh left running) this is also what repairs it: `make up` then only waits.
start_bg watchdog "$VENV/bin/python" scripts/watchdog.py run --run-file "$run_file"

gateway_port="${LEMO_GATEWAY_HTTP_PORT:-8080}"
log "waiting for every app to answer through its sidecar (logs: .dapr/logs, $LEMO_STATE/logs/mesh.log)"
for _ in $(seq 1 180); do
  if curl -fsS -H "dapr-api-token: $DAPR_API_TOKEN" "http://127.0.0.1:3500/v1.0/invoke/gateway/method/v1/status" \
      -o "$LEMO_STATE/status.json" 2>/dev/null; then
    log "mesh is up (pub/sub profile: $profile): $(cat "$LEMO_STATE/status.json")"
    if [ "${LEMO_DEMO_DATA:-1}" = 1 ]; then
      if [ ! -s "$LEMO_STATE/demo-api-key" ]; then
        log "loading MovieLens-100k into the demo tenant (once; the realtime profiles fill in the background)"
        LEMO_GATEWAY_HTTP_PORT="$gateway_port" "$VENV/bin/lemo" load movielens --tenant demo --quiet \
          2> "$LEMO_STATE/demo-key.log" | tail -1 >&2
        grep -o 'lemo_[A-Za-z0-9_-]*' "$LEMO_STATE/demo-key.log" | tail -1 > "$LEMO_STATE/demo-api-key"
        sleep 5  # the archive consumer's last deliveries
      fi
      demo=(--tenant demo --api-key "$(cat "$LEMO_STATE/demo-api-key")")
      trained=0  # asked a few times: a mesh that just started may answer slowly, and training again costs a minute
      for _ in 1 2 3; do
        if LEMO_GATEWAY_HTTP_PORT="$gateway_port" "$VENV/bin/lemo" models "${demo[@]}" 2>/dev/null | grep -q ' active '; then
          trained=1; break
        fi
        sleep 5
      done
      if [ "$trained" = 0 ]; then
        log "training every model for the demo tenant (once; nightly after that)"
        LEMO_GATEWAY_HTTP_PORT="$gateway_port" "$VENV/bin/lemo" train "${demo[@]}" --wait --quiet >&2 \
          || log "demo training failed; see $LEMO_STATE/logs and retry with: lemo train ${demo[*]:0:2} --wait"
      fi
      # Warm-up: the first lists after a start load models and catalog views and can come back degraded (a channel
      # or rerank past its deadline); `make up` returns once a few users' lists are served whole.
      demo_key="$(cat "$LEMO_STATE/demo-api-key")"
      for user in 1 2 3 4 5; do
        for _ in $(seq 1 30); do
          curl -fsS -H "X-API-Key: $demo_key" "http://127.0.0.1:$gateway_port/v1/users/$user/recommendations" \
            2>/dev/null | grep -q '"degraded":false' && break
          sleep 1
        done
      done
      # Every demo user with history gets a precomputed feed (mode=cached), computed in the background by
      # feed-refresh workflows; the hourly warm-up keeps them fresh.
      curl -fsS -X POST -H "X-API-Key: $demo_key" "http://127.0.0.1:$gateway_port/v1/feeds/refresh" \
        -o /dev/null 2>/dev/null && log "refreshing every demo user's feed in the background (GET /v1/feeds/refresh/RUN)" \
        || log "could not start the demo feeds' refresh (mode=cached falls back to online until the warm-up)"
      log "demo tenant API key: $(cat "$LEMO_STATE/demo-api-key")   admin key: $LEMO_STATE/admin-key"
    fi
    log "gateway: http://127.0.0.1:$gateway_port  (health: /healthz, mesh status: /v1/status, API docs: /docs)"
    log "console: http://127.0.0.1:$gateway_port/console  (log in with the demo tenant API key above, in $LEMO_STATE/demo-api-key, or the admin key)"
    exit 0
  fi
  is_running mesh || { log "dapr run exited; see $LEMO_STATE/logs/mesh.log"; tail -20 "$LEMO_STATE/logs/mesh.log" >&2; exit 1; }
  sleep 1
done
log "the mesh did not become healthy in 180s; last status:"; cat "$LEMO_STATE/status.json" >&2 2>/dev/null || true
"$VENV/bin/python" scripts/watchdog.py status >&2 || true
exit 1
