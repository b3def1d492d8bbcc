"""The gateway's status tells an app that is down from its sidecar being down, by daprd's invocation errors (as
daprd 1.18 words them: tests/integration/test_console.py sees both through real sidecars)."""

from __future__ import annotations

from apps.gateway.status import sidecar_answered

APP_REFUSED = (
    "failed to invoke, id: catalog, err: rpc error: code = Internal desc = error invoking app channel: Get "
    '"http://127.0.0.1:33817/healthz": dial tcp 127.0.0.1:33817: connect: connection refused '
    "(Error Code: ERR_DIRECT_INVOKE, Status Code: 500)"
)
APP_UNHEALTHY = (
    "failed to invoke, id: catalog, err: rpc error: code = Internal desc = error invoking app channel: rpc error: "
    "code = Internal desc = app is not in a healthy state (Error Code: ERR_DIRECT_INVOKE, Status Code: 500)"
)
SIDECAR_GONE = (
    "failed to invoke, id: catalog, err: failed to invoke target catalog after 3 retries. Error: rpc error: code = "
    'Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 10.0.0.2:36051: connect: '
    'connection refused" (Error Code: ERR_DIRECT_INVOKE, Status Code: 500)'
)


def test_an_app_down_behind_a_live_sidecar() -> None:
    assert sidecar_answered(APP_REFUSED) is True
    assert sidecar_answered(APP_UNHEALTHY) is True


def test_a_sidecar_that_cannot_be_reached() -> None:
    assert sidecar_answered(SIDECAR_GONE) is False


def test_an_error_that_says_neither() -> None:
    assert sidecar_answered("") is None
    assert sidecar_answered("TimeoutError") is None
