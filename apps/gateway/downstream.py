"""The apps behind the gateway, reached by service invocation through the gateway's own sidecar.

Their 2xx and 4xx answers are relayed as they are (one error shape everywhere); an app that cannot be reached
becomes a 503 with a machine-readable body, never a bare 500.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from fastapi import Request, Response, status

from apps.shared.errors import ApiError
from apps.shared.sidecar import SidecarHttp, SidecarResponse, SidecarUnreachable

logger = logging.getLogger(__name__)

NDJSON = "application/x-ndjson"


class Downstream:
    def __init__(self, http: SidecarHttp) -> None:
        self._http = http  # based at the gateway's sidecar

    async def call(
        self,
        app_id: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: AsyncIterator[bytes] | bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> SidecarResponse:
        url = f"/v1.0/invoke/{app_id}/method/{path}"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            resp = await self._http.request(method, url, json=json, content=content, params=query, headers=headers)
        except SidecarUnreachable as exc:
            logger.warning("%s %s on %s failed: %s", method, path, app_id, exc)
            raise ApiError(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                "upstream_unavailable",
                f"the {app_id} service did not answer; retry later",
            ) from exc
        if resp.status_code >= 500 and _is_dapr_error(resp):
            logger.warning("%s %s on %s: sidecar error %s", method, path, app_id, resp.text[:300])
            raise ApiError(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                "upstream_unavailable",
                f"the {app_id} service is unavailable; retry later",
            )
        return resp

    async def relay(self, app_id: str, method: str, path: str, **kwargs: Any) -> Response:
        return relayed(await self.call(app_id, method, path, **kwargs))


def relayed(resp: SidecarResponse) -> Response:
    """An app's answer as the gateway's HTTP answer, as it is (one error shape everywhere)."""
    return Response(
        resp.content, status_code=resp.status_code, media_type=resp.headers.get("content-type", "application/json")
    )


def ndjson_body(request: Request) -> AsyncIterator[bytes]:
    """The request's NDJSON body as a stream, to be passed on without holding it in memory; 415 for another type."""
    if request.headers.get("content-type", "").split(";")[0].strip() != NDJSON:
        raise ApiError(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", f"send {NDJSON}")
    return request.stream()


def _is_dapr_error(resp: SidecarResponse) -> bool:
    try:
        return "errorCode" in resp.json()
    except ValueError:
        return True
