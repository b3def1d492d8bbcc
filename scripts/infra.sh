#!/usr/bin/env bash
# Starts or stops the local infrastructure the mesh runs on, every server on 127.0.0.1:
#   Redis (Dapr state + actors + local pub/sub), FerretDB (MongoDB wire protocol, SQLite backend),
#   Kafka in KRaft mode (only for LEMO_PUBSUB=kafka, or when asked with `up kafka`),
#   the Dapr placement (actors) and scheduler (workflows, reminders) services.
# Usage: infra.sh up [kafka]   |   infra.sh down   |   infra.sh restart-kafka [SECONDS_DOWN]
source "$(dirname "$0")/common.sh"

REDIS_PORT="${LEMO_REDIS_PORT:-6380}"
MONGO_PORT="${LEMO_MONGO_PORT:-27018}"
KAFKA_PORT="${LEMO_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${LEMO_KAFKA_CONTROLLER_PORT:-19093}"
PLACEMENT_PORT="${LEMO_PLACEMENT_PORT:-50005}"
SCHEDULER_PORT="${LEMO_SCHEDULER_PORT:-50006}"
DATA="$LEMO_STATE/data"

redis_up() {
  mkdir -p "$DATA/redis"
  start_bg redis redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DATA/redis" \
    --save "" --appendonly yes --protected-mode yes
  wait_port "$REDIS_PORT" 20
  # Redis listens while it still replays its append-only file and answers LOADING until done; a sidecar whose
  # state store sees that exits. Wait for a PONG.
  for _ in $(seq 1 240); do
    [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && return 0
    sleep 0.5
  done
  log "redis did not finish loading its data in 120 s"; return 1
}

ferretdb_up() {
  [ -n "${MONGODB_URI:-}" ] && { log "MONGODB_URI set: using that MongoDB, not FerretDB"; return 0; }
  mkdir -p "$DATA/ferretdb"
  start_bg ferretdb ferretdb --listen-addr "127.0.0.1:$MONGO_PORT" --handler sqlite \
    --sqlite-url "file:$DATA/ferretdb/" --state-dir "$DATA/ferretdb" --telemetry disable \
    --debug-addr "127.0.0.1:${LEMO_FERRETDB_DEBUG_PORT:-58088}" --log-level warn
  wait_port "$MONGO_PORT" 30
}

kafka_up() {
  local dir="$DATA/kafka" cfg="$LEMO_STATE/kafka.properties" cp="$LEMO_CACHE/kafka/libs/*"
  mkdir -p "$dir"
  cat > "$cfg" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir
num.partitions=4
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
PROPS
  if [ ! -f "$dir/meta.properties" ]; then
    log "formatting Kafka storage"
    java -cp "$cp" kafka.tools.StorageTool format -t "$(cat /proc/sys/kernel/random/uuid | tr -d - | head -c 22)" \
      -c "$cfg" >"$LEMO_STATE/logs/kafka-format.log" 2>&1
  fi
  start_bg kafka java -Xms256m -Xmx512m -XX:+UseG1GC -Dlog4j.configuration="file:$LEMO_ROOT/scripts/kafka/log4j.properties" \
    -cp "$cp" kafka.Kafka "$cfg"
  wait_port "$KAFKA_PORT" 90
}

dapr_control_plane_up() {
  # Both default to health 8080 / metrics 9090; those would clash with each other and the gateway.
  start_bg placement placement --port "$PLACEMENT_PORT" --listen-address 127.0.0.1 \
    --healthz-port 58081 --healthz-listen-address 127.0.0.1 --metrics-port 59091 --metrics-listen-address 127.0.0.1
  mkdir -p "$DATA/scheduler"
  start_bg scheduler scheduler --port "$SCHEDULER_PORT" --listen-address 127.0.0.1 \
    --healthz-port 58082 --healthz-listen-address 127.0.0.1 --metrics-port 59092 --metrics-listen-address 127.0.0.1 \
    --etcd-data-dir "$DATA/scheduler" --etcd-client-port 52379 --etcd-client-listen-address 127.0.0.1 \
    --etcd-initial-cluster "dapr-scheduler-server-0=http://127.0.0.1:52380" --id dapr-scheduler-server-0 \
    --override-broadcast-host-port "127.0.0.1:$SCHEDULER_PORT"
  wait_port "$PLACEMENT_PORT" 30
  wait_port "$SCHEDULER_PORT" 60
}

case "${1:-}" in
  up)
    redis_up
    ferretdb_up
    if [ "${LEMO_PUBSUB:-redis}" = kafka ] || [ "${2:-}" = kafka ]; then kafka_up; fi
    dapr_control_plane_up
    log "infrastructure is up (state: $LEMO_STATE)"
    ;;
  down)
    for name in scheduler placement kafka ferretdb redis; do stop_bg "$name"; done
    ;;
  restart-kafka)
    # The fault tests' broker restart: SIGTERM by pid file, optionally stay down a while, start it as `up` does.
    stop_bg kafka
    sleep "${2:-0}"
    kafka_up
    ;;
  *) echo "usage: $0 up [kafka] | down | restart-kafka [SECONDS_DOWN]" >&2; exit 2 ;;
esac
