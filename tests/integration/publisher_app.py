"""A tenant's own service, as a tenant would write it with the Dapr Python SDK: publishes the JSON lines on stdin
to a topic through its own sidecar (DAPR_GRPC_PORT), the first with publish_event, the rest with one bulk
publish_events. Prints what the sidecar answered as JSON; used by tests/integration/test_ingest.py."""

from __future__ import annotations

import json
import sys

from dapr.clients import DaprClient
from dapr.clients.exceptions import DaprGrpcError


def main(pubsub: str, topic: str) -> int:
    lines = [line for line in sys.stdin.read().splitlines() if line.strip()]
    result: dict[str, object] = {"published": 0, "failed": [], "error": None}
    with DaprClient() as client:
        try:
            client.publish_event(pubsub, topic, lines[0], data_content_type="application/json")
            result["published"] = 1
            if lines[1:]:
                response = client.publish_events(pubsub, topic, lines[1:], data_content_type="application/json")
                result["failed"] = [e.entry_id for e in response.failed_entries]
                result["published"] = len(lines) - len(response.failed_entries)
        except DaprGrpcError as exc:
            result["error"] = {"code": exc.code().name, "message": exc.details()}
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
