"""The publishers of `lemo bench ingest --via dapr|kafka` (docs/ingest.md): events written straight onto a tenant's
ingest topic, as a tenant's own service would, instead of through the gateway.

- dapr: Dapr bulk publish through a sidecar's HTTP API, 1,000 events a call (the fast path a Dapr app has);
- kafka: Kafka's own console producer (`kafka.tools.ConsoleProducer` from the broker jars scripts/infra.sh runs),
  one JSON line per event keyed by its user; needs the mesh on the Kafka profile (LEMO_PUBSUB=kafka).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

BULK = 1000


def publish_via_dapr(
    sidecar: str, token: str | None, pubsub: str, topic: str, events: Sequence[dict[str, Any]]
) -> None:
    headers = {"content-type": "application/json", **({"dapr-api-token": token} if token else {})}
    with httpx.Client(base_url=sidecar, timeout=120, headers=headers) as http:
        for offset in range(0, len(events), BULK):
            entries = [
                {"entryId": str(i), "event": e, "contentType": "application/json"}
                for i, e in enumerate(events[offset : offset + BULK])
            ]
            resp = http.post(f"/v1.0-alpha1/publish/bulk/{pubsub}/{topic}", content=json.dumps(entries))
            if resp.status_code >= 300:
                raise RuntimeError(f"bulk publish answered {resp.status_code}: {resp.text[:300]}")


def publish_via_kafka(bootstrap: str, kafka_libs: Path, topic: str, events: Sequence[dict[str, Any]]) -> None:
    cmd = ["java", "-cp", f"{kafka_libs}/*", "kafka.tools.ConsoleProducer", "--bootstrap-server", bootstrap]
    cmd += ["--topic", topic, "--producer-property", "linger.ms=5", "--producer-property", "batch.size=262144"]
    # Keyed by user, as docs/ingest.md asks: a user's events stay in order on one partition, and the partitions share
    # the load (unkeyed, the producer fills one partition at a time, and the consumer takes a partition's messages
    # one by one).
    cmd += ["--property", "parse.key=true", "--property", "key.separator=\t"]
    lines = "".join(f"{e['user_id']}\t{json.dumps(e)}\n" for e in events)
    done = subprocess.run(cmd, input=lines, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the console producer failed: {done.stderr[-500:]}")
