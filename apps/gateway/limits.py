"""The gateway's edge limits: a body-size cap on every request, and a token bucket per tenant API key, shared by
the HTTP and gRPC APIs, so one tenant's runaway client cannot starve the others."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import Scope

from apps.gateway.keys import KeyResolver
from apps.gateway.settings import GatewaySettings
from apps.shared.limits import BodySizeLimit, Identify, RateLimit, TokenBuckets
from lemo.tenancy import split_key


async def authenticated_key_id(keys: KeyResolver, key: str) -> str | None:
    """The key's id when the key is valid. Buckets are per key id, and only a caller holding the secret draws on
    one: otherwise anyone who saw a key id could drain its tenant's bucket."""
    parts = split_key(key)
    if parts is None or await keys.resolve(key) is None:
        return None
    return parts[0]


def _tenant_key(app: FastAPI) -> Identify:
    async def identify(scope: Scope) -> str | None:
        key = next((v for k, v in scope["headers"] if k == b"x-api-key"), None)
        keys = getattr(app.state, "keys", None)  # set in the lifespan
        if key is None or keys is None:
            return None
        return await authenticated_key_id(keys, key.decode("latin-1"))

    return identify


def install_limits(app: FastAPI, settings: GatewaySettings) -> TokenBuckets | None:
    """Adds both limits to `app`; returns the per-key buckets (None when rate limiting is off) for the gRPC API."""
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.rate_limit_per_s <= 0:
        return None
    buckets = TokenBuckets(settings.rate_limit_per_s, settings.rate_limit_burst)
    app.add_middleware(RateLimit, buckets=buckets, identify=_tenant_key(app))
    return buckets
