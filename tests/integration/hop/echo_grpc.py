"""The gRPC twin of echo_app.py (dapr-ext-grpc, as the ranking app is built): answers `echo` with its body, behind
the same app-token interceptor; run with `python -m tests.integration.hop.echo_grpc` (port in ECHO_APP_PORT)."""

from __future__ import annotations

import os
from concurrent import futures

from dapr.clients.grpc._request import InvokeMethodRequest
from dapr.clients.grpc._response import InvokeMethodResponse
from dapr.ext.grpc import App

from apps.shared.security import app_token_interceptors

app = App(thread_pool=futures.ThreadPoolExecutor(max_workers=4), interceptors=app_token_interceptors())


@app.method("echo")
def echo(request: InvokeMethodRequest) -> InvokeMethodResponse:
    return InvokeMethodResponse(request.data, "application/json")


app.register_health_check(lambda: None)

if __name__ == "__main__":
    app.run(int(os.environ["ECHO_APP_PORT"]), "127.0.0.1")
